"""Targets built from config the way the bridge builds them, and jobs that look like real alerts."""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bridge.config_reader import Reader
from bridge.targets import Job, Request, Target, build_target


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
