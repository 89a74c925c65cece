"""What `pip install .` ships: the product, no demo harness, a drift-demo asking for a checkout."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from demo.harness.stack import REPO

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_carries_the_product_and_no_demo_harness(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("bridge/cli.py", "exporter/cli.py", "common/durations.py", "demo/cli.py"):
        assert module in names
    # The demo's retraining job is what the Compose demo's bridge runs inside the image.
    assert "demo/retrain_job.py" in names
    assert not [name for name in names if name.startswith(("demo/harness/", "tests/", "bench/"))]


def test_drift_demo_outside_a_checkout_says_it_needs_one(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    shown = subprocess.run(
        [sys.executable, "-c", "import sys; from demo.cli import main; sys.exit(main([]))"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 2
    assert "source checkout" in shown.stderr
    assert "make demo" in shown.stderr
    assert "Traceback" not in shown.stderr
