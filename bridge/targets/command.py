"""A local program, run as an argv list (never through a shell), with the alert in its environment.

Settings (``targets.<name>`` with ``type: command``):

===============  ==================================================================================
``command``      argv list, e.g. ``[python, train.py, --model, "{{ labels.model }}"]``; each item is
                 a template and stays one argument whatever it renders to
``timeout``      default ``1h``; the whole process group is killed after it
``working_dir``  default: the bridge's own
``env``          extra variables, each value a template
``inherit_env``  default ``false``: only PATH, HOME, LANG, LC_ALL, TZ and TMPDIR pass through, so
                 the bridge's own secrets never reach the job
===============  ==================================================================================

The program also gets the route's parameters under their own names and ``DRIFT_BRIDGE_DISPATCH_ID``,
``_ROUTE``, ``_STATUS``, ``_FINGERPRINT``, ``_STARTS_AT``, ``_VALUE`` (when known),
``_LABELS_JSON``, ``_ANNOTATIONS_JSON`` and ``DRIFT_BRIDGE_LABEL_<NAME>`` per label (upper-cased,
other characters than letters and digits as ``_``). Precedence, lowest first: inherited, the
``DRIFT_BRIDGE_*`` variables, parameters, ``env``.

Exit status 0 is success. Exit status 75 (``EX_TEMPFAIL`` in sysexits.h: "try again later") is a
retryable failure, for a job that knows its failure is transient (a busy GPU pool, an unreachable
registry). Any other status, a timeout, or a program that cannot be started (not found, not
executable) fails the dispatch at once: a retraining job that failed on its own is not re-run
over and over; it becomes a dead letter to retry by hand once looked at.
"""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

from bridge.config_reader import Reader
from bridge.targets.base import (
    DispatchError,
    DispatchResult,
    FailureReason,
    Job,
    Request,
    invalid,
    stored,
)
from bridge.targets.templates import compile_template, is_templated, render
from bridge.templating import Template
from common.canonical_json import canonical_json

PASS_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
DEFAULT_TIMEOUT = 3600.0
# sysexits.h: "temporary failure; the user is invited to retry".
EX_TEMPFAIL = 75
TAIL_CHARS = 4000
MESSAGE_TAIL_CHARS = 500
# After the timeout, the group gets SIGTERM, then SIGKILL this much later.
KILL_GRACE_SECONDS = 2.0
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


class CommandTarget:
    """Runs a program and waits for it.

    >>> target.send(target.prepare(job)).details["exit_code"]
    0
    """

    type = "command"

    def __init__(
        self,
        name: str,
        command: list[Template],
        timeout: float = DEFAULT_TIMEOUT,
        working_dir: str | None = None,
        env: Mapping[str, Template] | None = None,
        inherit_env: bool = False,
    ) -> None:
        self.name = name
        self.command = command
        self.timeout = timeout
        self.working_dir = working_dir
        self.env = dict(env or {})
        self.inherit_env = inherit_env
        self._running: set[subprocess.Popen[bytes]] = set()
        # Pids ended by interrupt(): their send() reports an interruption, not a failed job.
        self._interrupted: set[int] = set()
        self._lock = threading.Lock()

    def program_problem(self) -> str | None:
        """Why the program cannot be run from here, if it cannot (None when templated).

        Checked on the machine that runs the check: the program may exist only on the serving
        host, so this is a warning for ``check-config`` (an error with ``--strict``).
        """
        program = self.command[0].source
        if is_templated(program):
            return None
        if "/" not in program:
            found = shutil.which(program, path=os.environ.get("PATH", os.defpath))
            return None if found else f"program {program!r} not found on PATH"
        path = program if os.path.isabs(program) else os.path.join(self.working_dir or ".", program)
        if not os.path.exists(path):
            return f"program {path} does not exist"
        if not os.path.isfile(path) or not os.access(path, os.X_OK):
            return f"program {path} is not executable"
        return None

    def interrupt(self) -> None:
        """End every program still running (the bridge is stopping); each attempt is retried."""
        with self._lock:
            running = list(self._running)
            self._interrupted.update(process.pid for process in running)
        for process in running:
            _kill_group(process)

    def prepare(self, job: Job) -> Request:
        """The argv and the variables the bridge sets (inherited ones are added by ``send``)."""
        argv = [render(item, job.variables) for item in self.command]
        if not argv[0]:
            raise invalid(f"{self.command[0].where}: the program name rendered empty")
        env = alert_environment(job)
        env.update(job.parameters)
        env.update({name: render(value, job.variables) for name, value in self.env.items()})
        for name, value in env.items():
            if not name or "=" in name or "\0" in name or "\0" in value:
                raise invalid(f"{name!r} cannot be an environment variable (parameter or env)")
        return {
            "argv": argv,
            "env": env,
            "working_dir": self.working_dir,
            "timeout": self.timeout,
            "inherit_env": self.inherit_env,
        }

    def send(self, request: Request) -> DispatchResult:
        """Run the program once and wait for it (up to the timeout)."""
        run = self._invocation(request)
        started = time.monotonic()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            process = _start(run, out, err)
            status, interrupted = self._wait(process, run.timeout, err)
            elapsed = time.monotonic() - started
            stdout, stderr = _tail(out, TAIL_CHARS), _tail(err, TAIL_CHARS)
        if interrupted:
            raise DispatchError(
                f"command {self.name}: interrupted after {elapsed:.1f}s because the bridge is "
                "stopping; it runs again after the restart",
                retryable=True,
                reason=FailureReason.INTERRUPTED,
                response=stderr,
            )
        if status != 0:
            raise DispatchError(
                f"command {self.name}: {_describe(status)} after {elapsed:.1f}s; stderr: "
                f"{stderr[-MESSAGE_TAIL_CHARS:] or '(empty)'}",
                retryable=status == EX_TEMPFAIL,
                reason=FailureReason.COMMAND_FAILED,
                response=stderr,
            )
        return DispatchResult(
            f"exited 0 after {elapsed:.1f}s",
            {
                "exit_code": 0,
                "duration_seconds": round(elapsed, 3),
                "stdout_tail": stdout,
                "stderr_tail": stderr,
            },
        )

    def _invocation(self, request: Request) -> "_Invocation":
        """What to run, read back from the stored request and checked."""
        argv = [str(item) for item in stored(request, "argv", list)]
        env = {str(k): str(v) for k, v in stored(request, "env", dict).items()}
        working_dir = request.get("working_dir")
        timeout = float(request.get("timeout") or self.timeout)
        inherit = bool(request.get("inherit_env", self.inherit_env))
        if not argv:
            raise invalid("stored request has an empty argv")
        inherited = dict(os.environ) if inherit else _pass_through()
        if working_dir is not None and not os.path.isdir(working_dir):
            raise _cannot_start(f"working directory {working_dir} does not exist")
        return _Invocation(argv, {**inherited, **env}, working_dir, timeout)

    def _wait(
        self, process: "subprocess.Popen[bytes]", timeout: float, err: IO[bytes]
    ) -> tuple[int, bool]:
        """(exit status, whether interrupt() ended it); the group is killed at the timeout."""
        with self._lock:
            self._running.add(process)
        try:
            status = process.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raise DispatchError(
                f"command {self.name}: killed after the {timeout:g}s timeout; stderr: "
                f"{_tail(err, MESSAGE_TAIL_CHARS) or '(empty)'}",
                retryable=False,
                reason=FailureReason.TIMEOUT,
                response=_tail(err, TAIL_CHARS),
            ) from None
        finally:
            with self._lock:
                self._running.discard(process)
                interrupted = process.pid in self._interrupted
                self._interrupted.discard(process.pid)
        return status, interrupted


@dataclass(frozen=True)
class _Invocation:
    """One run of the program, as the stored request describes it."""

    argv: list[str]
    env: dict[str, str]
    working_dir: str | None
    timeout: float


def _start(run: _Invocation, out: IO[bytes], err: IO[bytes]) -> "subprocess.Popen[bytes]":
    """Start the program; one that cannot start fails the dispatch at once."""
    try:
        return subprocess.Popen(
            run.argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=run.env,
            cwd=run.working_dir,
            # Its own process group, so a timeout can end its children too.
            start_new_session=True,
        )
    except FileNotFoundError:
        raise _cannot_start(f"program not found: {run.argv[0]} (PATH and working_dir)") from None
    except PermissionError:
        raise _cannot_start(f"program not executable: {run.argv[0]}") from None
    except OSError as error:
        raise _cannot_start(f"cannot start {run.argv[0]}: {error.strerror}") from None


def alert_environment(job: Job) -> dict[str, str]:
    """The ``DRIFT_BRIDGE_*`` variables for ``job``."""
    variables = job.variables
    labels: Mapping[str, Any] = variables.get("labels") or {}
    annotations: Mapping[str, Any] = variables.get("annotations") or {}
    env = {
        "DRIFT_BRIDGE_DISPATCH_ID": job.dispatch_id,
        "DRIFT_BRIDGE_ROUTE": str(variables.get("route", "")),
        "DRIFT_BRIDGE_STATUS": str(variables.get("status", "")),
        "DRIFT_BRIDGE_FINGERPRINT": str(variables.get("fingerprint", "")),
        "DRIFT_BRIDGE_STARTS_AT": str(variables.get("starts_at", "")),
        "DRIFT_BRIDGE_LABELS_JSON": canonical_json(labels),
        "DRIFT_BRIDGE_ANNOTATIONS_JSON": canonical_json(annotations),
    }
    if variables.get("value") is not None:
        env["DRIFT_BRIDGE_VALUE"] = str(variables["value"])
    for name, value in labels.items():
        env[f"DRIFT_BRIDGE_LABEL_{_NOT_ALNUM.sub('_', str(name)).upper()}"] = str(value)
    return env


def _pass_through() -> dict[str, str]:
    return {name: os.environ[name] for name in PASS_THROUGH if name in os.environ}


def _cannot_start(message: str) -> DispatchError:
    return DispatchError(message, retryable=False, reason=FailureReason.CLIENT_ERROR)


def _kill_group(process: "subprocess.Popen[bytes]") -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after the grace period."""
    _signal_group(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(KILL_GRACE_SECONDS)
    # Even when the leader has exited, its children may still hold on.
    _signal_group(process.pid, signal.SIGKILL)
    process.wait()


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # nothing left in the group
        os.killpg(pgid, signum)


def _describe(status: int) -> str:
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit status {status}"


def _tail(file: IO[bytes], chars: int) -> str:
    """The last ``chars`` characters (roughly: bytes) written to ``file``."""
    file.seek(0, os.SEEK_END)
    size = file.tell()
    file.seek(max(0, size - chars * 4))
    text = file.read().decode("utf-8", errors="replace")
    return text.strip()[-chars:]


def from_config(name: str, reader: Reader) -> CommandTarget | None:
    """Read and check a ``type: command`` target."""
    problems = len(reader.problems)
    argv = reader.strings("command")
    command: list[Template] = []
    if isinstance(argv, list):
        if not argv:
            reader.problem("command", "must name a program: [program, arg, ...]")
        for index, item in enumerate(argv):
            template = compile_template(reader, "command", item)
            if template is not None:
                template.where = reader.key_path("command") + f"[{index}]"
                command.append(template)
    timeout = reader.duration("timeout", DEFAULT_TIMEOUT, minimum=0.001)
    working_dir = reader.file_path("working_dir", None)
    if working_dir is not None and not os.path.isdir(working_dir):
        reader.problem("working_dir", f"{working_dir} is not a directory")
    env_sources = reader.string_map("env", {})
    env: dict[str, Template] = {}
    for env_name, source in env_sources.items():
        if not env_name or "=" in env_name:
            reader.problem("env", f"{env_name!r} cannot be an environment variable name")
            continue
        template = compile_template(reader, f"env.{env_name}", source)
        if template is not None:
            env[env_name] = template
    inherit_env = reader.boolean("inherit_env", False)
    reader.reject_unknown()
    if len(reader.problems) > problems or not command:
        return None
    return CommandTarget(
        name,
        command,
        timeout=timeout,
        working_dir=working_dir,
        env=env,
        inherit_env=inherit_env,
    )
