"""The shipped Prometheus and Alertmanager configs, rendered for a demo or test run on loopback.

This is the documented override: only what a short run must change is replaced (addresses, the
token file, the rule's ``for`` and Alertmanager's timers); everything else, the alert expression,
the threshold and the routing tree included, is the shipped file itself. The shipped files are
never edited.
"""

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests
import yaml

from demo.harness.processes import Process, require_binary, venv_script

REPO = Path(__file__).resolve().parents[2]
# The demo runs from a checkout of the repository, where prometheus/ sits beside bridge/.
PROMETHEUS_DIR = REPO / "prometheus"


def load_yaml(path: Path) -> Any:
    """Parse a YAML file."""
    return yaml.safe_load(path.read_text())


def write_yaml(path: Path, data: Any) -> Path:
    """Write ``data`` as YAML and return ``path``."""
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def render_rules(out_dir: Path, for_: str) -> Path:
    """The shipped rule file with every alert's ``for`` shortened to ``for_``."""
    rules = load_yaml(PROMETHEUS_DIR / "rules" / "drift.rules.yml")
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                rule["for"] = for_
    return write_yaml(out_dir / "drift.rules.yml", rules)


def render_prometheus(
    out_dir: Path,
    scrape_targets: Mapping[str, str],
    alertmanagers: list[str],
    rules_file: Path,
    interval: str = "1s",
) -> Path:
    """The shipped prometheus.yml scraping ``scrape_targets`` (job: host:port) each ``interval``."""
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    config["global"]["scrape_interval"] = interval
    config["global"]["evaluation_interval"] = interval
    config["rule_files"] = [str(rules_file)]
    config["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": alertmanagers}]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    unknown = set(scrape_targets) - set(jobs)
    if unknown:
        raise KeyError(f"no scrape job {sorted(unknown)} in the shipped prometheus.yml")
    for name, job in jobs.items():
        job["static_configs"] = (
            [{"targets": [scrape_targets[name]]}] if name in scrape_targets else []
        )
    return write_yaml(out_dir / "prometheus.yml", config)


def render_alertmanager(
    out_dir: Path,
    bridge_url: str,
    token_file: Path,
    group_wait: str = "1s",
    group_interval: str = "2s",
    repeat_interval: str = "1h",
) -> Path:
    """The shipped alertmanager.yml with the bridge receiver at ``bridge_url`` and short timers."""
    config = load_yaml(PROMETHEUS_DIR / "alertmanager.yml")
    for route in config["route"].get("routes", []):
        if route["receiver"] == "drift-bridge":
            route.update(
                group_wait=group_wait,
                group_interval=group_interval,
                repeat_interval=repeat_interval,
            )
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = bridge_url
            webhook["http_config"]["authorization"]["credentials_file"] = str(token_file)
    return write_yaml(out_dir / "alertmanager.yml", config)


def prometheus_process(config: Path, work_dir: Path, port: int) -> Process:
    """A real Prometheus on 127.0.0.1:``port`` (not started)."""
    return Process(
        f"prometheus-{port}",
        [
            require_binary("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={work_dir / f'tsdb-{port}'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        work_dir,
    )


def alertmanager_process(config: Path, work_dir: Path, port: int) -> Process:
    """A real, unclustered Alertmanager on 127.0.0.1:``port`` (not started)."""
    return Process(
        f"alertmanager-{port}",
        [
            require_binary("prometheus-alertmanager"),
            f"--config.file={config}",
            f"--storage.path={work_dir / f'am-{port}'}",
            f"--web.listen-address=127.0.0.1:{port}",
            # Empty: no gossip listener, so several Alertmanagers can run side by side.
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        work_dir,
    )


def prometheus_query(port: int, expr: str, over: float | None = None) -> list[dict[str, Any]]:
    """Run an instant query, or a range query over the last ``over`` seconds as Grafana does;
    raise with Prometheus' own message if it does not parse."""
    params: dict[str, str | float] = {"query": expr}
    endpoint = "query"
    if over is not None:
        end = time.time()
        endpoint = "query_range"
        params.update(start=end - over, end=end, step=1)
    response = requests.get(f"http://127.0.0.1:{port}/api/v1/{endpoint}", params=params, timeout=5)
    body = response.json()
    if body.get("status") != "success":
        raise ValueError(f"query {expr!r} failed: {body.get('errorType')}: {body.get('error')}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def exporter_process(
    work_dir: Path,
    port: int,
    *extra: str,
    models: tuple[str, ...] = ("churn-classifier:drifting:42", "fraud-detector:healthy:7"),
) -> Process:
    """``drift-exporter simulate``, by default with a drifting and a healthy model (not started)."""
    return Process(
        f"exporter-{port}",
        [
            venv_script("drift-exporter"),
            "simulate",
            f"--web.listen-address=127.0.0.1:{port}",
            *(f"--model={model}" for model in models),
            *extra,
        ],
        work_dir,
    )


def bridge_process(config: Path, work_dir: Path, name: str = "bridge") -> Process:
    """``drift-bridge serve`` with ``config`` (not started)."""
    return Process(
        name, [venv_script("drift-bridge"), "serve", f"--config.file={config}"], work_dir
    )
