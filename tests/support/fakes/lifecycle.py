"""How a fake's queue item or workflow run proceeds on its own, set per run or for all runs.

>>> jenkins.lifecycle = Lifecycle(start_after=0.2, run_for=0.5, result="SUCCESS")  # every run
>>> github.plan("drb-42", Lifecycle(start_after=0, run_for=1, result="failure"))   # one run
>>> Lifecycle()            # the default: waits for start_builds()/finish_build() (or start_run)

Time moves on when the fake is asked: each request (and each control call) first brings every
run to where its lifecycle says it is now, so no thread runs behind the tests' backs.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Lifecycle:
    """Seconds until a run starts and until it finishes, and how it ends.

    ``start_after`` None: it stays queued until started by hand; ``run_for`` None: it runs until
    finished by hand. ``result`` is the service's own word (``SUCCESS``, ``failure``, ...).
    ``cancel`` True: cancelled instead of started, ``start_after`` seconds after it was queued.
    """

    start_after: float | None = None
    run_for: float | None = None
    result: str | None = None
    cancel: bool = False

    def starts(self, queued_at: float, now: float) -> bool:
        """True once a run queued at ``queued_at`` has started (or been cancelled) by ``now``."""
        return self.start_after is not None and now >= queued_at + self.start_after

    def finishes(self, started_at: float, now: float) -> bool:
        """True once a run started at ``started_at`` has finished by ``now``."""
        return self.run_for is not None and now >= started_at + self.run_for


class Plans:
    """Lifecycles chosen per run by a value the run carries (its dispatch id), else the default."""

    def __init__(self) -> None:
        self.default = Lifecycle()
        self._by_value: dict[str, Lifecycle] = {}

    def plan(self, value: str, lifecycle: Lifecycle) -> None:
        """Runs carrying ``value`` (a parameter or input value) follow ``lifecycle``."""
        self._by_value[value] = lifecycle

    def for_values(self, values: "list[str] | tuple[str, ...]") -> Lifecycle:
        """The lifecycle of a run whose parameters or inputs have ``values``."""
        for value in values:
            if value in self._by_value:
                return self._by_value[value]
        return self.default
