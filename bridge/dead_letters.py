"""Dead letters: the manual requeue ("retry") of a dispatch the backoff gave up on."""

from bridge.config import BridgeConfig
from bridge.prepare import prepare
from bridge.store import Store
from bridge.store.records import DispatchState, Requeue


class RetryRefusedError(ValueError):
    """The dispatch cannot be retried; ``status`` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def retry_dispatch(store: Store, config: BridgeConfig, dispatch_id: str, now: float) -> None:
    """Put a dead dispatch back in the outbox, built again from the current config.

    The route's current target and parameters are used, so a fixed template, job name or target
    takes effect on the retry (and the request goes, with its credentials, to the target the
    config names now). The dispatch keeps its id, so the job still carries the same dispatch id.
    """
    found = store.dispatch_for_retry(dispatch_id)
    if found is None:
        raise RetryRefusedError(404, f"no dispatch {dispatch_id!r}")
    if found.state != DispatchState.DEAD:
        raise RetryRefusedError(
            409, f"dispatch {dispatch_id} is {found.state}; only dead dispatches are retried"
        )
    route = config.route(found.route)
    if route is None:
        raise RetryRefusedError(409, f"route {found.route!r} is not in the configuration any more")
    if config.dry_run or route.dry_run:
        raise RetryRefusedError(
            409, f"dry run is on for route {route.name!r}: a retry would send nothing"
        )
    target = config.targets[route.target]
    prepared = prepare(config, route, found.context)
    requeued = store.requeue(
        Requeue(
            dispatch_id=dispatch_id,
            target=route.target,
            target_type=target.type,
            request=prepared.request,
            error=prepared.error,
            now=now,
            deadline_at=now + config.dispatch.backoff.deadline,
        )
    )
    if prepared.error is not None:
        raise RetryRefusedError(422, f"the request still cannot be built: {prepared.error}")
    if not requeued:
        raise RetryRefusedError(409, f"dispatch {dispatch_id} changed meanwhile; look again")
