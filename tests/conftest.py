"""Fixtures every test can use, from tests/support/, and the rule that keeps the fast tier fast."""

pytest_plugins = [
    "tests.support.exporter",
    "tests.support.store_faults",
    "tests.support.tiers",
]
