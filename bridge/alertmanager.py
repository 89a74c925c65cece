"""Alertmanager's API v2, for the alerts a notification left out (the receiver's ``max_alerts``).

A notification with ``truncatedAlerts > 0`` carries only the first alerts of its group. With
``alertmanager.url`` set, the bridge asks Alertmanager for the group's active alerts
(``GET /api/v2/alerts?active=true&silenced=false&inhibited=false&receiver=R&filter=...``, one
``filter`` per group label, in Alertmanager's matcher syntax) and decides those missing from the
notification like any other alert, in the same intake. A failed fetch never fails the intake: the
alerts present are recorded, the failure is logged, and the next notification of the group (at
``group_interval``) is fetched again. Resolved alerts that were left out cannot be fetched (the API
lists active alerts only); an episode left open that way only means an open row in the audit.
"""

import logging
from dataclasses import dataclass
from typing import Any

from bridge.config_reader import Reader
from bridge.credentials import redact
from bridge.payload import Alert, Notification, PayloadError, parse_alert
from bridge.targets.base import DispatchError, FailureReason
from bridge.targets.http import (
    BearerOrBasic,
    HttpSettings,
    apply_bearer_or_basic,
    read_base_url,
    read_bearer_or_basic,
    read_http_settings,
)

log = logging.getLogger(__name__)
_SERVER = FailureReason.SERVER_ERROR


def matcher(name: str, value: str) -> str:
    """``name="value"`` in Alertmanager's matcher syntax (quotes, backslashes, newlines escaped)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{name}="{escaped}"'


@dataclass(frozen=True)
class AlertmanagerAPI:
    """Where Alertmanager's API is, and how to authenticate to it.

    >>> api.group_alerts(notification)   # every active alert of the notification's group
    """

    url: str
    http: HttpSettings
    auth: BearerOrBasic = (None, None)

    def group_alerts(self, notification: Notification) -> list[Alert]:
        """The active, unsilenced, uninhibited alerts of ``notification``'s group and receiver."""
        params: list[tuple[str, str]] = [
            ("active", "true"),
            ("silenced", "false"),
            ("inhibited", "false"),
            # Already a regular expression: the webhook quotes the receiver's name for this.
            ("receiver", notification.receiver),
        ]
        params += [("filter", matcher(k, v)) for k, v in sorted(notification.group_labels.items())]
        url = f"{self.url}/api/v2/alerts"
        what = f"alertmanager {url}"
        headers = {"Accept": "application/json"}
        with self.http.session() as session:
            apply_bearer_or_basic(self.auth, session, headers, what)
            response = self.http.request(session, "GET", url, what, params=params, headers=headers)
        if response.status_code != 200:
            raise DispatchError(
                f"{what}: HTTP {response.status_code}", retryable=True, reason=_SERVER
            )
        try:
            body = response.json()
        except ValueError:
            raise DispatchError(
                f"{what}: the answer is not JSON", retryable=True, reason=_SERVER
            ) from None
        if not isinstance(body, list):
            raise DispatchError(
                f"{what}: expected a JSON array of alerts", retryable=True, reason=_SERVER
            )
        return [parse_alert(_as_webhook_alert(item), f"api[{i}]") for i, item in enumerate(body)]


def _as_webhook_alert(item: Any) -> Any:
    """An API v2 alert in the webhook's shape (``status`` is a string there)."""
    if not isinstance(item, dict):
        return item
    return {**item, "status": "firing"}


def missing_alerts(api: AlertmanagerAPI | None, notification: Notification) -> tuple[Alert, ...]:
    """The firing alerts of the group that ``notification`` left out; () when none or unknown."""
    if api is None or notification.truncated_alerts <= 0:
        return ()
    try:
        alerts = api.group_alerts(notification)
    except (DispatchError, PayloadError) as err:
        log.warning(
            "could not fetch %d alert(s) left out of group %s (max_alerts); the next "
            "notification of the group tries again: %s",
            notification.truncated_alerts,
            notification.group_key,
            redact(str(err)),
        )
        return ()
    present = {alert.fingerprint for alert in notification.alerts}
    return tuple(alert for alert in alerts if alert.fingerprint not in present)


def from_config(reader: Reader) -> AlertmanagerAPI | None:
    """The ``alertmanager`` section: ``url``, auth as for webhook targets, timeout, TLS."""
    if not reader.has("url"):
        reader.reject_unknown()
        return None
    problems = len(reader.problems)
    url = read_base_url(reader, "url")
    auth = read_bearer_or_basic(reader)
    http = read_http_settings(reader, default_timeout=5.0)
    reader.reject_unknown()
    if len(reader.problems) > problems or url is None:
        return None
    return AlertmanagerAPI(url.rstrip("/"), http, auth)
