"""The exporter's HTTP endpoints: ``/metrics``, model readings, and retraining."""

from dataclasses import asdict

from flask import Flask, abort, jsonify
from flask.typing import ResponseReturnValue
from prometheus_client import CollectorRegistry

from exporter.http import metrics_app
from exporter.simulation.simulator import Simulator, UnknownModelError

_INDEX = """<!doctype html><title>drift-exporter</title>
<h1>drift-exporter</h1>
<p><a href="/metrics">/metrics</a> &middot; <a href="/api/models">/api/models</a></p>
<p>Simulated day {day} of {days}.</p>
"""


def create_app(simulator: Simulator, registry: CollectorRegistry) -> Flask:
    """Build the exporter's WSGI app around a running ``simulator``."""
    app = metrics_app(__name__, registry)

    @app.get("/")
    def index() -> ResponseReturnValue:
        return _INDEX.format(day=simulator.day, days=simulator.days)

    @app.get("/api/models")
    def models() -> ResponseReturnValue:
        return jsonify(
            day=simulator.day,
            date=simulator.date.isoformat(),
            models=[asdict(reading) for reading in simulator.readings()],
        )

    @app.post("/api/models/<name>/retrain")
    def retrain(name: str) -> ResponseReturnValue:
        try:
            reading = simulator.retrain(name)
        except UnknownModelError:
            known = ", ".join(simulator.model_names())
            abort(404, f"unknown model {name!r} (simulated: {known})")
        return jsonify(day=simulator.day, model=asdict(reading))

    @app.errorhandler(404)
    @app.errorhandler(405)
    def http_error(err: Exception) -> ResponseReturnValue:
        code = getattr(err, "code", 500)
        return jsonify(error=getattr(err, "description", str(err))), code

    return app
