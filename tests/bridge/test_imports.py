"""The bridge stands on its own: it never imports the exporter (shared helpers live in common/)."""

import json
import subprocess
import sys

# Imports every bridge module in a fresh interpreter and prints the top-level packages loaded.
_PROBE = """
import importlib, json, pkgutil, sys
import bridge
for module in pkgutil.walk_packages(bridge.__path__, "bridge."):
    if module.name == "bridge.demo" or module.name.startswith("bridge.demo."):
        continue  # the demo plumbing leaves the package (issue 8: top-level demo/)
    importlib.import_module(module.name)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_no_bridge_module_imports_the_exporter() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = json.loads(result.stdout)
    assert "bridge" in loaded
    assert "exporter" not in loaded
    assert "pandas" not in loaded
