"""Fixtures every test directory can use, registered once (tests never import conftest)."""

pytest_plugins = ["tests.support.postgres"]
