"""The Flask application factory."""

from flask import Flask

from bridge.config import BridgeConfig
from bridge.dispatcher import Dispatcher
from bridge.follower import Follower
from bridge.store import Store
from bridge.web import alerts, audit, errors, ops, results
from bridge.web.state import Bridge


def create_app(
    config: BridgeConfig,
    store: Store,
    dispatcher: Dispatcher | None = None,
    follower: Follower | None = None,
) -> Flask:
    """Build the bridge's WSGI app around an open store (and this process's dispatcher)."""
    app = Flask("bridge")
    app.config["MAX_CONTENT_LENGTH"] = config.server.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["drift_bridge"] = Bridge(config, store, dispatcher, follower)
    errors.register(app)
    app.register_blueprint(alerts.blueprint)
    app.register_blueprint(audit.blueprint)
    app.register_blueprint(ops.blueprint)
    app.register_blueprint(results.blueprint)
    return app
