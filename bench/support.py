"""What the bridge benchmarks share: a bridge and a bare app on gunicorn, wrk, a config."""

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from demo.harness.processes import Process, free_port, venv_script  # noqa: E402
from tests.support.fixtures import body  # noqa: E402

TOKEN = "bench-token"
__all__ = ["TOKEN", "Process", "body", "free_port", "venv_script"]


def write_bridge_config(
    work: Path, port: int, targets: dict[str, Any], route: dict[str, Any], **extra: Any
) -> Path:
    """A bridge.yml in ``work`` with bearer auth and one route."""
    (work / "token").write_text(TOKEN)
    config = {
        "listen_address": f"127.0.0.1:{port}",
        "auth": {"type": "bearer", "token_file": str(work / "token")},
        "store": {"path": str(work / "bridge.db")},
        "targets": targets,
        "routes": [route],
        **extra,
    }
    path = work / "bridge.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def bridge(config: Path, work: Path) -> Process:
    """``drift-bridge serve`` (not started)."""
    return Process(
        "bridge",
        [venv_script("drift-bridge"), "--log.level=warning", "serve", f"--config.file={config}"],
        work,
    )


def bare(port: int, work: Path, workers: int, threads: int) -> Process:
    """The bare Flask app on gunicorn with the bridge's server settings (not started)."""
    return Process(
        "bare",
        [
            venv_script("gunicorn"),
            "--chdir",
            str(REPO / "bench"),
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "-k",
            "gthread",
            "--threads",
            str(threads),
            "--log-level=warning",
            "--no-control-socket",
            "bare_app:app",
        ],
        work,
    )


def wait_ready(process: Process, url: str) -> None:
    """Wait until ``url`` answers (any status below 500)."""
    import requests

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{process.name} did not start:\n{process.logs()[-2000:]}")


_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
local template = %(template)s
local unique = %(unique)s
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  counter = 0
end
function request()
  counter = counter + 1
  local payload = template
  if unique then
    payload = template:gsub("FPID", string.format("%%d-%%d", tid, counter))
  end
  return wrk.format(nil, nil, nil, payload)
end
"""


def wrk(url: str, work: Path, unique: bool, seconds: int, connections: int) -> dict[str, float]:
    """Requests/s and latency percentiles (ms) from wrk posting the captured webhook."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    payload = body("firing-single-bearer")
    payload["alerts"][0]["fingerprint"] = "FPID" if unique else "b78fc0eb9a264175"
    script = work / f"post-{unique}.lua"
    script.write_text(
        _LUA
        % {
            "token": TOKEN,
            "template": _lua_string(json.dumps(payload)),
            "unique": "true" if unique else "false",
        }
    )
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])}  # type: ignore[index]
    for pct in ("50", "99"):
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        figures[f"p{pct}_ms"] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    figures["errors"] = float(non2xx[1]) if non2xx else 0.0
    return figures


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"
