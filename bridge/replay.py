"""``drift-bridge replay``: what a webhook payload would cause, sending nothing."""

from typing import Any

from bridge.config import BridgeConfig, OnResolve
from bridge.payload import parse_notification
from bridge.prepare import alert_variables, prepare


def replay(config: BridgeConfig, body: Any) -> dict[str, Any]:
    """For each alert: the routes it matches and the exact request each would send.

    Nothing is recorded, so whether an alert would be a duplicate or inside a cooldown (which
    depends on what the bridge has seen) is not shown; the running bridge's audit API has that.
    """
    notification = parse_notification(body)
    alerts = []
    for index, alert in enumerate(notification.alerts):
        routes = []
        for route in config.routes_for(alert.labels):
            dispatch_id = f"drb-replay-{index}-{route.name}"
            variables = alert_variables(
                alert, notification, route, value_from=config.value_from, dispatch_id=dispatch_id
            )
            prepared = prepare(config, route, variables)
            if alert.firing:
                action = "dispatch (unless a duplicate or inside the cooldown)"
            elif route.on_resolve == OnResolve.DISPATCH:
                action = "close the episode and dispatch on resolve"
            else:
                action = "close the episode; nothing is sent"
            entry: dict[str, Any] = {
                "route": route.name,
                "target": route.target,
                "action": action,
                "dry_run": config.dry_run or route.dry_run,
            }
            if alert.firing or route.on_resolve == OnResolve.DISPATCH:
                if prepared.error is not None:
                    entry["error"] = prepared.error
                else:
                    entry["request"] = prepared.request
            routes.append(entry)
        alerts.append(
            {
                "index": index,
                "status": alert.status,
                "fingerprint": alert.fingerprint,
                "starts_at": alert.starts_at.canonical,
                "labels": dict(alert.labels),
                "routes": routes or "no route matches",
            }
        )
    return {"receiver": notification.receiver, "status": notification.status, "alerts": alerts}
