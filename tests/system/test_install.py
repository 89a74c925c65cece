"""The README's "Install on Debian" block, pasted as it is, ends with a test alert at the bridge.

It runs as root with the real binaries (pip, adduser, openssl, Debian's Prometheus and
Alertmanager with their own unit files, the bridge's unit), inside a throwaway mount, network
and PID namespace: /etc, /opt, /var/lib and /srv are overlays whose writes vanish with the
namespace, loopback is private (the README's default ports are free), and every process dies
with it. Two stand-ins: ``systemctl`` (tests/support/systemctl_standin.py), as systemd is not
PID 1 here, and ``apt-get``, which only checks that the packages are installed (the namespace
has no network, and the Makefile installs them); pip reads the project's dependencies from a
wheelhouse downloaded before.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
STANDIN = REPO / "tests" / "support" / "systemctl_standin.py"
ISOLATED = ("/etc", "/opt", "/var/lib", "/srv")


def install_block() -> str:
    """The first ``sh`` block of the README's "Install on Debian" section."""
    text = README.read_text()
    start = text.index("## Install on Debian\n")
    match = re.compile(r"```sh\n(.*?)```", re.S).search(text, start)
    assert match is not None
    return match.group(1)


def driver(work: Path, checkout: Path) -> str:
    """Isolate, refuse to go on unless isolated, then run the block from the checkout."""
    overlays = "\n".join(
        f"mkdir -p {work}/ovl/up{d} {work}/ovl/work{d}\n"
        f"mount -t overlay overlay -o lowerdir={d},upperdir={work}/ovl/up{d},"
        f"workdir={work}/ovl/work{d} {d}"
        for d in ISOLATED
    )
    checks = "\n".join(
        f'mountpoint -q {d} || {{ echo "not isolated: {d}" >&2; exit 99; }}' for d in ISOLATED
    )
    return f"""set -eu
mount --make-rprivate /
mkdir -p {work}/ovl
mount -t tmpfs tmpfs {work}/ovl
{overlays}
{checks}
ip link set lo up
# A host has a private address; Alertmanager's cluster listener needs one to advertise.
ip link add drift-test0 type veth peer name drift-test1
ip addr add 10.254.254.1/24 dev drift-test0
ip link set drift-test1 up
ip link set drift-test0 up
export PATH={work}/bin:$PATH STANDIN_DIR={work}/units
export PIP_NO_INDEX=1 PIP_FIND_LINKS={work}/wheelhouse
cd {checkout}
{install_block()}
echo INSTALL-DONE
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="the install runs as root, as the README says")
def test_the_install_section_works_when_pasted_in_order(tmp_path: Path) -> None:
    for tool in ("unshare", "setpriv", "adduser", "ip", "prometheus", "prometheus-alertmanager"):
        assert shutil.which(tool), f"{tool} is needed"
    checkout = tmp_path / "checkout"
    shutil.copytree(
        REPO,
        checkout,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "bench", "*.egg-info", "build", "__pycache__", ".*_cache"
        ),
    )
    # The namespace has no network: what `pip install .` needs waits in a wheelhouse, found
    # through pip's own environment variables (the README's command stays as it is).
    wheelhouse = tmp_path / "wheelhouse"
    for wanted in (["setuptools>=68", "wheel"], [str(checkout)]):
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--dest", wheelhouse, *wanted],
            check=True,
            timeout=600,
        )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(f'#!/bin/sh\nexec {sys.executable} {STANDIN} "$@"\n')
    systemctl.chmod(0o755)
    apt_get = bin_dir / "apt-get"
    apt_get.write_text(
        '#!/bin/sh\n[ "$1" = install ] && shift || exit 1\nfor p in "$@"; do\n'
        '  case "$p" in -*) ;; *) dpkg -s "$p" >/dev/null || exit 100;; esac\ndone\n'
    )
    apt_get.chmod(0o755)
    (tmp_path / "units").mkdir()
    script = tmp_path / "install.sh"
    script.write_text(driver(tmp_path, checkout))
    process = subprocess.Popen(
        ["unshare", "--mount", "--net", "--pid", "--kill-child", "--mount-proc", "sh", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=900)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"the install did not finish:\n{output[-4000:]}\n{logs(tmp_path)}")
    (tmp_path / "output.txt").write_text(output)
    assert process.returncode == 0, f"{output[-4000:]}\n{logs(tmp_path)}"
    assert "INSTALL-DONE" in output
    # The last command printed the bridge's record of the test alert: a dry-run dispatch.
    assert '"model": "install-check"' in output
    assert '"state": "dry_run"' in output
    # Nothing leaked out of the namespace.
    assert not Path("/etc/drift-bridge").exists()
    assert not Path("/opt/drift-retrain-bridge").exists()


def logs(work: Path) -> str:
    """What the services wrote, for a failure's message."""
    return "\n".join(
        f"== {p.name}\n{p.read_text()[-2000:]}" for p in (work / "units").glob("*.log")
    )
