"""The HTTP endpoints of ``watch``: ``/metrics``, the monitor's status as JSON, and health."""

from dataclasses import asdict

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from markupsafe import escape
from prometheus_client import CollectorRegistry

from exporter.drift.monitor import Monitor
from exporter.http import metrics_app

_INDEX = """<!doctype html><title>drift-exporter watch</title>
<h1>drift-exporter watch: {model}</h1>
<p><a href="/metrics">/metrics</a> &middot; <a href="/api/status">/api/status</a></p>
"""


def create_watch_app(monitor: Monitor, registry: CollectorRegistry) -> Flask:
    """Build the WSGI app of ``watch`` around a running ``monitor``."""
    app = metrics_app(__name__, registry)

    @app.get("/")
    def index() -> ResponseReturnValue:
        return _INDEX.format(model=escape(monitor.model))

    @app.get("/api/status")
    def status() -> ResponseReturnValue:
        # Full error messages live here rather than in metric labels, which must stay few.
        return jsonify(asdict(monitor.status()))

    return app
