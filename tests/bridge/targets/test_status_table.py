"""The one status rule, run against every HTTP target through its fake server.

Each row injects one answer into the target's fake and checks what ``send`` makes of it. The
rows hold for every target; Jenkins' 303 *to a queue item* (a merged request) is a success that
test_jenkins covers, and a 303 anywhere else is a redirect like any other.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bridge.targets import DispatchError, FailureReason, Target
from tests.support.fakes.server import FakeServer
from tests.support.targets import make_job, target_from


@dataclass(frozen=True)
class Outcome:
    """Success, or a failure with whether it may be retried and why."""

    success: bool
    retryable: bool = False
    reason: FailureReason | None = None
    retry_after: float | None = None


SUCCESS = Outcome(True)


def fails(reason: FailureReason, retryable: bool, retry_after: float | None = None) -> Outcome:
    """A failed attempt."""
    return Outcome(False, retryable, reason, retry_after)


CLIENT = fails(FailureReason.CLIENT_ERROR, retryable=False)
AUTH = fails(FailureReason.AUTH_ERROR, retryable=False)
SERVER = fails(FailureReason.SERVER_ERROR, retryable=True)
ELSEWHERE = {"Location": "http://elsewhere.example/"}

TABLE: list[tuple[int, dict[str, str], Outcome]] = [
    (200, {}, SUCCESS),
    (201, {}, SUCCESS),
    (204, {}, SUCCESS),
    (301, ELSEWHERE, CLIENT),
    (302, ELSEWHERE, CLIENT),
    (303, ELSEWHERE, CLIENT),
    (307, ELSEWHERE, CLIENT),
    (308, ELSEWHERE, CLIENT),
    (400, {}, CLIENT),
    (401, {}, AUTH),
    (403, {}, AUTH),
    (404, {}, CLIENT),
    (408, {}, fails(FailureReason.TIMEOUT, retryable=True)),
    (409, {}, CLIENT),
    (422, {}, CLIENT),
    (429, {"Retry-After": "7"}, fails(FailureReason.RATE_LIMITED, True, retry_after=7.0)),
    (500, {}, SERVER),
    (502, {}, SERVER),
    (503, {"Retry-After": "12"}, fails(FailureReason.SERVER_ERROR, True, retry_after=12.0)),
    (504, {}, SERVER),
]

KINDS = ["jenkins", "github", "webhook"]


def settings(kind: str, fake: FakeServer, secrets: Path, timeout: str) -> dict[str, Any]:
    """A working configuration of ``kind`` against its fake."""
    if kind == "jenkins":
        return {
            "type": "jenkins",
            "url": fake.url,
            "job": "ml/retrain",
            "user": "bot",
            "api_token_file": str(secrets / "jenkins-token"),
            "timeout": timeout,
        }
    if kind == "github":
        return {
            "type": "github",
            "api_url": fake.url,
            "owner": "acme",
            "repo": "models",
            "workflow": "retrain.yml",
            "ref": "main",
            "token_file": str(secrets / "github-token"),
            # Its 400/422 fallback would send a second request: test_github covers it.
            "return_run_details": False,
            "timeout": timeout,
        }
    return {
        "type": "webhook",
        "url": f"{fake.url}/hooks/retrain",
        "bearer_token_file": str(secrets / "webhook-token"),
        "timeout": timeout,
    }


@pytest.fixture(params=KINDS)
def http_target(
    request: pytest.FixtureRequest, secrets_dir: Path
) -> tuple[str, Target, FakeServer]:
    """(kind, target, its fake) for each HTTP target, with a short timeout."""
    kind: str = request.param
    fake: FakeServer = request.getfixturevalue(kind)
    return kind, target_from(settings(kind, fake, secrets_dir, "300ms")), fake


@pytest.mark.parametrize(("status", "headers", "expected"), TABLE, ids=[str(r[0]) for r in TABLE])
def test_status_maps_to_success_or_retry_decision(
    http_target: tuple[str, Target, FakeServer],
    status: int,
    headers: dict[str, str],
    expected: Outcome,
) -> None:
    _, target, fake = http_target
    fake.fail_next(1, status, headers)

    request = target.prepare(make_job())
    if expected.success:
        result = target.send(request)
        assert result.status == status
        return
    with pytest.raises(DispatchError) as caught:
        target.send(request)

    assert caught.value.status == status
    assert caught.value.retryable is expected.retryable
    assert caught.value.reason == expected.reason
    assert caught.value.retry_after == expected.retry_after
    assert f"HTTP {status}" in caught.value.message
    assert len(fake.received) == 1


def test_connection_refused_is_retryable(http_target: tuple[str, Target, FakeServer]) -> None:
    _, target, fake = http_target
    request = target.prepare(make_job())
    fake.refuse_connections()

    with pytest.raises(DispatchError) as caught:
        target.send(request)

    assert caught.value.retryable is True
    assert caught.value.reason == FailureReason.CONNECTION
    assert "cannot connect" in caught.value.message


def test_server_back_after_refusing_is_sent_to(
    http_target: tuple[str, Target, FakeServer],
) -> None:
    _, target, fake = http_target
    request = target.prepare(make_job())
    fake.refuse_connections()
    with pytest.raises(DispatchError):
        target.send(request)

    fake.accept_connections()

    assert target.send(request).status in (200, 201, 204)


def test_slow_response_times_out_and_is_retryable(
    http_target: tuple[str, Target, FakeServer],
) -> None:
    _, target, fake = http_target
    fake.delay = 0.6

    with pytest.raises(DispatchError) as caught:
        target.send(target.prepare(make_job()))

    assert caught.value.retryable is True
    assert caught.value.reason == FailureReason.TIMEOUT
    assert "0.3s" in caught.value.message
