"""The webhook requests captured from a real Alertmanager 0.25 (see shared/fixtures)."""

import copy
import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
# Copied from the project's shared fixtures so that a fresh clone tests the same payloads.
FIXTURES = REPO / "tests" / "fixtures" / "alertmanager-0.25"


def captured(name: str) -> dict[str, Any]:
    """A captured request: ``{"path", "headers", "body"}``."""
    request: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return request


def body(name: str) -> dict[str, Any]:
    """The JSON body of a captured request (a fresh copy to modify)."""
    return copy.deepcopy(captured(name)["body"])


ALL = sorted(path.stem for path in FIXTURES.glob("*.json"))
