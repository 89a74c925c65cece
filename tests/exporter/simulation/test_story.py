"""The simulation reproduces the design document exactly and plays it as a story."""

import numpy as np
import pandas as pd
import pytest

from exporter.simulation.simulator import Simulator, UnknownModelError
from exporter.simulation.story import ModelSpec, first_crossing, simulate_scores, simulate_series


def design_document_scores(days: int, seed: int = 42) -> list[float]:
    """The design document's loop, verbatim (global numpy state and all)."""
    np.random.seed(seed)
    scores = []
    for i in range(days):
        current_drift = 0.05 + max(0, i - 20) * 0.015
        noise = np.random.normal(0, 0.02)
        scores.append(max(0, current_drift + noise))
    return scores


@pytest.mark.parametrize("seed", [42, 0, 7, 2**32 - 1])
def test_scores_equal_the_design_documents_loop(seed: int) -> None:
    assert simulate_scores(60, seed).tolist() == design_document_scores(60, seed)


def test_seed_42_stays_below_threshold_for_30_days_and_crosses_on_day_31() -> None:
    scores = simulate_scores(40)
    assert scores[:31].max() <= 0.2
    assert int(np.argmax(scores[:30])) == 29
    assert scores[29] == pytest.approx(0.17917, abs=1e-5)
    assert first_crossing(scores, 0.2) == 31
    assert scores[31] == pytest.approx(0.25205, abs=1e-5)


def test_simulation_does_not_touch_numpys_global_random_state() -> None:
    np.random.seed(1)
    expected = np.random.normal()
    np.random.seed(1)
    simulate_scores(10)
    assert np.random.normal() == expected


def test_series_has_daily_timestamps_ending_on_the_given_day() -> None:
    end = pd.Timestamp("2026-11-25")
    series = simulate_series(35, end=end)
    assert list(series.columns) == ["timestamp", "drift_score"]
    assert series["timestamp"].iloc[-1] == end
    assert series["timestamp"].diff().dropna().eq(pd.Timedelta(days=1)).all()
    assert series["drift_score"].tolist() == design_document_scores(35)


def test_healthy_profile_never_crosses_the_threshold() -> None:
    assert simulate_scores(365, seed=7, profile="healthy").max() < 0.2


def test_negative_days_are_rejected() -> None:
    with pytest.raises(ValueError, match="days must be zero or more"):
        simulate_scores(-1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("churn", ModelSpec("churn", "drifting", 42)),
        ("churn:healthy", ModelSpec("churn", "healthy", 42)),
        ("churn:healthy:7", ModelSpec("churn", "healthy", 7)),
        ("churn::7", ModelSpec("churn", "drifting", 7)),
    ],
)
def test_model_specs_parse(text: str, expected: ModelSpec) -> None:
    assert ModelSpec.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("churn:sideways", "unknown profile 'sideways'"),
        ("churn:drifting:x", "invalid seed 'x'"),
        ("churn:drifting:-1", "seed for model 'churn' must be in"),
        (":drifting", "expected NAME"),
        ("a:b:c:d", "expected NAME"),
        ("bad name", "invalid model name"),
    ],
)
def test_bad_model_specs_are_rejected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelSpec.parse(text)


def test_simulator_plays_each_model_from_its_own_stream() -> None:
    sim = Simulator([ModelSpec("a", "drifting", 42), ModelSpec("b", "healthy", 7)], days=40)
    expected_a = simulate_scores(40, 42)
    expected_b = simulate_scores(40, 7, "healthy")
    for day in range(40):
        a, b = sim.readings()
        assert (a.score, b.score) == (expected_a[day], expected_b[day])
        assert sim.day == day
        assert sim.advance() is (day < 39)
    assert sim.finished
    assert sim.day == 39


def test_retraining_returns_drift_to_baseline_and_the_rise_restarts() -> None:
    sim = Simulator([ModelSpec("a")], days=80, start_day=35)
    assert sim.readings()[0].score > 0.2
    reading = sim.retrain("a")
    assert reading.days_since_reference == 0
    assert reading.retrainings == 1
    assert reading.score < 0.15
    noise = simulate_scores(80) - np.array([0.05 + max(0, d - 20) * 0.015 for d in range(80)])
    # 21 days later the new reference starts drifting again, with the same noise stream.
    for _ in range(21):
        sim.advance()
    assert sim.readings()[0].score == pytest.approx(max(0, 0.05 + 0.015 + noise[56]))


def test_simulator_rejects_bad_setups() -> None:
    with pytest.raises(ValueError, match="model named more than once: a"):
        Simulator([ModelSpec("a"), ModelSpec("a", "healthy")], days=10)
    with pytest.raises(ValueError, match=r"start day must be in \[0, 9\]"):
        Simulator([ModelSpec("a")], days=10, start_day=10)
    with pytest.raises(UnknownModelError):
        Simulator([ModelSpec("a")], days=10).retrain("b")
