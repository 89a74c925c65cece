"""One notification in: every alert decided and recorded in one transaction, before the 2xx.

A drift episode is one firing alert, identified by its fingerprint and startsAt, on one route.
Its first firing notification creates exactly one dispatch; resends, repeat notifications and
duplicates from other Alertmanagers are recorded as duplicates. The store's unique constraint
makes this hold across threads, processes and restarts.
"""

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from bridge.alerts import Alert, Notification
from bridge.config import BridgeConfig, Route
from bridge.jobs import Prepared, alert_variables, new_dispatch_id, prepare
from bridge.store import Store, Transaction
from bridge.store.records import (
    Decision,
    DispatchState,
    Episode,
    EpisodeKey,
    NewDispatch,
    NewEpisode,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertOutcome:
    """The decision about one alert on one route."""

    index: int
    fingerprint: str
    status: str
    route: str | None
    target: str | None
    decision: Decision
    reason: str
    dispatch_id: str | None = None
    dispatch_state: str | None = None


@dataclass(frozen=True)
class IntakeResult:
    """What one notification caused."""

    notification_id: int
    outcomes: list[AlertOutcome]

    @property
    def dispatches_created(self) -> int:
        """How many dispatches now wait in the outbox."""
        return sum(o.dispatch_state == DispatchState.PENDING for o in self.outcomes)


def record_notification(
    store: Store,
    config: BridgeConfig,
    notification: Notification,
    payload: str,
    remote_addr: str | None = None,
    user_agent: str | None = None,
    now: float | None = None,
) -> IntakeResult:
    """Decide about every alert and record it all atomically; raises StoreError if it cannot."""
    now = time.time() if now is None else now

    def decide(txn: Transaction) -> tuple[int, list[AlertOutcome]]:
        outcomes: list[AlertOutcome] = []
        notification_id = txn.add_notification(notification, now, payload, remote_addr, user_agent)
        txn.count("drift_bridge_notifications_total", {"outcome": "accepted"})
        if notification.truncated_alerts:
            txn.count("drift_bridge_truncated_alerts_total", {}, notification.truncated_alerts)
        for index, alert in enumerate(notification.alerts):
            case = _Case(txn, config, notification, notification_id, index, alert, now)
            routes = config.routes_for(alert.labels)
            if not routes:
                outcomes.append(
                    case.decided(
                        None, None, Decision.NO_ROUTE, "no route matches the alert's labels"
                    )
                )
            decide_alert = _decide_firing if alert.firing else _decide_resolved
            outcomes.extend(decide_alert(case, route) for route in routes)
        return notification_id, outcomes

    notification_id, outcomes = store.atomically(decide)
    if notification.truncated_alerts:
        log.warning(
            "notification %d: Alertmanager left out %d alert(s) (max_alerts); group_key=%s",
            notification_id,
            notification.truncated_alerts,
            notification.group_key,
        )
    for outcome in outcomes:
        log.info(
            "decision=%s route=%s target=%s fingerprint=%s dispatch_id=%s notification=%d: %s",
            outcome.decision,
            outcome.route or "-",
            outcome.target or "-",
            outcome.fingerprint,
            outcome.dispatch_id or "-",
            notification_id,
            outcome.reason,
        )
    return IntakeResult(notification_id, outcomes)


def _cooldown_key(route: Route, alert: Alert) -> str:
    return json.dumps(
        {name: alert.labels.get(name, "") for name in route.cooldown_by},
        sort_keys=True,
        separators=(",", ":"),
    )


@dataclass(frozen=True)
class _Case:
    """One alert of one notification, being decided inside the intake transaction."""

    txn: Transaction
    config: BridgeConfig
    notification: Notification
    notification_id: int
    index: int
    alert: Alert
    now: float

    def decided(
        self,
        route: Route | None,
        episode: Episode | None,
        decision: Decision,
        reason: str,
        dispatch_id: str | None = None,
        dispatch_state: str | None = None,
    ) -> AlertOutcome:
        """Record the decision (and count it); return it for the response and the log."""
        alert = self.alert
        outcome = AlertOutcome(
            self.index,
            alert.fingerprint,
            alert.status,
            None if route is None else route.name,
            None if route is None else route.target,
            decision,
            reason,
            dispatch_id,
            dispatch_state,
        )
        self.txn.add_decision(
            self.notification_id,
            self.index,
            alert.fingerprint,
            alert.starts_at.canonical,
            alert.status,
            outcome.route,
            decision,
            reason,
            None if episode is None else episode.id,
            dispatch_id,
            self.now,
        )
        self.txn.count("drift_bridge_alerts_total", {"decision": decision})
        return outcome


def _decide_firing(case: _Case, route: Route) -> AlertOutcome:
    alert, txn = case.alert, case.txn
    key = EpisodeKey(route.name, alert.fingerprint, alert.starts_at.canonical)
    cooldown_key = _cooldown_key(route, alert)
    # Writers are serialised (one transaction at a time), so looking first and inserting after
    # cannot race; the store's unique key on the episode would refuse a second one anyway.
    episode = txn.find_episode(key)
    if episode is not None:
        return case.decided(
            route,
            episode,
            Decision.DUPLICATE,
            f"episode {episode.id} (started {key.starts_at}) already seen: {episode.outcome}",
            episode.dispatch_id,
        )

    def new_episode(outcome: str, dispatch_id: str | None) -> Episode:
        return txn.add_episode(
            NewEpisode(
                key,
                dict(alert.labels),
                cooldown_key,
                "firing",
                outcome,
                dispatch_id,
                case.notification_id,
                case.now,
            )
        )

    if route.cooldown > 0:
        last = txn.last_dispatch(route.name, cooldown_key)
        if last is not None and case.now - last[0] < route.cooldown:
            return case.decided(
                route,
                new_episode("cooldown_skipped", None),
                Decision.COOLDOWN_SKIPPED,
                f"within the route's cooldown of {route.cooldown:g}s for {cooldown_key}: "
                f"dispatch {last[1]} was {case.now - last[0]:.0f}s ago",
            )
    planned = _plan_dispatch(case, route)
    episode = new_episode(_EPISODE_OUTCOME[planned.state], planned.id)
    _add_dispatch(case, route, planned, episode, "firing")
    return case.decided(
        route,
        episode,
        Decision.NEW_EPISODE,
        f"new episode: dispatch {planned.state}",
        planned.id,
        planned.state,
    )


def _decide_resolved(case: _Case, route: Route) -> AlertOutcome:
    alert, txn = case.alert, case.txn
    key = EpisodeKey(route.name, alert.fingerprint, alert.starts_at.canonical)
    ends_at = alert.ends_at.canonical if alert.ends_at else None
    episode = txn.find_episode(key)
    if episode is None:
        episode = txn.add_episode(
            NewEpisode(
                key,
                dict(alert.labels),
                _cooldown_key(route, alert),
                "resolved",
                "resolved_before_firing",
                None,
                case.notification_id,
                case.now,
                case.now,
                ends_at,
            )
        )
        return case.decided(
            route,
            episode,
            Decision.RESOLVED_UNKNOWN,
            "resolved before any firing notification reached the bridge: nothing dispatched",
        )
    if not txn.close_episode(episode.id, case.now, ends_at):
        return case.decided(
            route,
            episode,
            Decision.RESOLVED_DUPLICATE,
            f"episode {episode.id} already resolved",
            episode.dispatch_id,
        )
    if route.on_resolve == "dispatch" and episode.dispatch_id is not None:
        planned = _plan_dispatch(case, route)
        _add_dispatch(case, route, planned, episode, "resolved")
        return case.decided(
            route,
            episode,
            Decision.RESOLVED,
            f"episode {episode.id} closed; resolve dispatch {planned.state}",
            planned.id,
            planned.state,
        )
    return case.decided(
        route, episode, Decision.RESOLVED, f"episode {episode.id} closed", episode.dispatch_id
    )


_EPISODE_OUTCOME = {
    DispatchState.PENDING: "dispatched",
    DispatchState.DRY_RUN: "dry_run",
    DispatchState.DEAD: "invalid",
}


@dataclass(frozen=True)
class _Planned:
    id: str
    state: DispatchState
    variables: dict[str, Any]
    prepared: Prepared


def _plan_dispatch(case: _Case, route: Route) -> _Planned:
    config = case.config
    dispatch_id = new_dispatch_id()
    variables = alert_variables(
        case.alert, case.notification, route, config.value_from, dispatch_id
    )
    prepared = prepare(config, route, variables)
    if prepared.error is not None:
        state = DispatchState.DEAD
    elif config.dry_run or route.dry_run:
        state = DispatchState.DRY_RUN
    else:
        state = DispatchState.PENDING
    return _Planned(dispatch_id, state, variables, prepared)


def _add_dispatch(
    case: _Case, route: Route, planned: _Planned, episode: Episode, kind: str
) -> None:
    target = case.config.targets.get(route.target)
    error = planned.prepared.error
    case.txn.add_dispatch(
        NewDispatch(
            id=planned.id,
            episode_id=episode.id,
            kind=kind,
            route=route.name,
            target=route.target,
            target_type=target.type if target is not None else "unknown",
            state=planned.state,
            context=planned.variables,
            request=planned.prepared.request,
            error=error,
            reason="invalid_request" if error is not None else None,
            created_at=case.now,
            deadline_at=case.now + case.config.dispatch.retry.deadline,
        )
    )
    outcome = "created" if planned.state == DispatchState.PENDING else planned.state.value
    case.txn.count("drift_bridge_dispatches_total", {"target": route.target, "outcome": outcome})
    if error is not None:
        log.error(
            "dispatch_id=%s route=%s target=%s fingerprint=%s: cannot build the request: %s",
            planned.id,
            route.name,
            route.target,
            case.alert.fingerprint,
            error,
        )
