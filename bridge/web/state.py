"""What the request handlers share: the config, the store and this process's dispatcher."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from flask import current_app

from bridge import metrics
from bridge.config import BridgeConfig
from bridge.dispatcher import Dispatcher
from bridge.metrics import NotificationOutcome
from bridge.store import Store, StoreError

log = logging.getLogger(__name__)


@dataclass
class Bridge:
    """The running bridge, as seen by one server process."""

    config: BridgeConfig
    store: Store
    dispatcher: Dispatcher | None
    # The problem with the bridge's own credentials last logged: each is logged once, not once
    # per request (Alertmanager retries, and a flood of identical lines hides everything else).
    _secret_problem: str | None = field(default=None, repr=False)

    def report_secret_problem(self, problem: str | None) -> None:
        """Log a new problem with the auth secret once, and once more when it is solved."""
        if problem == self._secret_problem:
            return
        previous, self._secret_problem = self._secret_problem, problem
        if problem is not None:
            log.error("answering 503 to every authenticated request: %s", problem)
        elif previous is not None:
            log.warning("the auth secret is usable again (was: %s)", previous)

    def count(self, name: str, labels: Mapping[str, str]) -> None:
        """Count something outside an intake transaction; a store failure is only logged."""
        try:
            # Through the group-committing writer: a flood of refused requests shares commits
            # with the intakes instead of taking the write lock for an fsync of its own each.
            self.store.atomically(lambda txn: txn.count(name, labels))
        except StoreError as err:
            log.error("could not count %s%s: %s", name, dict(labels), err)

    def count_rejected(self, outcome: NotificationOutcome) -> None:
        """Count a webhook request that was refused (bad auth, bad payload, too large)."""
        self.count(metrics.NOTIFICATIONS_TOTAL, {"outcome": outcome})


def current_bridge() -> Bridge:
    """The bridge of the current Flask app (named so it does not shadow the package)."""
    state: Bridge = current_app.extensions["drift_bridge"]
    return state
