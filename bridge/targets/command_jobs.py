"""The ``command`` target's submit mode: a job started detached, followed through files.

A long retraining must not hold a dispatcher slot for hours, nor die with the bridge. In submit
mode the program is started in a session of its own under a small ``sh`` wrapper that records,
in ``jobs_dir``::

    <dispatch id>.pid     its pid, created exclusively: a second start of the same dispatch
                          finds it and runs nothing (never twice, even after a crash)
    <dispatch id>.log     the program's stdout and stderr
    <dispatch id>.status  its exit status, written (atomically) when it ends

The follower reads these files: the status when there is one, else whether the pid still runs
(checked against /proc so a reused pid is not mistaken for the job). A bridge that stops or
restarts neither kills nor restarts the job.
"""

import subprocess
import time
from pathlib import Path

from bridge.metrics import RetrainingResult
from bridge.targets.base import (
    DispatchError,
    DispatchResult,
    FailureReason,
    Locator,
    Request,
    RunState,
    RunStatus,
)

# $1: jobs_dir, $2: dispatch id, the rest: the program and its arguments.
WRAPPER = r"""
dir=$1; id=$2; shift 2
set -C
if ! { echo $$ > "$dir/$id.pid"; } 2>/dev/null; then
  echo "drift-bridge: $id was started already; not starting it twice" >&2
  exit 0
fi
set +C
# Caught (not ignored, which the program would inherit): a TERM to the job's process group
# ends the program, and the wrapper lives on to record its status.
trap : TERM INT HUP
"$@" >>"$dir/$id.log" 2>&1 </dev/null
code=$?
echo "$code" > "$dir/$id.status.tmp" && mv -f "$dir/$id.status.tmp" "$dir/$id.status"
"""
# Starts the wrapper ($0) with the rest of the arguments in the background; prints its pid.
_LAUNCH = 'sh -c "$0" "$@" </dev/null >/dev/null 2>&1 & echo $!'
# Exit statuses of a job ended by SIGTERM or SIGKILL (128 + signal): someone cancelled it
# (``kill -TERM -- -$(ps -o pgid= <pid>)`` ends the job's whole process group).
_CANCELLED = {128 + 15, 128 + 9}


def submit(name: str, request: Request, argv: list[str], env: dict[str, str]) -> DispatchResult:
    """Start the job detached; the run to follow is its dispatch id in ``jobs_dir``."""
    jobs_dir, dispatch_id = _where(request)
    Path(jobs_dir).mkdir(parents=True, exist_ok=True)
    try:
        # The wrapper is started in the background by a shell that exits at once: it is then
        # nobody's child in the bridge (no zombie, no Popen left running), in its own session.
        launcher = subprocess.run(
            ["sh", "-c", _LAUNCH, WRAPPER, "drift-bridge-job", jobs_dir, dispatch_id, *argv],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=env,
            cwd=request.get("working_dir"),
            start_new_session=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DispatchError(
            f"command {name}: cannot start the job: {error}",
            retryable=False,
            reason=FailureReason.COMMAND_FAILED,
        ) from None
    pid_text = launcher.stdout.decode().strip()
    if launcher.returncode != 0 or not pid_text.isdigit():
        raise DispatchError(
            f"command {name}: cannot start the job: {launcher.stderr.decode()[-500:]}",
            retryable=False,
            reason=FailureReason.COMMAND_FAILED,
        )
    pid = int(pid_text)
    locator = {
        "jobs_dir": jobs_dir,
        "dispatch_id": dispatch_id,
        "pid": pid,
        "submitted_at": time.time(),
    }
    return DispatchResult(
        f"started detached as pid {pid}; log {jobs_dir}/{dispatch_id}.log",
        {"pid": pid, "log": f"{jobs_dir}/{dispatch_id}.log"},
        run=locator,
    )


def follow(locator: Locator) -> RunStatus:
    """The job's state from its files (no waiting)."""
    base = Path(str(locator["jobs_dir"])) / str(locator["dispatch_id"])
    pid_file, status_file = base.with_suffix(".pid"), base.with_suffix(".status")
    started = pid_file.stat().st_mtime if pid_file.exists() else None
    url = str(base.with_suffix(".log"))
    if status_file.exists():
        code_text = status_file.read_text().strip()
        code = int(code_text) if code_text.lstrip("-").isdigit() else -1
        finished = status_file.stat().st_mtime
        if code == 0:
            result = RetrainingResult.SUCCEEDED
        elif code in _CANCELLED:
            result = RetrainingResult.CANCELLED
        else:
            result = RetrainingResult.FAILED
        return RunStatus(
            RunState.COMPLETED,
            locator,
            result,
            detail=f"exit status {code}",
            url=url,
            external_id=_pid_text(pid_file),
            started_at=started,
            finished_at=finished,
            duration=None if started is None else max(0.0, finished - started),
        )
    pid = _pid_text(pid_file)
    if pid is not None and _runs(int(pid), str(locator["dispatch_id"])):
        return RunStatus(RunState.RUNNING, locator, url=url, external_id=pid, started_at=started)
    if pid is None and time.time() - float(locator.get("submitted_at", 0)) < 10:
        return RunStatus(RunState.QUEUED, locator, detail="starting")
    return RunStatus(
        RunState.COMPLETED,
        locator,
        RetrainingResult.FAILED,
        detail="the job's process is gone without an exit status (killed with its wrapper?)",
        url=url,
        external_id=pid,
    )


def find(request: Request) -> Locator | None:
    """The job a lost attempt of ``request`` started: its pid file, if any."""
    jobs_dir, dispatch_id = _where(request)
    pid_file = Path(jobs_dir) / f"{dispatch_id}.pid"
    if not pid_file.exists():
        return None
    pid = _pid_text(pid_file)
    return {"jobs_dir": jobs_dir, "dispatch_id": dispatch_id, "pid": int(pid) if pid else None}


def _where(request: Request) -> tuple[str, str]:
    jobs_dir = request.get("jobs_dir")
    dispatch_id = (request.get("env") or {}).get("DRIFT_BRIDGE_DISPATCH_ID")
    if not isinstance(jobs_dir, str) or not isinstance(dispatch_id, str):
        raise DispatchError(
            "stored request has no jobs_dir or dispatch id; prepare the dispatch again",
            retryable=False,
            reason=FailureReason.INVALID_REQUEST,
        )
    return jobs_dir, dispatch_id


def _pid_text(pid_file: Path) -> str | None:
    try:
        text = pid_file.read_text().strip()
    except OSError:
        return None
    return text if text.isdigit() else None


def _runs(pid: int, dispatch_id: str) -> bool:
    """True while ``pid`` is the wrapper of ``dispatch_id`` (not a reused pid, not a zombie)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return dispatch_id.encode() in cmdline and state != "Z"
