"""The shipped examples are valid: the config loads, the workflow declares what is sent."""

import re
from pathlib import Path

import yaml

from bridge.config import load_config
from bridge.payload import parse_notification
from bridge.prepare import alert_variables, prepare
from tests.support.fixtures import body

EXAMPLES = Path(__file__).resolve().parents[2] / "bridge" / "examples"


def example_config(tmp_path: Path) -> Path:
    """The example with its secret files pointed at real files in ``tmp_path``."""
    text = (EXAMPLES / "bridge.yml").read_text()
    for secret in sorted(set(re.findall(r"/etc/drift-bridge/[\w.]+", text))):
        local = tmp_path / Path(secret).name
        local.write_text("example-secret\n")
        text = text.replace(secret, str(local))
    text = text.replace("/var/lib/drift-bridge/bridge.db", str(tmp_path / "bridge.db"))
    path = tmp_path / "bridge.yml"
    path.write_text(text)
    return path


def test_the_example_config_is_valid(tmp_path: Path) -> None:
    config = load_config(example_config(tmp_path))
    assert set(config.targets) == {"jenkins", "github", "local"}
    assert config.routes[0].cooldown == 6 * 3600


def test_the_example_route_builds_a_jenkins_request_from_a_real_alert(tmp_path: Path) -> None:
    config = load_config(example_config(tmp_path))
    payload = body("firing-single-bearer")
    payload["alerts"][0]["annotations"]["drift_score"] = "0.27"
    notification = parse_notification(payload)
    (alert,) = notification.alerts
    route = config.routes_for(alert.labels)[0]
    variables = alert_variables(
        alert, notification, route, value_from=config.value_from, dispatch_id="drb-1"
    )
    prepared = prepare(config, route, variables)
    assert prepared.error is None
    assert prepared.request is not None
    assert prepared.request["url"] == (
        "https://jenkins.example.com/job/ml/job/retrain-model/buildWithParameters"
    )
    sent = prepared.request["form"]
    assert sent["MODEL"] == "fraud-detector"
    assert sent["DRIFT_SCORE"] == "0.27"
    assert sent["DISPATCH_ID"] == "drb-1"


def test_the_example_workflow_declares_every_input_the_example_route_sends(
    tmp_path: Path,
) -> None:
    config = load_config(example_config(tmp_path))
    workflow = yaml.safe_load((EXAMPLES / "github-workflow.yml").read_text())
    # PyYAML reads the key `on` as True.
    inputs = set(workflow[True]["workflow_dispatch"]["inputs"])
    assert inputs == set(config.routes[0].parameters) | {"dispatch_id"}
    assert "inputs.dispatch_id" in workflow["run-name"]


def test_the_example_jenkinsfile_declares_every_parameter_the_example_route_sends(
    tmp_path: Path,
) -> None:
    config = load_config(example_config(tmp_path))
    declared = set(re.findall(r"string\(name: '(\w+)'", (EXAMPLES / "Jenkinsfile").read_text()))
    assert declared == set(config.routes[0].parameters) | {"DISPATCH_ID"}
