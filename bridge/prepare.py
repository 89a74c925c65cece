"""From an alert and a route to the exact request a target will send."""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.config import BridgeConfig, Route
from bridge.payload import Alert, Notification
from bridge.targets import DispatchError, Job, Request
from bridge.templating import TemplateError, render_all


def new_dispatch_id() -> str:
    """A unique dispatch id, passed to the job so that its run can be found later."""
    return f"drb-{uuid.uuid4().hex[:20]}"


def alert_variables(
    alert: Alert, notification: Notification, route: Route, *, value_from: str, dispatch_id: str
) -> dict[str, Any]:
    """The variables templates see; stored with the dispatch so a retry can render again."""
    variables: dict[str, Any] = {
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "status": alert.status,
        "starts_at": alert.starts_at.canonical,
        "ends_at": alert.ends_at.canonical if alert.ends_at and not alert.ends_at.is_zero else "",
        "fingerprint": alert.fingerprint,
        "generator_url": alert.generator_url,
        "dispatch_id": dispatch_id,
        "route": route.name,
        "receiver": notification.receiver,
        "external_url": notification.external_url,
        "group_key": notification.group_key,
    }
    # The drift value: the annotation the alert rule writes it to, else a label of that name.
    # Left out when absent, so that a template using it fails with a clear message.
    value = alert.annotations.get(value_from, alert.labels.get(value_from))
    if value is not None:
        variables["value"] = value
    return variables


@dataclass(frozen=True)
class Prepared:
    """A dispatch's request, or why it could not be built."""

    request: Request | None
    error: str | None


def prepare(config: BridgeConfig, route: Route, variables: Mapping[str, Any]) -> Prepared:
    """Render the route's parameters and let its target describe the request."""
    target = config.targets.get(route.target)
    if target is None:
        return Prepared(None, f"target {route.target!r} is not configured any more")
    try:
        parameters = render_all(route.parameters, variables)
        request = target.prepare(Job(str(variables["dispatch_id"]), parameters, variables))
    except TemplateError as err:
        return Prepared(None, str(err))
    except DispatchError as err:
        return Prepared(None, err.message)
    return Prepared(request, None)
