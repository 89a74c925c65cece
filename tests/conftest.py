"""Fixtures every test directory can use; the helpers themselves live in tests/support."""

pytest_plugins = [
    "tests.support.pushgateway",
    "tests.support.spark",
]
