"""Intake decisions, taken by calling record_notification directly (no Flask, no HTTP)."""

import json
from typing import Any

from bridge.config import BridgeConfig
from bridge.intake import IntakeResult, record_notification
from bridge.payload import parse_notification
from bridge.store import SQLiteStore
from bridge.store.records import Decision, DispatchState
from tests.support.bridge import ConfigWriter
from tests.support.fixtures import body

NOW = 1_800_000_000.0


def intake(
    store: SQLiteStore, config: BridgeConfig, payload: dict[str, Any], now: float = NOW
) -> IntakeResult:
    return record_notification(
        store, config, parse_notification(payload), payload=json.dumps(payload), now=now
    )


def decisions(result: IntakeResult) -> list[Decision]:
    return [outcome.decision for outcome in result.outcomes]


def test_a_new_episode_plans_one_dispatch_and_a_resend_is_a_duplicate(
    store: SQLiteStore, config: BridgeConfig
) -> None:
    first = intake(store, config, body("firing-single-bearer"))
    assert decisions(first) == [Decision.NEW_EPISODE]
    assert first.dispatches_created == 1
    (outcome,) = first.outcomes
    assert outcome.dispatch_state == DispatchState.PENDING
    again = intake(store, config, body("firing-single-bearer"), now=NOW + 60)
    assert decisions(again) == [Decision.DUPLICATE]
    assert again.dispatches_created == 0
    assert again.outcomes[0].dispatch_id == outcome.dispatch_id


def test_a_new_episode_inside_the_cooldown_is_skipped(
    store: SQLiteStore, write_config: ConfigWriter, config_data: dict[str, Any]
) -> None:
    config_data["routes"][0]["cooldown"] = "1h"
    config = write_config(config_data)
    first = intake(store, config, body("firing-single-bearer"))
    later = body("firing-single-bearer")
    later["alerts"][0]["startsAt"] = "2026-11-25T09:00:00Z"  # a new episode, same model
    skipped = intake(store, config, later, now=NOW + 600)
    assert decisions(skipped) == [Decision.COOLDOWN_SKIPPED]
    assert skipped.dispatches_created == 0
    assert f"dispatch {first.outcomes[0].dispatch_id} was 600s ago" in skipped.outcomes[0].reason
    after = body("firing-single-bearer")
    after["alerts"][0]["startsAt"] = "2026-11-25T10:30:00Z"
    assert decisions(intake(store, config, after, now=NOW + 3601)) == [Decision.NEW_EPISODE]


def test_a_resolution_closes_its_episode_once(store: SQLiteStore, config: BridgeConfig) -> None:
    intake(store, config, body("firing-single-bearer"))
    resolved = intake(store, config, body("resolved-single-bearer"), now=NOW + 60)
    assert decisions(resolved) == [Decision.RESOLVED]
    assert resolved.dispatches_created == 0  # on_resolve: record
    again = intake(store, config, body("resolved-single-bearer"), now=NOW + 120)
    assert decisions(again) == [Decision.RESOLVED_DUPLICATE]


def test_a_resolution_never_seen_firing_is_recorded_and_dispatches_nothing(
    store: SQLiteStore, config: BridgeConfig
) -> None:
    result = intake(store, config, body("resolved-single-bearer"))
    assert decisions(result) == [Decision.RESOLVED_UNKNOWN]
    assert result.dispatches_created == 0
    # The episode is known now: its late firing notification is a duplicate, not a dispatch.
    late = intake(store, config, body("firing-single-bearer"), now=NOW + 60)
    assert decisions(late) == [Decision.DUPLICATE]
    assert store.list_dispatches(None, None, 10, 0) == []
