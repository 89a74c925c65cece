"""Bridge test plumbing: a config file on disk, the app, its store, a test client (fixtures,
registered in tests/conftest.py), and a bridge running in the test's process (:class:`Running`).
"""

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient

from bridge.config import BridgeConfig, load_config
from bridge.dispatcher import Dispatcher
from bridge.store import SQLiteStore
from bridge.store.opening import open_store
from bridge.web.app import create_app
from demo.harness.processes import wait_until
from tests.support.fixtures import body

TOKEN = "s3cret-token"  # the token in the captured fixtures' headers


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "bridge.token"
    path.write_text(TOKEN + "\n")
    return path


def base_config(token_file: Path, receiver_url: str = "http://127.0.0.1:9/hook") -> dict[str, Any]:
    """A complete config: bearer auth, a webhook target and a route for ModelDriftHigh."""
    return {
        "listen_address": "127.0.0.1:9912",
        "auth": {"type": "bearer", "token_file": str(token_file)},
        "store": {"path": "bridge.db"},
        "dispatch": {
            "poll_interval": "50ms",
            "retry": {"initial_delay": "100ms", "max_delay": "1s", "deadline": "1h"},
        },
        "targets": {"hook": {"type": "webhook", "url": receiver_url, "timeout": "2s"}},
        "routes": [
            {
                "name": "retrain",
                "matchers": ['alertname="ModelDriftHigh"'],
                "target": "hook",
                "parameters": {
                    "MODEL": "{{ labels.model }}",
                    "SUMMARY": "{{ annotations.summary }}",
                },
                "cooldown": "0s",
            }
        ],
    }


ConfigWriter = Callable[[dict[str, Any]], BridgeConfig]


@pytest.fixture
def write_config(tmp_path: Path) -> ConfigWriter:
    """Write a config dict to ``tmp_path/bridge.yml`` and load it the way ``serve`` does."""

    def write(data: dict[str, Any]) -> BridgeConfig:
        path = tmp_path / "bridge.yml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return load_config(path)

    return write


@pytest.fixture
def config_data(token_file: Path) -> dict[str, Any]:
    return base_config(token_file)


@pytest.fixture
def config(write_config: ConfigWriter, config_data: dict[str, Any]) -> BridgeConfig:
    return write_config(config_data)


@pytest.fixture
def store(config: BridgeConfig) -> Iterator[SQLiteStore]:
    store = SQLiteStore(config.store_path)
    yield store
    store.close()


@pytest.fixture
def app(config: BridgeConfig, store: SQLiteStore) -> Flask:
    """The app without a dispatcher: dispatches stay in the outbox for the test to inspect."""
    return create_app(config, store)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def auth_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


class Running:
    """An app with a running dispatcher, over a store; stopped at the end of the test."""

    def __init__(self, config: BridgeConfig) -> None:
        self.config = config
        self.store = open_store(config.store)
        self.dispatcher = Dispatcher(self.store, config)
        self.client: FlaskClient = create_app(config, self.store, self.dispatcher).test_client()

    def __enter__(self) -> "Running":
        self.dispatcher.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispatcher.stop(timeout=5)
        self.store.close()

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
