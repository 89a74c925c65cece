"""Fixtures every test can use, from tests/support/, and the rule that keeps the fast tier fast."""

pytest_plugins = [
    "tests.support.bridge",
    "tests.support.exporter",
    "tests.support.kubernetes",
    "tests.support.postgres",
    "tests.support.pushgateway",
    "tests.support.spark",
    "tests.support.store_faults",
    "tests.support.targets",
    "tests.support.tiers",
]
