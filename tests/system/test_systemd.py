"""The systemd units of deploy/systemd/: valid for systemd, and hardened as the README says."""

import configparser
import subprocess
from pathlib import Path

import pytest
import yaml

from demo.harness.processes import require_binary

REPO = Path(__file__).resolve().parents[2]
UNITS = REPO / "deploy" / "systemd"
PREFIX = "/opt/drift-retrain-bridge"
VENV = REPO / ".venv"


def service(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((UNITS / name).read_text())
    return parser["Service"]


@pytest.mark.parametrize("name", ["drift-bridge.service", "drift-exporter@.service"])
def test_each_service_runs_hardened_as_its_own_user(name: str) -> None:
    unit = service(name)
    assert unit["User"] == unit["Group"] != "root"
    assert unit["Restart"] == "on-failure"
    assert unit["NoNewPrivileges"] == "yes"
    assert unit["ProtectSystem"] == "strict"
    assert unit["PrivateTmp"] == "yes"
    assert unit["CapabilityBoundingSet"] == ""
    assert unit["ExecStart"].startswith(f"{PREFIX}/bin/")


def test_the_bridge_can_write_its_store_and_nothing_else() -> None:
    """Under ProtectSystem=strict only the StateDirectory is writable: the store must be in it."""
    unit = service("drift-bridge.service")
    state = Path("/var/lib") / unit["StateDirectory"]
    assert unit["WorkingDirectory"] == str(state)
    assert "ReadWritePaths" not in unit
    example = yaml.safe_load((REPO / "bridge" / "examples" / "bridge.yml").read_text())
    assert Path(example["store"]["path"]).parent == state
    readme = (REPO / "README.md").read_text()
    assert f"store: {{path: {state}/bridge.db}}" in readme


@pytest.mark.integration
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    """``systemd-analyze verify`` with the programs where the units expect them (the venv's)."""
    for name in ("drift-bridge.service", "drift-exporter@.service"):
        text = (UNITS / name).read_text().replace(PREFIX, str(VENV))
        # A template is verified through an instance.
        (tmp_path / name.replace("@.", "@churn-classifier.")).write_text(text)
    units = sorted(str(path) for path in tmp_path.iterdir())
    result = subprocess.run(
        [require_binary("systemd-analyze"), "verify", "--man=no", *units],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # Unknown keys and unsafe settings are warnings with exit status 0: any output fails.
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""


@pytest.mark.integration
def test_systemd_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check is not vacuous: a misspelt key and a missing program are reported."""
    text = (UNITS / "drift-bridge.service").read_text().replace(PREFIX, str(VENV))
    broken = text.replace("NoNewPrivileges=yes", "NoNewPrivilege=yes")
    (tmp_path / "drift-bridge.service").write_text(broken)
    result = subprocess.run(
        [
            require_binary("systemd-analyze"),
            "verify",
            "--man=no",
            str(tmp_path / "drift-bridge.service"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Unknown key 'NoNewPrivilege'" in result.stderr
