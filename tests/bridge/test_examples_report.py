"""The example workflow's and Jenkinsfile's last step really reports to a running bridge.

The shell each of them runs is taken from the example file and run with bash, curl and jq
against the bridge's HTTP API, with the environment GitHub or Jenkins would give it.
"""

import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from werkzeug.serving import make_server

from bridge.config import BridgeConfig
from bridge.store import SQLiteStore
from bridge.web.app import create_app
from tests.support.bridge import TOKEN, auth_headers
from tests.support.fixtures import body

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "bridge" / "examples"


def workflow_report_script() -> str:
    """The ``run`` of the example workflow's reporting step."""
    workflow = yaml.safe_load((EXAMPLES / "github-workflow.yml").read_text())
    [step] = [
        s for s in workflow["jobs"]["retrain"]["steps"] if "drift-bridge" in s.get("name", "")
    ]
    assert step["if"] == "always()"
    return str(step["run"])


def jenkinsfile_report_script() -> str:
    """The ``sh '''...'''`` block in the example Jenkinsfile's ``post { always }``."""
    text = (EXAMPLES / "Jenkinsfile").read_text()
    [script] = re.findall(r"sh '''\n(.*?)'''", text.split("post {", 1)[1], re.S)
    return str(script)


@pytest.fixture
def live_bridge(config: BridgeConfig, store: SQLiteStore) -> Iterator[tuple[str, Flask]]:
    """The bridge's app served on a free loopback port: (base URL, app)."""
    app = create_app(config, store)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}", app
    server.shutdown()
    thread.join()


@pytest.mark.parametrize(
    ("script", "status", "result"),
    [
        (workflow_report_script, "success", "succeeded"),
        (workflow_report_script, "failure", "failed"),
        (jenkinsfile_report_script, "SUCCESS", "succeeded"),
        (jenkinsfile_report_script, "ABORTED", "cancelled"),
    ],
)
def test_the_examples_last_step_reports_the_result_and_model_version(
    live_bridge: tuple[str, Flask], tmp_path: Path, script: Any, status: str, result: str
) -> None:
    url, app = live_bridge
    client = app.test_client()
    fired = client.post("/alerts", json=body("firing-single-bearer"), headers=auth_headers())
    dispatch_id = fired.get_json()["alerts"][0]["dispatch_id"]
    (tmp_path / "model-version.txt").write_text("fraud-detector:2026-11-27.3\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "BRIDGE_URL": url,
        "BRIDGE_TOKEN": TOKEN,
        "DISPATCH_ID": dispatch_id,
        "JOB_STATUS": status,
        "RUN_URL": "https://ci.example.com/job/retrain/7/",
    }

    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    run = client.get(f"/api/dispatches/{dispatch_id}", headers=auth_headers()).get_json()["run"]

    assert done.returncode == 0, done.stderr
    assert run["result"] == result
    assert run["model_version"] == "fraud-detector:2026-11-27.3"
    assert run["reported_url"] == "https://ci.example.com/job/retrain/7/"
