"""Slow and idle clients do not stop /alerts (the shipped server, as users run it)."""

import time
from pathlib import Path

import pytest
import requests
import yaml

from demo.harness.processes import free_port
from demo.harness.stack import bridge_process
from tests.support.bridge import TOKEN, base_config
from tests.support.fixtures import body
from tests.support.slow_clients import Attack

pytestmark = pytest.mark.integration


def test_a_webhook_is_answered_while_many_sockets_trickle_or_sit_idle(tmp_path: Path) -> None:
    """96 slow sockets: six times the threads of the shipped 2 x 8 (gthread: no answer in 20 s)."""
    port = free_port()
    token = tmp_path / "bridge.token"
    token.write_text(TOKEN)
    data = base_config(token)
    data["listen_address"] = f"127.0.0.1:{port}"
    data["dry_run"] = True
    config = tmp_path / "bridge.yml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    with bridge_process(config, tmp_path) as bridge, Attack(port, 96) as attack:
        bridge.wait_http(f"http://127.0.0.1:{port}/readyz")
        time.sleep(2)  # every slow socket connected and sending
        assert attack.open == 96
        response = requests.post(
            f"http://127.0.0.1:{port}/alerts",
            json=body("firing-single-bearer"),
            headers={"Authorization": f"Bearer {TOKEN}", "Connection": "close"},
            timeout=20,
        )
        assert response.status_code == 200
