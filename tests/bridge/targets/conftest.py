"""Fake servers started per test, and secrets written to files as an operator would."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bridge.targets.builders import write_secret
from tests.support.fakes.github import FakeGitHub
from tests.support.fakes.jenkins import FakeJenkins
from tests.support.fakes.webhook import FakeWebhook

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
