"""The closed loop's test setup: fake Jenkins and GitHub whose runs can be followed, and a
bridge config with a target for each (``ci``: Jenkins, ``gh``: GitHub)."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.config import BridgeConfig, load_config
from tests.support.fakes.github import FakeGitHub
from tests.support.fakes.jenkins import FakeJenkins

JENKINS_TOKEN = "jenkins-api-token"
GITHUB_TOKEN = "github-token"


@pytest.fixture
def fake_jenkins() -> Iterator[FakeJenkins]:
    """Jenkins with ml/retrain (MODEL, DISPATCH_ID) and user bot with an API token."""
    with FakeJenkins() as fake:
        fake.add_user("bot", api_token=JENKINS_TOKEN)
        fake.add_job("ml/retrain", {"MODEL": "", "DISPATCH_ID": ""})
        yield fake


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """GitHub with acme/models retrain.yml whose run-name carries the dispatch id."""
    with FakeGitHub(token=GITHUB_TOKEN) as fake:
        fake.add_workflow("acme", "models", "retrain.yml", run_name="Retrain {dispatch_id}")
        yield fake


def loop_config(
    tmp_path: Path, base: dict[str, Any], jenkins: FakeJenkins, github: FakeGitHub, target: str
) -> dict[str, Any]:
    """``base`` with Jenkins (``ci``) and GitHub (``gh``) targets, its route to ``target``."""
    (tmp_path / "jenkins-token").write_text(JENKINS_TOKEN)
    (tmp_path / "github-token").write_text(GITHUB_TOKEN)
    data = dict(base)
    data["targets"] = {
        "ci": {
            "type": "jenkins",
            "url": jenkins.url,
            "job": "ml/retrain",
            "user": "bot",
            "api_token_file": str(tmp_path / "jenkins-token"),
            "delay": "0s",
            "timeout": "2s",
        },
        "gh": {
            "type": "github",
            "api_url": github.url,
            "owner": "acme",
            "repo": "models",
            "workflow": "retrain.yml",
            "ref": "main",
            "token_file": str(tmp_path / "github-token"),
            "timeout": "2s",
        },
    }
    data["routes"][0]["target"] = target
    data["routes"][0]["parameters"] = {"MODEL": "{{ labels.model }}"}
    data["follow"] = {"poll_interval": "50ms", "lease": "5s"}
    return data


LoopConfig = Callable[..., BridgeConfig]


@pytest.fixture
def make_loop_config(
    tmp_path: Path,
    config_data: dict[str, Any],
    fake_jenkins: FakeJenkins,
    fake_github: FakeGitHub,
) -> LoopConfig:
    """make(target, follow={...}, dispatch={...}, **route_settings) -> a loaded BridgeConfig."""

    def make(
        target: str,
        follow: dict[str, Any] | None = None,
        dispatch: dict[str, Any] | None = None,
        **route: Any,
    ) -> BridgeConfig:
        data = loop_config(tmp_path, config_data, fake_jenkins, fake_github, target)
        data["routes"][0].update(route)
        data["follow"].update(follow or {})
        data["dispatch"].update(dispatch or {})
        path = tmp_path / "bridge.yml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return load_config(path)

    return make
