"""Backoff between attempts."""

import random

import pytest

from bridge.backoff import BackoffPolicy


def test_backoff_doubles_up_to_the_maximum() -> None:
    policy = BackoffPolicy(initial_delay=1, multiplier=2, max_delay=10)
    assert [policy.base_delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_jitter_stays_between_half_and_the_full_delay() -> None:
    policy = BackoffPolicy(initial_delay=4, multiplier=2, max_delay=100)
    rng = random.Random(1)
    delays = [policy.next_delay(2, rng=rng) for _ in range(1000)]
    assert min(delays) >= 4
    assert max(delays) <= 8
    assert max(delays) - min(delays) > 3  # actually spread


def test_a_targets_retry_after_is_a_floor_even_beyond_the_maximum() -> None:
    policy = BackoffPolicy(initial_delay=1, max_delay=60)
    assert policy.next_delay(1, retry_after=3600) == 3600
    assert policy.next_delay(1, retry_after=0.1) >= 0.5


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert BackoffPolicy(max_delay=300).base_delay(10_000) == pytest.approx(300)
