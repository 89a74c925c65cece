"""The bridge's layout holds: it never imports the exporter, and metric names live in one module."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import bridge
from bridge import metrics

BRIDGE = Path(bridge.__file__).parent

# Imports every bridge module in a fresh interpreter and prints the top-level packages loaded.
_PROBE = """
import importlib, json, pkgutil, sys
import bridge
for module in pkgutil.walk_packages(bridge.__path__, "bridge."):
    importlib.import_module(module.name)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


@pytest.mark.integration
def test_no_bridge_module_imports_the_exporter() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = json.loads(result.stdout)
    assert "bridge" in loaded
    assert "exporter" not in loaded
    assert "pandas" not in loaded


def test_metric_names_are_written_only_in_bridge_metrics() -> None:
    # A name written elsewhere could carry a typo that is stored and never exported.
    found = []
    for path in sorted(BRIDGE.rglob("*.py")):
        if path == Path(metrics.__file__):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, str) and value.startswith("drift_bridge_"):
                found.append(f"{path.relative_to(BRIDGE)}: {value}")
    assert found == []


def test_every_counter_is_defined_with_its_unit_suffix() -> None:
    for name in metrics.COUNTERS:
        assert name.startswith("drift_bridge_")
        assert name.endswith("_total")
