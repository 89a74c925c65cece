"""A route's ``on_failure``: one more retraining, bounded, when a run failed and drift persists.

``on_failure: {redispatch_after: 1h, max: 1}``: ``redispatch_after`` a run of the route failed
(failed, cancelled or timed out), if its episode still fires, a new dispatch is made for the
same episode with a new dispatch id (stored as kind ``firing#N``), at most ``max`` times per
episode. It is built again from the current config, like a manual retry of a dead letter.
"""

import json
import logging

from bridge.config import BridgeConfig
from bridge.payload import AlertStatus
from bridge.prepare import new_dispatch_id, prepare
from bridge.store import Store
from bridge.store.records import DispatchState, NewDispatch

log = logging.getLogger(__name__)


def redispatch_failed(store: Store, config: BridgeConfig, now: float) -> list[str]:
    """Make the dispatches the routes' on_failure asks for now; their ids."""
    made = []
    for route in config.routes:
        policy = route.on_failure
        target = config.targets.get(route.target)
        if policy is None or target is None:
            continue
        for failed in store.failed_runs(route.name, now - policy.redispatch_after):
            if failed.redispatches >= policy.max:
                store.add_redispatch(failed.dispatch_id, None)
                continue
            dispatch_id = new_dispatch_id()
            context = {**failed.context, "dispatch_id": dispatch_id}
            prepared = prepare(config, route, context)
            new = NewDispatch(
                id=dispatch_id,
                episode_id=failed.episode_id,
                kind=AlertStatus.FIRING,
                route=route.name,
                target=route.target,
                target_type=target.type,
                state=DispatchState.PENDING if prepared.error is None else DispatchState.DEAD,
                context_json=json.dumps(context, separators=(",", ":")),
                request_json=None
                if prepared.request is None
                else json.dumps(prepared.request, separators=(",", ":")),
                error=prepared.error,
                reason="invalid_request" if prepared.error is not None else None,
                created_at=now,
                deadline_at=now + config.dispatch.backoff.deadline,
            )
            # The episode's first dispatch is number 1.
            if store.add_redispatch(failed.dispatch_id, new, failed.redispatches + 2):
                log.warning(
                    "dispatch_id=%s route=%s target=%s fingerprint=%s: the retraining of %s "
                    "failed and drift persists: dispatching again (%d of at most %d)",
                    dispatch_id,
                    route.name,
                    route.target,
                    context.get("fingerprint"),
                    failed.dispatch_id,
                    failed.redispatches + 1,
                    policy.max,
                )
                made.append(dispatch_id)
    return made
