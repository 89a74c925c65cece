"""A reference fitted once, windows of current data, per-feature scores and the model's score."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon

from exporter.drift import DriftSettings, InputError, fit_reference, score_frame
from exporter.drift.reference import CategoricalReference, NumericReference
from exporter.drift.scoring import aggregate
from exporter.drift.settings import ScoreUnavailable
from exporter.drift.stats import psi
from exporter.drift.window import Window, WindowSpec

rng = np.random.default_rng(7)


def frame(
    rows: int, shift: float = 0.0, cities: tuple[str, ...] = ("lyon", "nice")
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": rng.normal(40 + shift, 10, rows),
            "income": rng.lognormal(10, 1, rows),
            "city": rng.choice(cities, rows),
        }
    )


def test_text_columns_are_categorical_and_numbers_numeric() -> None:
    reference = fit_reference(frame(2000), DriftSettings())
    assert isinstance(reference.columns["age"], NumericReference)
    assert isinstance(reference.columns["city"], CategoricalReference)
    assert list(reference.columns) == ["age", "income", "city"]


def test_categorical_scores_put_unseen_categories_in_their_own_bucket() -> None:
    settings = DriftSettings(methods=("psi", "js"), min_rows=1)
    reference = pd.DataFrame({"city": ["lyon"] * 60 + ["nice"] * 40})
    current = pd.DataFrame({"city": ["lyon"] * 30 + ["nice"] * 50 + ["lille"] * 15 + [None] * 5})
    result = score_frame(fit_reference(reference, settings), current, settings)
    city = result.features[0]
    assert (city.values, city.missing, city.unseen) == (95, 5, 15)
    ref_counts, cur_counts = np.array([60, 40, 0]), np.array([30, 50, 15])
    assert city.scores["psi"] == pytest.approx(psi(ref_counts, cur_counts, settings.epsilon))
    assert city.scores["js"] == pytest.approx(jensenshannon(ref_counts, cur_counts, base=2))


def test_integer_codes_read_with_gaps_match_their_reference_categories() -> None:
    settings = DriftSettings(min_rows=1, categorical=frozenset({"plan"}))
    reference = fit_reference(pd.DataFrame({"plan": [1, 2, 3, 1]}), settings)
    # A CSV column of integers with an empty cell is read as floats: 1.0 must still be "1".
    current = pd.DataFrame({"plan": [1.0, 2.0, np.nan, 3.0, 1.0]})
    feature = score_frame(reference, current, settings).features[0]
    assert (feature.unseen, feature.missing) == (0, 1)
    assert feature.scores["psi"] == pytest.approx(0.0)


def test_ks_and_wasserstein_skip_categorical_features() -> None:
    settings = DriftSettings(methods=("ks", "psi"), min_rows=10)
    reference = fit_reference(frame(500), settings)
    result = score_frame(reference, frame(500), settings)
    assert set(result.features[2].scores) == {"psi"}
    assert set(result.features[0].scores) == {"ks", "psi"}
    # drift_score comes from the first method, over the features that have it.
    assert result.score == max(f.scores["ks"] for f in result.features[:2])


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [("max", 0.5), ("mean", (0.05 + 0.3 + 0.5) / 3), ("share", 2 / 3)],
)
def test_aggregation_of_feature_scores(aggregation: str, expected: float) -> None:
    settings = DriftSettings(aggregation=aggregation, feature_threshold=0.2)
    assert aggregate([0.05, 0.3, 0.5], settings) == pytest.approx(expected)


def test_drift_score_aggregates_the_first_methods_feature_scores() -> None:
    settings = DriftSettings(methods=("psi", "js"), aggregation="share", feature_threshold=0.2)
    reference = fit_reference(frame(20_000), settings)
    result = score_frame(reference, frame(5000, shift=8), settings)
    assert result.drifted == ("age",)
    assert result.score == pytest.approx(1 / 3)
    assert result.features[0].scores["psi"] > 0.2 > result.features[1].scores["psi"]


def test_no_score_below_the_minimum_window_with_the_reason() -> None:
    settings = DriftSettings(min_rows=1000)
    reference = fit_reference(frame(5000), settings)
    small = score_frame(reference, frame(999), settings)
    assert small.score is None
    assert small.unavailable == ScoreUnavailable.WINDOW_TOO_SMALL
    assert "999 rows, fewer than the minimum 1000" in small.detail
    empty = score_frame(reference, frame(0), settings)
    assert (empty.score, empty.unavailable) == (None, ScoreUnavailable.NO_DATA)
    assert score_frame(reference, frame(1000), settings).score is not None


def test_a_feature_with_too_few_values_is_left_out_of_the_score() -> None:
    settings = DriftSettings(min_rows=100)
    reference = fit_reference(frame(1000), settings)
    current = frame(150)
    current.loc[:60, "age"] = np.nan  # 89 values left
    result = score_frame(reference, current, settings)
    age = result.features[0]
    assert (age.values, age.missing, age.scores) == (89, 61, {})
    assert result.score == max(f.scores["psi"] for f in result.features[1:])
    current["income"] = np.nan
    current["city"] = None
    nothing = score_frame(reference, current, settings)
    assert (nothing.score, nothing.unavailable) == (None, ScoreUnavailable.TOO_FEW_VALUES)


def test_reference_check_names_a_missing_column_and_a_type_change() -> None:
    reference = fit_reference(frame(100), DriftSettings())
    with pytest.raises(InputError, match=r"new.csv: missing column\(s\) city") as missing:
        reference.check(frame(10).drop(columns="city"), "new.csv")
    assert missing.value.reason == "missing_column"
    changed = frame(10).assign(age=["x"] + [str(v) for v in range(9)])
    with pytest.raises(InputError, match=r"'age' holds text, the reference numbers") as typed:
        reference.check(changed, "new.csv")
    assert typed.value.reason == "type_mismatch"
    assert "'x' in data row 1" in str(typed.value)
    # A column with nothing in it has no type to disagree with.
    reference.check(frame(10).assign(city=np.nan), "new.csv")


def test_a_reference_column_without_values_is_refused() -> None:
    with pytest.raises(ValueError, match="column 'age' has no values"):
        fit_reference(frame(10).assign(age=np.nan), DriftSettings())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"methods": ("psi", "chi2")}, "unknown method 'chi2'"),
        ({"methods": ("psi", "psi")}, "more than once"),
        ({"aggregation": "median"}, "unknown aggregation 'median'"),
        ({"bins": 1}, "bins must be between 2 and 1000"),
        ({"min_rows": 0}, "1 row or more"),
    ],
)
def test_bad_settings_are_refused_when_made(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DriftSettings(**kwargs)  # type: ignore[arg-type]


def test_row_window_keeps_the_latest_rows_across_chunks() -> None:
    window = Window(WindowSpec(rows=5), ["v"])
    for start in (0, 3, 6):
        chunk = pd.DataFrame({"v": [float(start + i) for i in range(3)], "other": 0})
        window.extend(window.prepare(chunk, "chunk"))
    assert window.rows == 5
    assert window.column("v").tolist() == [4.0, 5.0, 6.0, 7.0, 8.0]
    window.clear()
    assert (window.rows, window.column("v").tolist()) == (0, [])


def test_time_window_keeps_rows_within_the_span_of_the_newest() -> None:
    window = Window(WindowSpec(seconds=3600, timestamp_column="ts"), ["v"])
    first = pd.DataFrame({"ts": ["2026-01-01T00:45:00", "2026-01-01T01:30:00"], "v": [1.0, 2.0]})
    second = pd.DataFrame({"ts": [1767231000.0, 1767232800.0], "v": [3.0, 4.0]})  # 01:30, 02:00
    window.extend(window.prepare(first, "a.csv"))
    assert window.rows == 2
    window.extend(window.prepare(second, "b.csv"))
    assert window.column("v").tolist() == [2.0, 3.0, 4.0]


def test_time_window_refuses_rows_without_a_time() -> None:
    window = Window(WindowSpec(seconds=60, timestamp_column="ts"), ["v"])
    bad = pd.DataFrame({"ts": ["2026-01-01", "soon"], "v": [1.0, 2.0]})
    with pytest.raises(InputError, match=r"'soon' in data row 2 is not a date/time"):
        window.prepare(bad, "b.csv")
    with pytest.raises(InputError, match="no timestamp column 'ts'"):
        window.prepare(bad.drop(columns="ts"), "b.csv")


def test_window_spec_is_validated() -> None:
    with pytest.raises(ValueError, match="not both"):
        WindowSpec(rows=10, seconds=60, timestamp_column="ts")
    with pytest.raises(ValueError, match="needs --timestamp-column"):
        WindowSpec(seconds=60)


def test_scores_are_finite_on_adversarial_columns() -> None:
    settings = DriftSettings(methods=("psi", "js", "ks", "wasserstein"), min_rows=1)
    reference = pd.DataFrame({"c": [3.0] * 50, "t": [0.0, 1.0] * 25})
    current = pd.DataFrame({"c": [3.0, 4.0, np.nan], "t": [np.inf, 2.0, 2.0]})
    result = score_frame(fit_reference(reference, settings), current, settings)
    for feature in result.features:
        assert all(math.isfinite(v) for v in feature.scores.values()), feature
    assert result.features[0].scores["ks"] == pytest.approx(0.5)
