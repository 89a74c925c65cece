"""Target test plumbing: targets built from config the way the bridge builds them, jobs that look
like real alerts, and the fake servers and secret files target tests start from (fixtures,
registered in tests/conftest.py).
"""

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from bridge.config_reader import Reader
from bridge.targets import Job, Request, Target, build_target
from tests.support.fakes.github import FakeGitHub
from tests.support.fakes.jenkins import FakeJenkins
from tests.support.fakes.webhook import FakeWebhook


def target_from(settings: Mapping[str, Any], name: str = "t") -> Target:
    """Build a target that must be valid."""
    problems: list[str] = []
    target = build_target(name, Reader(dict(settings), "bridge.yml", problems, f"targets.{name}"))
    assert problems == []
    assert target is not None
    return target


def problems_of(settings: Mapping[str, Any], name: str = "t") -> list[str]:
    """The problems a target's settings produce (the target must then be unusable)."""
    problems: list[str] = []
    target = build_target(name, Reader(dict(settings), "bridge.yml", problems, f"targets.{name}"))
    assert (target is None) == bool(problems)
    return problems


def write_secret(directory: Path, name: str, value: str) -> str:
    """A secret file as an operator would write it (with a trailing newline)."""
    path = directory / name
    path.write_text(value + "\n")
    return str(path)


def alert_variables(dispatch_id: str = "drb-0001", **labels: str) -> dict[str, Any]:
    """Template variables as the bridge builds them from a firing ModelDriftHigh alert."""
    return {
        "labels": {"alertname": "ModelDriftHigh", "model": "churn", "team": "ml", **labels},
        "annotations": {"summary": "Drift above 0.25 for churn", "drift_score": "0.31"},
        "status": "firing",
        "starts_at": "2026-11-25T09:00:00.123456789Z",
        "ends_at": "",
        "fingerprint": "a1b2c3d4e5f60718",
        "generator_url": "http://prometheus:9090/graph?g0.expr=drift_score+%3E+0.25",
        "value": "0.31",
        "dispatch_id": dispatch_id,
        "route": "drift",
        "receiver": "drift-bridge",
        "external_url": "http://alertmanager:9093",
        "group_key": '{}:{alertname="ModelDriftHigh"}',
    }


def make_job(
    parameters: Mapping[str, str] | None = None, dispatch_id: str = "drb-0001", **labels: str
) -> Job:
    """A job for one dispatch, with the route's (already rendered) parameters."""
    return Job(
        dispatch_id,
        {"MODEL": "churn"} if parameters is None else dict(parameters),
        alert_variables(dispatch_id, **labels),
    )


def stored(request: Request) -> Request:
    """The request as it comes back from the audit trail: through JSON."""
    result: Request = json.loads(json.dumps(request))
    return result


JENKINS_TOKEN = "11d0c0ffee0123456789abcdef"
JENKINS_PASSWORD = "correct horse battery staple"
BUILD_TOKEN = "build-token-42"
GITHUB_TOKEN = "github_pat_11AAAAAAA0fakefakefake"


@pytest.fixture
def jenkins() -> Iterator[FakeJenkins]:
    """A Jenkins under /jenkins with users bot (API token) and alice (password), and ml/retrain."""
    with FakeJenkins(context_path="/jenkins") as fake:
        fake.add_user("bot", api_token=JENKINS_TOKEN)
        fake.add_user("alice", password=JENKINS_PASSWORD)
        fake.add_job("ml/retrain", {"MODEL": "", "DISPATCH_ID": ""}, token=BUILD_TOKEN)
        yield fake


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    """GitHub with acme/models and its retrain.yml workflow (inputs model, dispatch_id)."""
    with FakeGitHub(token=GITHUB_TOKEN) as fake:
        fake.add_workflow(
            "acme",
            "models",
            "retrain.yml",
            inputs=None,
            run_name="retrain {dispatch_id}",
            refs=("main", "release/churn"),
        )
        yield fake


@pytest.fixture
def webhook() -> Iterator[FakeWebhook]:
    """A generic endpoint answering 200."""
    with FakeWebhook() as fake:
        yield fake


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    """Every secret the tests use, one file each."""
    for name, value in {
        "jenkins-token": JENKINS_TOKEN,
        "jenkins-password": JENKINS_PASSWORD,
        "build-token": BUILD_TOKEN,
        "github-token": GITHUB_TOKEN,
        "webhook-token": "webhook-bearer-secret",
        "webhook-password": "webhook-basic-secret",
    }.items():
        write_secret(tmp_path, name, value)
    return tmp_path
