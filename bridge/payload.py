"""Alertmanager's webhook payload (version 4), parsed into frozen dataclasses.

Parsing is pure: a decoded JSON value in, a :class:`Notification` out, or a :class:`PayloadError`
naming the field. Unknown fields are ignored, so payloads of Alertmanager 0.25 through 0.34 (which
add ``notification_reason`` and ``routeLabels``) are all accepted.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class AlertStatus(StrEnum):
    """An alert's (and a notification's) ``status``."""

    FIRING = "firing"
    RESOLVED = "resolved"


# Text JSON can carry but nothing downstream can: a lone surrogate (``"\\ud800"``) cannot be
# encoded to UTF-8 (the store, URLs, logs), and a NUL ends a C string (environment variables,
# command arguments). Alertmanager never sends either.
_UNUSABLE = re.compile("[\ud800-\udfff\x00]")
# SQLite stores signed 64-bit integers.
_MAX_COUNT = 2**63 - 1

_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$"
)


class PayloadError(ValueError):
    """The payload is not a valid Alertmanager webhook; ``field`` is where it went wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


@dataclass(frozen=True)
class Timestamp:
    """An RFC 3339 time kept to the nanosecond, so that identical times compare identical."""

    # UTC, nanosecond precision, fixed width: "2026-11-25T08:28:11.022000000Z".
    canonical: str
    # The same instant (microsecond precision) for arithmetic.
    at: datetime

    @property
    def is_zero(self) -> bool:
        """True for Go's zero time (``0001-01-01T00:00:00Z``), which means "not set"."""
        return self.at.year == 1


def parse_timestamp(text: str, field: str) -> Timestamp:
    """Parse an RFC 3339 timestamp with up to nanosecond precision."""
    match = _RFC3339.match(text)
    if match is None:
        raise PayloadError(field, f"expected an RFC 3339 time, got {text!r}")
    date, clock, fraction, zone = match.groups()
    nanos = (fraction or "").ljust(9, "0")
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        local = datetime.fromisoformat(f"{date}T{clock}.{nanos[:6]}{zone}")
        at = local.astimezone(UTC) if local.year > 1 else local
    except (ValueError, OverflowError) as err:
        raise PayloadError(field, f"invalid time {text!r}: {err}") from None
    return Timestamp(f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond:06d}{nanos[6:]}Z", at)


@dataclass(frozen=True)
class Alert:
    """One alert of a notification."""

    status: AlertStatus
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: Timestamp
    ends_at: Timestamp | None
    generator_url: str
    fingerprint: str

    @property
    def firing(self) -> bool:
        """True for a firing alert, False for a resolved one."""
        return self.status == AlertStatus.FIRING


@dataclass(frozen=True)
class Notification:
    """One webhook request from Alertmanager."""

    receiver: str
    status: AlertStatus
    alerts: tuple[Alert, ...]
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    external_url: str
    version: str
    group_key: str
    truncated_alerts: int


def _object(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadError(field, f"expected a JSON object, got {_json_kind(value)}")
    return value


def _string(body: Mapping[str, Any], key: str, field: str, required: bool = True) -> str:
    if key not in body or body[key] is None:
        if required:
            raise PayloadError(field, "is required")
        return ""
    value = body[key]
    if not isinstance(value, str):
        raise PayloadError(field, f"expected a string, got {_json_kind(value)}")
    return _usable(value, field)


def _usable(text: str, field: str) -> str:
    bad = _UNUSABLE.search(text)
    if bad is not None:
        what = "a NUL character" if bad[0] == "\x00" else "a lone UTF-16 surrogate"
        raise PayloadError(field, f"contains {what} (at offset {bad.start()})")
    return text


def _string_map(body: Mapping[str, Any], key: str, field: str, required: bool) -> dict[str, str]:
    if key not in body or body[key] is None:
        if required:
            raise PayloadError(field, "is required")
        return {}
    value = _object(body[key], field)
    for name, item in value.items():
        _usable(name, f"{field} (a name)")
        if not isinstance(item, str):
            raise PayloadError(f"{field}.{name}", f"expected a string, got {_json_kind(item)}")
        _usable(item, f"{field}.{name}")
    return dict(value)


def _status(body: Mapping[str, Any], field: str) -> AlertStatus:
    status = _string(body, "status", field)
    if status not in set(AlertStatus):
        raise PayloadError(field, f"expected 'firing' or 'resolved', got {status!r}")
    return AlertStatus(status)


def _alert(value: Any, field: str) -> Alert:
    body = _object(value, field)
    fingerprint = _string(body, "fingerprint", f"{field}.fingerprint")
    if not fingerprint:
        raise PayloadError(f"{field}.fingerprint", "must not be empty")
    ends_text = _string(body, "endsAt", f"{field}.endsAt", required=False)
    return Alert(
        status=_status(body, f"{field}.status"),
        labels=_string_map(body, "labels", f"{field}.labels", required=True),
        annotations=_string_map(body, "annotations", f"{field}.annotations", required=False),
        starts_at=parse_timestamp(
            _string(body, "startsAt", f"{field}.startsAt"), f"{field}.startsAt"
        ),
        ends_at=parse_timestamp(ends_text, f"{field}.endsAt") if ends_text else None,
        generator_url=_string(body, "generatorURL", f"{field}.generatorURL", required=False),
        fingerprint=fingerprint,
    )


def parse_alert(value: Any, field: str) -> Alert:
    """Validate one alert in the webhook's shape; raise PayloadError naming the bad field."""
    return _alert(value, field)


def parse_notification(value: Any) -> Notification:
    """Validate a decoded webhook body; raise PayloadError naming the first bad field."""
    body = _object(value, "")
    version = _string(body, "version", "version")
    if version != "4":
        raise PayloadError("version", f"unsupported payload version {version!r}; expected '4'")
    alerts = body.get("alerts")
    if alerts is None:
        raise PayloadError("alerts", "is required")
    if not isinstance(alerts, list):
        raise PayloadError("alerts", f"expected a JSON array, got {_json_kind(alerts)}")
    truncated = body.get("truncatedAlerts", 0)
    if truncated is None:
        truncated = 0
    if isinstance(truncated, bool) or not isinstance(truncated, int) or truncated < 0:
        raise PayloadError(
            "truncatedAlerts", f"expected a non-negative integer, got {_json_kind(truncated)}"
        )
    if truncated > _MAX_COUNT:
        raise PayloadError("truncatedAlerts", f"{truncated} is more than any group can hold")
    return Notification(
        receiver=_string(body, "receiver", "receiver"),
        status=_status(body, "status"),
        alerts=tuple(_alert(item, f"alerts[{index}]") for index, item in enumerate(alerts)),
        group_labels=_string_map(body, "groupLabels", "groupLabels", required=False),
        common_labels=_string_map(body, "commonLabels", "commonLabels", required=False),
        common_annotations=_string_map(
            body, "commonAnnotations", "commonAnnotations", required=False
        ),
        external_url=_string(body, "externalURL", "externalURL", required=False),
        version=version,
        group_key=_string(body, "groupKey", "groupKey", required=False),
        truncated_alerts=truncated,
    )


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value[:40]!r})"
    if isinstance(value, list):
        return "an array"
    return "an object"
