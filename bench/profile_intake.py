"""Profile the bridge's intake: py-spy samples one worker while wrk posts new episodes.

Prints where the worker's CPU goes (samples of the thread holding the GIL; ``--wall``: of every
busy thread, waits for fsync and the database included), as inclusive and self shares per
function, to find what costs CPU per request and what the floor is.

    .venv/bin/python bench/profile_intake.py [--store postgres] [--seconds 8] [--unique]
"""

import argparse
import collections
import shutil
import subprocess
import tempfile
import threading
from contextlib import ExitStack
from pathlib import Path

from bridge_intake import start_bridges
from support import venv_script, wrk

from tests.support.postgres import PostgresCluster

# Frames of threads that wait (the pool's idle workers, gunicorn's accept loop, our writer's
# queue.get): counting them would drown the work.
_IDLE = ("wait (threading.py", "select (selectors.py", "get (queue.py", "_worker (concurrent")


def summarize(raw: Path, top: int) -> None:
    """Inclusive and self shares per function from py-spy's collapsed stacks."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        frames = stack.split(";")
        if any(frames[-1].startswith(idle) for idle in _IDLE):
            continue
        count = int(count_text)
        total += count
        names = [_name(frame) for frame in frames]
        for name in set(names):
            inclusive[name] += count
        own[names[-1]] += count
    print(f"busy samples: {total}")
    print("inclusive:")
    for name, count in inclusive.most_common(top):
        print(f"  {100 * count / total:5.1f}%  {name}")
    print("self:")
    for name, count in own.most_common(top // 2):
        print(f"  {100 * count / total:5.1f}%  {name}")


def _name(frame: str) -> str:
    function, _, where = frame.partition(" (")
    path = where.split(":")[0]
    parts = path.split("/")
    short = "/".join(parts[-2:]) if "site-packages" not in path else parts[-1]
    return f"{function} ({short})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--resends", action="store_true", help="resends instead of new episodes")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument(
        "--wall",
        action="store_true",
        help="every busy thread (waits for the disk and the database included), not only the"
        " one holding the GIL (CPU spent in Python)",
    )
    args = parser.parse_args()
    args.replicas, args.workers, args.threads = 1, 1, 8
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        cluster = None
        if args.store == "postgres":
            root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
            stack.callback(shutil.rmtree, root, ignore_errors=True)
            cluster = PostgresCluster(root, durable=True)
            cluster.init()
            cluster.start()
            stack.callback(cluster.stop)
        (url,) = start_bridges(stack, work, args, cluster)
        port = url.split(":")[2].split("/")[0]
        master = subprocess.run(
            ["pgrep", "-f", f"drift-bridge.*{work}"], capture_output=True, text=True, check=True
        ).stdout.split()[0]
        worker = subprocess.run(
            ["pgrep", "-P", master], capture_output=True, text=True, check=True
        ).stdout.split()[0]
        load = threading.Thread(
            target=wrk, args=(url, work, not args.resends, args.seconds + 2, 16), daemon=True
        )
        load.start()
        raw = work / "profile.txt"
        subprocess.run(
            [
                venv_script("py-spy"),
                "record",
                "--pid",
                worker,
                "--duration",
                str(args.seconds),
                "--format",
                "raw",
                "--rate",
                "200",
                "--output",
                str(raw),
                "--nonblocking",
                *([] if args.wall else ["--gil"]),
            ],
            check=True,
            capture_output=True,
        )
        load.join()
        view = "busy threads (wall)" if args.wall else "the thread holding the GIL (CPU)"
        print(
            f"bridge on port {port}, store {args.store}, 1 worker x 8 threads; wrk -c16;"
            f" samples of {view}"
        )
        summarize(raw, args.top)


if __name__ == "__main__":
    main()
