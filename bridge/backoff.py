"""Automatic backoff: when to try a failed dispatch again (exponential, jittered), until a deadline.

The settings keep their user-facing key, ``dispatch.retry``, so existing configs stay valid; in
the code "retry" means only the manual requeue of a dead letter (:mod:`bridge.dead_letters`).
"""

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class BackoffPolicy:
    """Backoff between attempts, and how long a dispatch may keep trying.

    >>> BackoffPolicy(initial_delay=1, multiplier=2, max_delay=300).base_delay(attempt=3)
    4.0
    """

    initial_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 300.0
    # From the dispatch's creation; a dispatch still failing then is dead-lettered.
    deadline: float = 12 * 3600.0

    def base_delay(self, attempt: int) -> float:
        """The delay after failed attempt number ``attempt`` (1-based), before jitter."""
        exponent = min(attempt - 1, 64)
        return float(min(self.max_delay, self.initial_delay * self.multiplier**exponent))

    def next_delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait after failed attempt ``attempt``.

        Jitter spreads retries of many dispatches over [base/2, base]; a target's own
        ``Retry-After`` (or rate-limit reset) is a floor, honoured even beyond ``max_delay``.
        """
        base = self.base_delay(attempt)
        delay = base * (0.5 + 0.5 * (rng or random).random())
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay
