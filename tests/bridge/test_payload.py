"""Parsing Alertmanager's webhook payload: real 0.25 payloads, newer fields, bad input."""

from typing import Any

import pytest

from bridge.payload import PayloadError, parse_notification, parse_timestamp
from tests.support.fixtures import ALL, body


@pytest.mark.parametrize("name", ALL)
def test_every_captured_alertmanager_payload_parses(name: str) -> None:
    notification = parse_notification(body(name))
    assert notification.version == "4"
    assert notification.alerts
    for alert in notification.alerts:
        assert alert.status == notification.alerts[0].status
        assert alert.labels["alertname"] == "ModelDriftHigh"
        assert alert.fingerprint


def test_grouped_payload_keeps_each_alert() -> None:
    notification = parse_notification(body("firing-grouped"))
    assert [a.labels["model"] for a in notification.alerts] == [
        "churn-classifier",
        "fraud-detector",
    ]
    assert [a.fingerprint for a in notification.alerts] == ["74cbc50d1e000baa", "b78fc0eb9a264175"]
    assert notification.common_labels.get("model") is None


def test_firing_and_resolved_notifications_of_an_episode_share_its_identity() -> None:
    firing = parse_notification(body("firing-single-bearer")).alerts[0]
    resolved = parse_notification(body("resolved-single-bearer")).alerts[0]
    assert (firing.fingerprint, firing.starts_at) == (resolved.fingerprint, resolved.starts_at)
    assert firing.firing
    assert not resolved.firing
    assert firing.ends_at is not None
    assert firing.ends_at.is_zero
    assert resolved.ends_at is not None
    assert not resolved.ends_at.is_zero


def test_truncated_alerts_are_reported() -> None:
    assert parse_notification(body("firing-truncated-basic-auth")).truncated_alerts == 1


def test_fields_of_newer_alertmanagers_are_accepted() -> None:
    payload = body("firing-single-bearer")
    payload["notification_reason"] = "repeat interval elapsed"  # 0.32+
    payload["routeLabels"] = {"team": "ml"}  # 0.34+
    payload["alerts"][0]["somethingNew"] = {"nested": [1, 2]}
    assert parse_notification(payload).alerts[0].labels["model"] == "fraud-detector"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("2026-11-25T08:28:11.022Z", "2026-11-25T08:28:11.022000000Z"),
        ("2026-11-25T09:28:11.022+01:00", "2026-11-25T08:28:11.022Z"),
        ("2026-11-25T08:28:11Z", "2026-11-25T08:28:11.000Z"),
    ],
)
def test_equal_instants_have_one_canonical_form(a: str, b: str) -> None:
    assert parse_timestamp(a, "t").canonical == parse_timestamp(b, "t").canonical


def test_nanoseconds_are_kept() -> None:
    a = parse_timestamp("2026-11-25T08:28:11.022000001Z", "t")
    b = parse_timestamp("2026-11-25T08:28:11.022000002Z", "t")
    assert a.canonical != b.canonical
    assert a.canonical == "2026-11-25T08:28:11.022000001Z"


def mutate(path: str, value: Any) -> dict[str, Any]:
    payload = body("firing-grouped")
    *parents, last = path.split(".")
    node: Any = payload
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is ...:
        del node[int(last) if last.isdigit() else last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return payload


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("version", "3", "version: unsupported payload version '3'; expected '4'"),
        ("version", ..., "version: is required"),
        ("alerts", ..., "alerts: is required"),
        ("alerts", {"a": 1}, "alerts: expected a JSON array, got an object"),
        ("status", "pending", "status: expected 'firing' or 'resolved', got 'pending'"),
        ("receiver", 7, "receiver: expected a string, got a number (7)"),
        ("truncatedAlerts", -1, "truncatedAlerts: expected a non-negative integer"),
        ("truncatedAlerts", "2", "truncatedAlerts: expected a non-negative integer"),
        ("commonLabels", [], "commonLabels: expected a JSON object, got an array"),
        ("alerts.1.labels.model", 3, "alerts[1].labels.model: expected a string, got a number"),
        ("alerts.1.labels", ..., "alerts[1].labels: is required"),
        ("alerts.0.fingerprint", ..., "alerts[0].fingerprint: is required"),
        ("alerts.0.fingerprint", "", "alerts[0].fingerprint: must not be empty"),
        ("alerts.0.startsAt", "yesterday", "alerts[0].startsAt: expected an RFC 3339 time"),
        ("alerts.1.status", None, "alerts[1].status: is required"),
        ("alerts.1.annotations.summary", True, "alerts[1].annotations.summary: expected a string"),
        ("alerts.0", "x", "alerts[0]: expected a JSON object, got a string ('x')"),
    ],
)
def test_bad_payloads_name_the_field(path: str, value: Any, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_notification(mutate(path, value))
    assert str(caught.value).startswith(message)


def test_a_json_array_is_not_a_notification() -> None:
    with pytest.raises(PayloadError, match="expected a JSON object, got an array"):
        parse_notification([])
