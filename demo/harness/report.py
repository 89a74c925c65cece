"""The demo's live timeline and its closing summary."""

from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from demo.harness.observe import Snapshot

# The hops of the loop, in the order they happen.
MILESTONES = (
    "drift above threshold",
    "alert pending",
    "alert firing",
    "webhook recorded",
    "retraining dispatched",
    "model retrained",
    "drift back to baseline",
    "alert resolved",
    "resolution recorded",
)


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class Timeline:
    """Prints a row per simulated day and a line per milestone, as they happen."""

    def __init__(self, out: TextIO, drifting: str, healthy: str) -> None:
        self.out = out
        self.drifting = drifting
        self.healthy = healthy
        self.threshold = 0.2
        self.milestones: dict[str, float] = {}
        self._day: int | None = None
        self._wall_offset: float | None = None

    @staticmethod
    def header(out: TextIO, urls: dict[str, str], work: Path) -> None:
        """What runs where."""
        print("drift-retrain-bridge demo: the whole loop on loopback", file=out)
        for name in ("exporter", "prometheus", "alertmanager", "bridge"):
            print(f"  {name:<13}{urls[name]}", file=out)
        print(f"  logs, configs, store: {work}\n", file=out)
        print(
            f"{'time':>7}  {'day':>3}  {'churn':>7}  {'fraud':>7}  alert          bridge", file=out
        )

    def next_milestone(self) -> str:
        """The first hop not reached yet."""
        return next((m for m in MILESTONES if m not in self.milestones), "nothing")

    def _mark(self, name: str, at: float, detail: str) -> None:
        if name in self.milestones:
            return
        self.milestones[name] = at
        print(f"{at:6.1f}s  >> {name}: {detail}", file=self.out)

    def update(self, elapsed: float, snap: Snapshot, trail: dict[str, Any] | None) -> None:
        """Record what changed since the last snapshot."""
        import time

        # Times the bridge recorded are wall-clock; put them on the demo's clock.
        offset = time.time() - elapsed
        model, score = self.drifting, snap.scores.get(self.drifting, 0.0)
        alert = snap.alerts.get(model)
        dispatches = snap.dispatches_for(model)
        if snap.day != self._day:
            self._day = snap.day
            state = dispatches[0]["state"] if dispatches else "-"
            print(
                f"{elapsed:6.1f}s  {snap.day:>3}  {score:7.3f}  "
                f"{snap.scores.get(self.healthy, 0.0):7.3f}  {alert or '-':<13}  {state}",
                file=self.out,
            )
        retrained = snap.retrainings.get(model, 0) > 0
        if score > self.threshold and not retrained:
            self._mark(
                "drift above threshold",
                elapsed,
                f"{model} {score:.3f} > {self.threshold:g} on day {snap.day}",
            )
        if alert in ("pending", "firing"):
            self._mark("alert pending", elapsed, f"ModelDriftHigh for {model}")
        if alert == "firing":
            self._mark("alert firing", elapsed, "held for the rule's `for`")
        if dispatches:
            first = dispatches[0]
            self._mark(
                "webhook recorded",
                _seconds(first["created_at"]) - offset,
                f"one episode, dispatch {first['id']} to {first['target']}",
            )
            if first["state"] == "succeeded" and first["completed_at"]:
                self._mark(
                    "retraining dispatched",
                    _seconds(first["completed_at"]) - offset,
                    f"{first['target']} accepted it (attempt {first['attempt_count']})",
                )
        if retrained:
            self._mark("model retrained", elapsed, f"{model}'s reference reset by the job")
            if score <= self.threshold:
                self._mark("drift back to baseline", elapsed, f"{model} {score:.3f}")
        if "alert firing" in self.milestones and alert is None:
            self._mark("alert resolved", elapsed, "Prometheus no longer fires")
        if trail is not None and trail["episode"]["state"] == "resolved":
            self._mark(
                "resolution recorded",
                _seconds(trail["episode"]["resolved_at"]) - offset,
                "the bridge closed the episode",
            )

    @staticmethod
    def summary(
        out: TextIO,
        closed: bool,
        reason: str,
        milestones: dict[str, float],
        last: Snapshot | None,
        trail: dict[str, Any] | None,
        drifting: str,
        healthy: str,
        urls: dict[str, str],
        work: Path,
    ) -> None:
        """What fired, what was dispatched, how long each hop took, and where to look."""
        print("", file=out)
        print("The loop closed." if closed else f"The loop did NOT close: {reason}", file=out)
        previous = 0.0
        for name in MILESTONES:
            if name in milestones:
                at = milestones[name]
                print(f"  {name:<24} t+{at:6.1f}s  (+{at - previous:5.1f}s)", file=out)
                previous = at
            else:
                print(f"  {name:<24} -", file=out)
        if last is not None:
            for model in (drifting, healthy):
                found = last.dispatches_for(model)
                states = ", ".join(f"{d['id']} {d['state']}" for d in found) or "none"
                print(f"  dispatches for {model}: {len(found)} ({states})", file=out)
        if trail is not None:
            decisions = [d["decision"] for d in trail["decisions"]]
            print(f"  decisions about that episode: {', '.join(decisions)}", file=out)
        print("\nWhere to look (while it runs; `drift-demo --keep-running` keeps it up):", file=out)
        print(f"  Prometheus       {urls['prometheus']}/alerts", file=out)
        print(f"  Alertmanager     {urls['alertmanager']}", file=out)
        print(
            f"  bridge audit     {urls['bridge']}/api/dispatches  (Authorization: Bearer "
            f"$(cat {work}/alertmanager.token))",
            file=out,
        )
        print(f"  bridge metrics   {urls['bridge']}/metrics", file=out)
        print(f"  logs             {work}/*.log", file=out)
