"""``/healthz``, ``/readyz`` and ``/metrics``."""

from flask import Blueprint, Response, jsonify
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from bridge.collector import BridgeCollector
from bridge.store import StoreError
from bridge.web.state import current_bridge

blueprint = Blueprint("ops", __name__)


@blueprint.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process answers."""
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Ready when the store answers and this process's dispatcher runs."""
    state = current_bridge()
    checks = {"store": "ok", "dispatcher": "ok"}
    try:
        state.store.ping()
    except StoreError as err:
        checks["store"] = str(err)
    if state.dispatcher is None or not state.dispatcher.alive():
        checks["dispatcher"] = "not running"
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503


@blueprint.get("/metrics")
def metrics() -> ResponseReturnValue:
    """Prometheus metrics, read from the store so every process reports the same numbers."""
    state = current_bridge()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BridgeCollector(state.store, state.config))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
