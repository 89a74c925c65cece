"""A bridge running in the test's process: the app, its store and a real dispatcher."""

from datetime import datetime
from typing import Any

from flask.testing import FlaskClient

from bridge.config import BridgeConfig
from bridge.dispatcher import Dispatcher
from bridge.store import SQLiteStore
from bridge.web.app import create_app
from demo.harness.processes import wait_until
from tests.bridge.conftest import auth_headers
from tests.support.fixtures import body


class Running:
    """An app with a running dispatcher, over a store; stopped at the end of the test."""

    def __init__(self, config: BridgeConfig) -> None:
        self.config = config
        self.store = SQLiteStore(config.store_path)
        self.dispatcher = Dispatcher(self.store, config)
        self.client: FlaskClient = create_app(config, self.store, self.dispatcher).test_client()

    def __enter__(self) -> "Running":
        self.dispatcher.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispatcher.stop(timeout=5)

    def fire(self, name: str = "firing-single-bearer") -> str:
        response = self.client.post("/alerts", json=body(name), headers=auth_headers())
        assert response.status_code == 200
        dispatch_id: str = response.get_json()["alerts"][0]["dispatch_id"]
        return dispatch_id

    def trail(self, dispatch_id: str) -> dict[str, Any]:
        response = self.client.get(f"/api/dispatches/{dispatch_id}", headers=auth_headers())
        assert response.status_code == 200
        trail: dict[str, Any] = response.get_json()
        return trail

    def wait_state(self, dispatch_id: str, state: str, timeout: float = 10) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            trail = self.trail(dispatch_id)
            return trail if trail["state"] == state else None

        return wait_until(
            probe,
            timeout,
            f"dispatch {dispatch_id} to be {state}",
            interval=0.05,
        )


def seconds(iso: str) -> float:
    """An RFC 3339 time from the audit API as Unix seconds."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
