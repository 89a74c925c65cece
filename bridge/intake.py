"""One notification in: every alert decided and recorded in one transaction, before the 2xx.

A drift episode is one firing alert, identified by its fingerprint and startsAt, on one route.
Its first firing notification creates exactly one dispatch; resends, repeat notifications and
duplicates from other Alertmanagers are recorded as duplicates. The store's unique key on the
episode makes this hold across threads, processes and restarts.

The work is split in two. Planning (matching routes, rendering the job's parameters, building and
encoding the request) needs no lock and runs in the request's own thread. Deciding (is this
episode new? inside a cooldown?) and recording run in the store's write transaction, which every
intake of every process waits for in turn, so it holds only lookups and inserts.
"""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bridge import metrics
from bridge.config import BridgeConfig, OnResolve, Route
from bridge.metrics import DispatchOutcome, NotificationOutcome
from bridge.payload import Alert, AlertStatus, Notification
from bridge.prepare import alert_variables, new_dispatch_id, prepare
from bridge.store import Store, Transaction
from bridge.store.records import (
    Decision,
    DispatchState,
    Episode,
    EpisodeKey,
    EpisodeOutcome,
    NewDecision,
    NewDispatch,
    NewEpisode,
)
from bridge.targets import FailureReason
from common.canonical_json import canonical_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertOutcome:
    """The decision about one alert on one route."""

    index: int
    fingerprint: str
    status: AlertStatus
    route: str | None
    target: str | None
    decision: Decision
    reason: str
    dispatch_id: str | None = None
    dispatch_state: DispatchState | None = None


@dataclass(frozen=True)
class IntakeResult:
    """What one notification caused."""

    notification_id: int
    outcomes: list[AlertOutcome]

    @property
    def dispatches_created(self) -> int:
        """How many dispatches now wait in the outbox."""
        return sum(o.dispatch_state == DispatchState.PENDING for o in self.outcomes)


@dataclass(frozen=True)
class _Planned:
    """A dispatch built before the transaction: used if the episode turns out to be new."""

    id: str
    state: DispatchState
    context_json: str
    request_json: str | None
    error: str | None


@dataclass(frozen=True)
class _Match:
    """One route an alert takes, with what can be worked out without the store's lock."""

    route: Route
    key: EpisodeKey
    cooldown_key: str
    planned: _Planned | None


def record_notification(
    store: Store,
    config: BridgeConfig,
    notification: Notification,
    *,
    payload: str,
    remote_addr: str | None = None,
    user_agent: str | None = None,
    now: float | None = None,
    fetched: Sequence[Alert] = (),
) -> IntakeResult:
    """Decide about every alert and record it all atomically; raises StoreError if it cannot.

    ``fetched``: alerts of the group the notification left out (max_alerts), fetched from
    Alertmanager; decided like the others, numbered after them.
    """
    now = time.time() if now is None else now
    alerts = (*notification.alerts, *fetched)
    plans = [(alert, _plan(store, config, notification, alert)) for alert in alerts]

    def decide(txn: Transaction) -> tuple[int, list[AlertOutcome]]:
        outcomes: list[AlertOutcome] = []
        notification_id = txn.add_notification(
            notification,
            received_at=now,
            payload=payload,
            remote_addr=remote_addr,
            user_agent=user_agent,
        )
        txn.count(metrics.NOTIFICATIONS_TOTAL, {"outcome": NotificationOutcome.ACCEPTED})
        if notification.truncated_alerts:
            txn.count(metrics.TRUNCATED_ALERTS_TOTAL, {}, notification.truncated_alerts)
        if fetched:
            txn.count(metrics.TRUNCATED_ALERTS_FETCHED_TOTAL, {}, len(fetched))
        for index, (alert, matches) in enumerate(plans):
            case = _Case(
                txn=txn,
                config=config,
                notification=notification,
                notification_id=notification_id,
                index=index,
                alert=alert,
                now=now,
            )
            if not matches:
                outcomes.append(
                    case.decided(
                        None, None, Decision.NO_ROUTE, "no route matches the alert's labels"
                    )
                )
            decide_alert = _decide_firing if alert.firing else _decide_resolved
            outcomes.extend(decide_alert(case, match) for match in matches)
        return notification_id, outcomes

    notification_id, outcomes = store.atomically(decide, locks=_locks(plans))
    _log_outcomes(notification, notification_id, outcomes, len(fetched))
    return IntakeResult(notification_id, outcomes)


def _log_outcomes(
    notification: Notification, notification_id: int, outcomes: list[AlertOutcome], fetched: int
) -> None:
    if notification.truncated_alerts:
        log.warning(
            "notification %d: Alertmanager left out %d alert(s) (max_alerts), %d fetched from "
            "its API; group_key=%s",
            notification_id,
            notification.truncated_alerts,
            fetched,
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


def _plan(
    store: Store, config: BridgeConfig, notification: Notification, alert: Alert
) -> list[_Match]:
    matches = []
    for route in config.routes_for(alert.labels):
        key = EpisodeKey(route.name, alert.fingerprint, alert.starts_at.canonical)
        planned = None
        # Episodes are never deleted: one already recorded makes this a duplicate for sure, and
        # building a request for it would be wasted. Otherwise build it now, outside the lock.
        if alert.firing and store.find_episode(key) is None:
            planned = _plan_dispatch(config, route, notification, alert)
        matches.append(_Match(route, key, _cooldown_key(route, alert), planned))
    return matches


def _locks(plans: list[tuple[Alert, list[_Match]]]) -> list[str]:
    """What the decisions may create after looking: an episode, and the cooldown it checks.

    A firing alert whose episode was already recorded is a duplicate whatever happens meanwhile
    (resends, the bulk of all traffic, lock nothing); closing an episode is one conditional
    UPDATE, which the database serialises by itself.
    """
    names = []
    for alert, matches in plans:
        for match in matches:
            if alert.firing and match.planned is None:
                continue
            key = match.key
            names.append(f"episode\x00{key.route}\x00{key.fingerprint}\x00{key.starts_at}")
            if alert.firing and match.route.cooldown > 0:
                names.append(f"cooldown\x00{key.route}\x00{match.cooldown_key}")
    return names


def _cooldown_key(route: Route, alert: Alert) -> str:
    # Compared as text with the keys of stored episodes: canonical JSON gives equal text.
    return canonical_json({name: alert.labels.get(name, "") for name in route.cooldown_by})


def _plan_dispatch(
    config: BridgeConfig, route: Route, notification: Notification, alert: Alert
) -> _Planned:
    dispatch_id = new_dispatch_id()
    variables = alert_variables(
        alert, notification, route, value_from=config.value_from, dispatch_id=dispatch_id
    )
    prepared = prepare(config, route, variables)
    if prepared.error is not None:
        state = DispatchState.DEAD
    elif config.dry_run or route.dry_run:
        state = DispatchState.DRY_RUN
    else:
        state = DispatchState.PENDING
    return _Planned(
        id=dispatch_id,
        state=state,
        context_json=canonical_json(variables),
        request_json=None if prepared.request is None else canonical_json(prepared.request),
        error=prepared.error,
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
        *,
        dispatch_id: str | None = None,
        dispatch_state: DispatchState | None = None,
    ) -> AlertOutcome:
        """Record the decision (and count it); return it for the response and the log."""
        alert = self.alert
        outcome = AlertOutcome(
            index=self.index,
            fingerprint=alert.fingerprint,
            status=alert.status,
            route=None if route is None else route.name,
            target=None if route is None else route.target,
            decision=decision,
            reason=reason,
            dispatch_id=dispatch_id,
            dispatch_state=dispatch_state,
        )
        self.txn.add_decision(
            NewDecision(
                notification_id=self.notification_id,
                alert_index=self.index,
                fingerprint=alert.fingerprint,
                starts_at=alert.starts_at.canonical,
                alert_status=alert.status,
                route=outcome.route,
                decision=decision,
                reason=reason,
                episode_id=None if episode is None else episode.id,
                dispatch_id=dispatch_id,
                decided_at=self.now,
            )
        )
        self.txn.count(metrics.ALERTS_TOTAL, {"decision": decision})
        return outcome

    def add_dispatch(
        self, route: Route, planned: _Planned, episode: Episode, kind: AlertStatus
    ) -> None:
        """Put a planned dispatch in the outbox."""
        target = self.config.targets.get(route.target)
        self.txn.add_dispatch(
            NewDispatch(
                id=planned.id,
                episode_id=episode.id,
                kind=kind,
                route=route.name,
                target=route.target,
                target_type=target.type if target is not None else "unknown",
                state=planned.state,
                context_json=planned.context_json,
                request_json=planned.request_json,
                error=planned.error,
                reason=FailureReason.INVALID_REQUEST if planned.error is not None else None,
                created_at=self.now,
                deadline_at=self.now + self.config.dispatch.backoff.deadline,
            )
        )
        outcome = (
            DispatchOutcome.CREATED
            if planned.state == DispatchState.PENDING
            else DispatchOutcome(planned.state)
        )
        self.txn.count(metrics.DISPATCHES_TOTAL, {"target": route.target, "outcome": outcome})
        if planned.error is not None:
            log.error(
                "dispatch_id=%s route=%s target=%s fingerprint=%s: cannot build the request: %s",
                planned.id,
                route.name,
                route.target,
                self.alert.fingerprint,
                planned.error,
            )


_EPISODE_OUTCOME = {
    DispatchState.PENDING: EpisodeOutcome.DISPATCHED,
    DispatchState.DRY_RUN: EpisodeOutcome.DRY_RUN,
    DispatchState.DEAD: EpisodeOutcome.INVALID,
}


def _decide_firing(case: _Case, match: _Match) -> AlertOutcome:
    txn, route, key = case.txn, match.route, match.key
    # Writers are serialised (one transaction at a time), so looking first and inserting after
    # cannot race; the store's unique key on the episode would refuse a second one anyway.
    episode = txn.find_episode(key)
    if episode is not None:
        return case.decided(
            route,
            episode,
            Decision.DUPLICATE,
            f"episode {episode.id} (started {key.starts_at}) already seen: {episode.outcome}",
            dispatch_id=episode.dispatch_id,
        )

    def new_episode(outcome: EpisodeOutcome, dispatch_id: str | None) -> Episode:
        return txn.add_episode(
            NewEpisode(
                key=key,
                labels=dict(case.alert.labels),
                cooldown_key=match.cooldown_key,
                state=AlertStatus.FIRING,
                outcome=outcome,
                dispatch_id=dispatch_id,
                notification_id=case.notification_id,
                opened_at=case.now,
            )
        )

    if route.cooldown > 0:
        last = txn.last_dispatch(route.name, match.cooldown_key)
        if last is not None and case.now - last[0] < route.cooldown:
            return case.decided(
                route,
                new_episode(EpisodeOutcome.COOLDOWN_SKIPPED, None),
                Decision.COOLDOWN_SKIPPED,
                f"within the route's cooldown of {route.cooldown:g}s for {match.cooldown_key}: "
                f"dispatch {last[1]} was {case.now - last[0]:.0f}s ago",
            )
    planned = match.planned or _plan_dispatch(case.config, route, case.notification, case.alert)
    episode = new_episode(_EPISODE_OUTCOME[planned.state], planned.id)
    case.add_dispatch(route, planned, episode, AlertStatus.FIRING)
    return case.decided(
        route,
        episode,
        Decision.NEW_EPISODE,
        f"new episode: dispatch {planned.state}",
        dispatch_id=planned.id,
        dispatch_state=planned.state,
    )


def _decide_resolved(case: _Case, match: _Match) -> AlertOutcome:
    txn, route, key, alert = case.txn, match.route, match.key, case.alert
    ends_at = alert.ends_at.canonical if alert.ends_at else None
    episode = txn.find_episode(key)
    if episode is None:
        episode = txn.add_episode(
            NewEpisode(
                key=key,
                labels=dict(alert.labels),
                cooldown_key=match.cooldown_key,
                state=AlertStatus.RESOLVED,
                outcome=EpisodeOutcome.RESOLVED_BEFORE_FIRING,
                dispatch_id=None,
                notification_id=case.notification_id,
                opened_at=case.now,
                resolved_at=case.now,
                ends_at=ends_at,
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
            dispatch_id=episode.dispatch_id,
        )
    if route.on_resolve == OnResolve.DISPATCH and episode.dispatch_id is not None:
        # Rare enough (opt-in, once per episode) to plan inside the transaction.
        planned = _plan_dispatch(case.config, route, case.notification, alert)
        case.add_dispatch(route, planned, episode, AlertStatus.RESOLVED)
        return case.decided(
            route,
            episode,
            Decision.RESOLVED,
            f"episode {episode.id} closed; resolve dispatch {planned.state}",
            dispatch_id=planned.id,
            dispatch_state=planned.state,
        )
    return case.decided(
        route,
        episode,
        Decision.RESOLVED,
        f"episode {episode.id} closed",
        dispatch_id=episode.dispatch_id,
    )
