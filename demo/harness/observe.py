"""What the demo watches: one snapshot of the exporter, Prometheus and the bridge."""

from dataclasses import dataclass, field
from typing import Any

import requests

ALERT = "ModelDriftHigh"


@dataclass(frozen=True)
class Snapshot:
    """The loop's state at one moment, read from each component's own API."""

    day: int
    scores: dict[str, float]
    retrainings: dict[str, int]
    # model -> pending | firing (models without an active alert are absent)
    alerts: dict[str, str]
    dispatches: list[dict[str, Any]] = field(default_factory=list)

    def dispatches_for(self, model: str) -> list[dict[str, Any]]:
        """The bridge's dispatches whose alert is about ``model``."""
        return [d for d in self.dispatches if d["labels"].get("model") == model]


class Observer:
    """Reads the running loop through the components' HTTP APIs."""

    def __init__(self, exporter: str, prometheus: str, bridge: str, token: str) -> None:
        self._exporter = exporter
        self._prometheus = prometheus
        self._bridge = bridge
        self._session = requests.Session()
        self._auth = {"Authorization": f"Bearer {token}"}

    def threshold(self) -> float | None:
        """The threshold as Prometheus evaluates it (the recording rule drift:threshold)."""
        body = self._get(f"{self._prometheus}/api/v1/query", params={"query": "drift:threshold"})
        result = body["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def snapshot(self) -> Snapshot:
        """Read all three components now."""
        models = self._get(f"{self._exporter}/api/models")
        alerts = self._get(f"{self._prometheus}/api/v1/alerts")["data"]["alerts"]
        dispatches = self._get(f"{self._bridge}/api/dispatches", headers=self._auth)
        return Snapshot(
            day=models["day"],
            scores={m["model"]: m["score"] for m in models["models"]},
            retrainings={m["model"]: m["retrainings"] for m in models["models"]},
            alerts={
                a["labels"].get("model", ""): a["state"]
                for a in alerts
                if a["labels"].get("alertname") == ALERT
            },
            dispatches=dispatches["dispatches"],
        )

    def trail(self, dispatch_id: str) -> dict[str, Any]:
        """A dispatch's audit trail."""
        trail: dict[str, Any] = self._get(
            f"{self._bridge}/api/dispatches/{dispatch_id}", headers=self._auth
        )
        return trail

    def _get(self, url: str, **kwargs: Any) -> Any:
        response = self._session.get(url, timeout=5, **kwargs)
        response.raise_for_status()
        return response.json()
