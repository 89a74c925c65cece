"""Retention settings and the pruning thread (what is pruned: the store contract suite)."""

from typing import Any

import pytest
from flask.testing import FlaskClient

from bridge.retention import DAY, Pruner, RetentionSettings
from bridge.store import SQLiteStore
from bridge.web.app import create_app
from demo.harness.processes import wait_until
from tests.support.bridge import ConfigWriter, auth_headers
from tests.support.fixtures import body


def metrics(client: FlaskClient) -> str:
    return client.get("/metrics").get_data(as_text=True)


def test_retention_defaults_keep_a_month_of_notifications_and_a_quarter_of_attempts(
    write_config: ConfigWriter, config_data: dict[str, Any]
) -> None:
    retention = write_config(config_data).retention
    assert (retention.enabled, retention.notifications, retention.attempts) == (
        True,
        30 * DAY,
        90 * DAY,
    )


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"notifications": "30 days"}, "retention.notifications: invalid duration"),
        ({"attempts": "0s"}, "retention.attempts: must be at least 1s"),
        ({"batch": 0}, "retention.batch: must be at least 1"),
        ({"keep": "1d"}, "retention.keep: unknown setting"),
    ],
)
def test_bad_retention_settings_name_the_key(
    write_config: ConfigWriter,
    config_data: dict[str, Any],
    settings: dict[str, Any],
    expected: str,
) -> None:
    config_data["retention"] = settings
    with pytest.raises(ValueError, match=expected):
        write_config(config_data)


def test_the_pruner_deletes_old_records_in_the_background_and_metrics_count_them(
    write_config: ConfigWriter, config_data: dict[str, Any]
) -> None:
    config_data["routes"][0]["dry_run"] = True
    config = write_config(config_data)
    store = SQLiteStore(config.store_path)
    client = create_app(config, store).test_client()
    for _ in range(3):  # one episode and two resends
        assert client.post("/alerts", json=body("firing-single-bearer"), headers=auth_headers())
    resolved = body("resolved-single-bearer")
    assert client.post("/alerts", json=resolved, headers=auth_headers()).status_code == 200
    # Everything is older than a retention of one second, a little later.
    pruner = Pruner(
        store,
        RetentionSettings(notifications=1.0, attempts=1.0, interval=0.1, batch=2),
        clock=lambda: 2e9,
    )
    pruner.start()
    try:
        wait_until(
            lambda: 'pruned_rows_total{table="notifications"} 4.0' in metrics(client) or None,
            10,
            "the four notifications to be pruned",
            interval=0.1,
        )
    finally:
        pruner.stop()
    assert store.list_dispatches(None, None, 10, 0) == []
    assert 'drift_bridge_store_pruned_rows_total{table="dispatches"} 1.0' in metrics(client)
