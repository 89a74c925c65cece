"""Helpers every test directory can use, registered as fixtures (never imported from here)."""

pytest_plugins = ["tests.support.store_faults"]
