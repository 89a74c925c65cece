"""The README's snippets work when followed: its configs load, its workflow matches its route."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.config import load_config
from bridge.payload import parse_notification
from bridge.prepare import alert_variables, prepare
from tests.support.fixtures import body

README = Path(__file__).resolve().parents[2] / "README.md"


def section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"### {title}\n")
    end = text.find("\n#", start + 4)
    return text[start:end]


def yaml_blocks(text: str) -> list[Any]:
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.S)]


def bridge_config(snippet: dict[str, Any], tmp_path: Path) -> Path:
    """The README's targets and routes, as a whole config with its secret files in place."""
    for target in snippet["targets"].values():
        for key in [k for k in target if k.endswith("_file")]:
            secret = tmp_path / Path(target[key]).name
            secret.write_text("token-from-the-readme\n")
            target[key] = str(secret)
    path = tmp_path / "bridge.yml"
    path.write_text(yaml.safe_dump({"store": {"path": "bridge.db"}, **snippet}))
    return path


@pytest.mark.parametrize(
    ("title", "request_part"),
    [("Point it at Jenkins", "form"), ("Point it at GitHub Actions", "json")],
)
def test_the_target_snippets_load_and_build_a_request(
    tmp_path: Path, title: str, request_part: str
) -> None:
    (snippet,) = [b for b in yaml_blocks(section(title)) if "targets" in b]
    config = load_config(bridge_config(snippet, tmp_path))
    payload = body("firing-single-bearer")
    payload["alerts"][0]["annotations"]["drift_score"] = "0.27"
    notification = parse_notification(payload)
    (alert,) = notification.alerts
    (route,) = config.routes_for(alert.labels)
    prepared = prepare(
        config,
        route,
        alert_variables(alert, notification, route, value_from="drift_score", dispatch_id="drb-x"),
    )
    assert prepared.error is None, prepared.error
    assert prepared.request is not None
    sent = prepared.request[request_part]
    values = sent.get("inputs", sent)
    assert values["MODEL"] == "fraud-detector"
    assert values["DRIFT_SCORE"] == "0.27"


def test_the_workflow_snippet_declares_what_the_github_route_sends() -> None:
    blocks = yaml_blocks(section("Point it at GitHub Actions"))
    (workflow,) = [b for b in blocks if "jobs" in b]
    (snippet,) = [b for b in blocks if "targets" in b]
    inputs = set(workflow[True]["workflow_dispatch"]["inputs"])  # YAML reads `on` as True
    (route,) = snippet["routes"]
    assert inputs == set(route["parameters"]) | {"dispatch_id"}
    assert "inputs.dispatch_id" in workflow["run-name"]


def test_the_commands_the_readme_gives_exist_in_the_makefile() -> None:
    makefile = (README.parent / "Makefile").read_text()
    text = README.read_text()
    for target in ("demo", "test"):
        assert f"make {target}" in text
        assert re.search(rf"^{target}:", makefile, re.M)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_link_in_the_readme_leads_somewhere() -> None:
    text = README.read_text()
    anchors = {_slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith("#"):
            assert target[1:] in anchors, f"no heading for the link {target}"
        elif not target.startswith(("http://", "https://")):
            assert (README.parent / target).exists(), f"the README links to a missing {target}"


def test_the_code_map_names_every_module() -> None:
    text = README.read_text()
    code_map = text[text.index("### Code map") : text.index("## Quick start")]
    repo = README.parent
    modules = [
        path
        for package in ("common", "exporter", "bridge", "demo", "deploy")
        for path in (repo / package).rglob("*.py")
        if path.name != "__init__.py"
    ]
    missing = [str(p.relative_to(repo)) for p in modules if f"{p.name}" not in code_map]
    assert missing == []
