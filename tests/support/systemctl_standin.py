"""A stand-in for ``systemctl`` where systemd is not PID 1 (this machine, a container).

Used by tests/system/test_install.py only, inside a throwaway mount, network and PID namespace:
``start``, ``restart`` and ``enable --now`` run what the unit files say (``User``/``Group``,
``EnvironmentFile``, ``Environment``, ``StateDirectory``, ``WorkingDirectory``,
``ExecStartPre`` then ``ExecStart`` in the background, ``$VAR``/``${VAR}`` and ``%i``
expanded as systemd does). The sandboxing options are not applied here: ``systemd-analyze
verify`` checks them in tests/system/test_systemd.py. Logs go to ``$STANDIN_DIR/<unit>.log``.
"""

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

UNIT_DIRS = (Path("/etc/systemd/system"), Path("/lib/systemd/system"))


def unit_file(unit: str) -> tuple[Path, str]:
    """The file of ``unit`` (a template's for an instance) and the instance name."""
    name, _, instance = unit.removesuffix(".service").partition("@")
    file_name = f"{name}@.service" if instance else f"{name}.service"
    for directory in UNIT_DIRS:
        if (directory / file_name).exists():
            return directory / file_name, instance
    raise SystemExit(f"Unit {unit} not found.")


def service_section(path: Path) -> list[tuple[str, str]]:
    """The ``[Service]`` keys in order (a key may repeat), continuation lines joined."""
    entries: list[tuple[str, str]] = []
    section = ""
    text = re.sub(r"\\\n", " ", path.read_text())
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
        elif section == "[Service]":
            key, _, value = line.partition("=")
            entries.append((key.strip(), value.strip()))
    return entries


def environment(entries: list[tuple[str, str]], instance: str) -> dict[str, str]:
    """Variables from ``EnvironmentFile`` (``-`` prefix: optional) and ``Environment``."""
    env: dict[str, str] = {}
    for key, value in entries:
        if key == "EnvironmentFile":
            optional = value.startswith("-")
            path = Path(value.lstrip("-").replace("%i", instance))
            if not path.exists():
                if optional:
                    continue
                raise SystemExit(f"Failed to load environment file {path}")
            for line in path.read_text().splitlines():
                if "=" in line and not line.lstrip().startswith("#"):
                    name, _, val = line.partition("=")
                    env[name.strip()] = val.strip().strip('"').strip("'")
        elif key == "Environment":
            for word in shlex.split(value):
                name, _, val = word.partition("=")
                env[name] = val
    return env


def command(line: str, env: dict[str, str], instance: str) -> list[str]:
    """An Exec line as argv: ``${VAR}`` is one word, a lone ``$VAR`` splits on white space."""
    words: list[str] = []
    for word in shlex.split(line.lstrip("-@+!:").replace("%i", instance)):
        lone = re.fullmatch(r"\$(\w+)", word)
        if lone:
            words.extend(env.get(lone[1], "").split())
        else:
            words.append(re.sub(r"\$\{(\w+)\}", lambda m: env.get(m[1], ""), word))
    return words


def start(unit: str, log_dir: Path) -> None:
    """Run the unit's ExecStartPre lines, then its ExecStart in the background."""
    path, instance = unit_file(unit)
    entries = service_section(path)
    settings = dict(entries)
    env = {**os.environ, **environment(entries, instance)}
    user = settings.get("User")
    group = settings.get("Group", user)
    as_user = ["setpriv", f"--reuid={user}", f"--regid={group}", "--init-groups"] if user else []
    for state in settings.get("StateDirectory", "").split():
        directory = Path("/var/lib") / state
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, int(settings.get("StateDirectoryMode", "0755"), 8))
        if user:
            subprocess.run(["chown", f"{user}:{group}", str(directory)], check=True)
    cwd = settings.get("WorkingDirectory", "/").lstrip("-")
    stop(unit, log_dir)
    log = (log_dir / f"{unit}.log").open("ab")
    for key, value in entries:
        if key == "ExecStartPre":
            argv = command(value, env, instance)
            done = subprocess.run([*as_user, *argv], cwd=cwd, env=env, stdout=log, stderr=log)
            if done.returncode != 0 and not value.startswith("-"):
                raise SystemExit(f"{unit}: ExecStartPre {argv[0]} exited {done.returncode}")
    argv = command(settings["ExecStart"], env, instance)
    process = subprocess.Popen(
        [*as_user, *argv], cwd=cwd, env=env, stdout=log, stderr=log, start_new_session=True
    )
    (log_dir / f"{unit}.pid").write_text(str(process.pid))


def stop(unit: str, log_dir: Path) -> None:
    """End the unit's process group, if it runs."""
    pid_file = log_dir / f"{unit}.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
        pid_file.unlink()


def main(argv: list[str]) -> int:
    """``systemctl VERB [--now] UNIT...`` for the verbs the README uses."""
    log_dir = Path(os.environ["STANDIN_DIR"])
    verb, *rest = argv
    now = "--now" in rest
    units = [u if u.endswith(".service") else f"{u}.service" for u in rest if u != "--now"]
    if verb == "daemon-reload":
        return 0
    if verb in ("start", "restart") or (verb == "enable" and now):
        for unit in units:
            start(unit, log_dir)
        return 0
    if verb == "enable":
        return 0
    if verb == "stop":
        for unit in units:
            stop(unit, log_dir)
        return 0
    raise SystemExit(f"systemctl stand-in: {verb} is not supported")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
