"""``check_drift_and_trigger`` keeps the design document's contract."""

from pathlib import Path

import pandas as pd
import pytest

from exporter.check import EmptyDataWarning, check_drift_and_trigger, read_scores_csv
from exporter.simulation.story import simulate_series


def frame(*scores: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2026-01-01", periods=len(scores), freq="D"),
            "drift_score": list(scores),
        }
    )


def test_latest_score_above_threshold_triggers() -> None:
    assert check_drift_and_trigger(frame(0.1, 0.25), 0.2) == (True, 0.25)


@pytest.mark.parametrize("latest", [0.2, 0.19, 0.0])
def test_latest_score_at_or_below_threshold_does_not_trigger(latest: float) -> None:
    assert check_drift_and_trigger(frame(0.9, latest), 0.2) == (False, latest)


def test_only_the_latest_score_counts() -> None:
    assert check_drift_and_trigger(frame(0.5, 0.5, 0.1), 0.2) == (False, 0.1)


def test_unsorted_rows_are_sorted_by_timestamp() -> None:
    data = frame(0.1, 0.3).iloc[::-1]
    assert check_drift_and_trigger(data, 0.2) == (True, 0.3)


def test_empty_data_warns_and_returns_none() -> None:
    with pytest.warns(EmptyDataWarning, match="no monitoring data"):
        assert check_drift_and_trigger(frame(), 0.2) == (False, None)


def test_missing_columns_are_named() -> None:
    with pytest.raises(ValueError, match="lacks column\\(s\\): drift_score"):
        check_drift_and_trigger(pd.DataFrame({"timestamp": []}), 0.2)


def test_design_document_series_triggers_only_once_it_runs_past_30_days() -> None:
    assert check_drift_and_trigger(simulate_series(30), 0.2)[0] is False
    triggered, score = check_drift_and_trigger(simulate_series(32), 0.2)
    assert triggered is True
    assert score == pytest.approx(0.25205, abs=1e-5)


def test_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    path.write_text("timestamp,drift_score\n2026-01-02,0.3\n2026-01-01T12:00:00,0.1\n")
    data = read_scores_csv(path)
    assert data["drift_score"].tolist() == [0.3, 0.1]
    assert check_drift_and_trigger(data, 0.2) == (True, 0.3)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "file is empty"),
        ("time,score\n2026-01-01,0.3\n", r"missing column\(s\) timestamp, drift_score"),
        ("timestamp,drift_score\n2026-01-01,0.1\n2026-01-02,high\n", "line 3: drift_score 'high'"),
        ("timestamp,drift_score\n2026-01-01,\n", "line 2: drift_score '' is not a finite"),
        ("timestamp,drift_score\n2026-01-01,inf\n", "line 2: drift_score 'inf'"),
        ("timestamp,drift_score\nyesterday,0.1\n", "line 2: timestamp 'yesterday'"),
    ],
)
def test_bad_csv_input_names_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "scores.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_scores_csv(path)


def test_missing_csv_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"nope\.csv: no such file"):
        read_scores_csv(tmp_path / "nope.csv")
