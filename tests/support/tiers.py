"""The fast tier starts no process: a test that does must be marked ``integration``.

``pytest -m "not integration"`` is the tier to run while editing. This plugin makes the mark
honest: a test without it that starts a process fails, naming the mark to add.
"""

import subprocess
from typing import Any

import pytest


class ProcessInFastTierError(AssertionError):
    """A test outside the integration tier started a process."""


@pytest.fixture(autouse=True)
def _fast_tier_starts_no_process(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    if request.node.get_closest_marker("integration") is None:

        def refuse(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
            raise ProcessInFastTierError(
                f"{request.node.nodeid} starts a process ({args!r}): "
                "mark it @pytest.mark.integration"
            )

        monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
