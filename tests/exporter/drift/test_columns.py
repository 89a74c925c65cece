"""Real data's date/time and identifier columns are never scored: they would alarm on no drift."""

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from exporter.cli import main
from exporter.drift import DriftSettings, fit_reference, score_frame
from exporter.drift.columns import choose_columns, holds_times, is_id_like

rng = np.random.default_rng(3)


def weather(rows: int) -> pd.DataFrame:
    """Hourly weather readings as a public data set has them: a text hour, an id, numbers."""
    hours = pd.date_range("2013-01-01", periods=rows, freq="h", tz="UTC")
    return pd.DataFrame(
        {
            "station": [f"st-{n:06d}" for n in range(rows)],
            "time_hour": hours.strftime("%Y-%m-%d %H:%M:%S"),
            "temp": rng.normal(55, 17, rows),
            "origin": rng.choice(["EWR", "JFK", "LGA"], rows),
            "visib": rng.choice([10.0, 10.0, 10.0, 5.0, 2.5], rows),
        }
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (pd.to_datetime(["2013-01-01", "2013-01-02"]), True),
        (pd.Series(["2013-01-01 01:00:00", "2013-01-01 02:00:00"]), True),
        (pd.Series(["2013-01-01T06:00:00Z", "2013/01/02"]), True),
        (pd.Series(["2013-01-01", "lyon"]), False),
        (pd.Series(["2013", "2014"]), False),
        (pd.Series([20130101, 20130102]), False),
        (pd.Series(["paris", "nice"]), False),
    ],
)
def test_date_time_columns_are_found_by_dtype_or_by_their_text(
    values: "pd.Series[Any]", expected: bool
) -> None:
    assert holds_times(pd.Series(values)) is expected


def test_identifiers_are_unique_text_or_integers_over_enough_rows() -> None:
    assert is_id_like(pd.Series([f"id-{n}" for n in range(100)]))
    assert is_id_like(pd.Series(range(100)))
    assert not is_id_like(pd.Series(range(5)))  # a tiny sample, not an identifier
    assert not is_id_like(pd.Series(rng.normal(size=100)))  # continuous values are unique too
    assert not is_id_like(pd.Series(["a", "b"] * 50))


def test_the_first_date_time_column_becomes_the_timestamp_and_the_others_are_left_out() -> None:
    frame = weather(50).assign(loaded_at=pd.Timestamp("2024-01-01"))
    choice = choose_columns(frame, timestamp_column=None)
    assert choice.features == ("temp", "origin", "visib")
    assert choice.timestamp_column == "time_hour"
    assert dict(choice.left_out) == {
        "station": "is unique per row (an identifier)",
        "time_hour": "holds date/times: used as the timestamp column",
        "loaded_at": "holds date/times",
    }
    named = choose_columns(frame, timestamp_column="loaded_at")
    assert named.timestamp_column == "loaded_at"
    assert dict(named.left_out)["time_hour"] == "holds date/times"


def test_left_out_columns_are_warned_about_once_each(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="exporter.drift"):
        reference = fit_reference(weather(2000), DriftSettings(), source="weather.csv")
    assert list(reference.columns) == ["temp", "origin", "visib"]
    assert reference.timestamp_column == "time_hour"
    warnings = [r.getMessage() for r in caplog.records if "not scored" in r.getMessage()]
    assert warnings == [
        "weather.csv: column 'station' is unique per row (an identifier); not scored "
        "(name it in --features to score it)",
        "weather.csv: column 'time_hour' holds date/times: used as the timestamp column; not "
        "scored (name it in --features to score it)",
    ]


def test_a_named_categorical_identifier_is_kept() -> None:
    reference = fit_reference(weather(100), DriftSettings(categorical=frozenset({"station"})))
    assert "station" in reference.columns


def test_a_random_split_of_real_looking_data_raises_no_alarm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The false alarm of issue 14: time_hour scored as a category gave drift_score 2.39."""
    data = weather(8000).sample(frac=1, random_state=1)
    data.iloc[:5000].to_csv(tmp_path / "reference.csv", index=False)
    data.iloc[5000:].to_csv(tmp_path / "current.csv", index=False)
    argv = ["score", "--reference", str(tmp_path / "reference.csv")]
    code = main([*argv, "--current", str(tmp_path / "current.csv"), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert [f["feature"] for f in report["features"]] == ["temp", "origin", "visib"]
    assert report["reference"]["timestamp_column"] == "time_hour"
    assert set(report["reference"]["left_out"]) == {"station", "time_hour"}
    assert report["drift_score"] < 0.05
    assert code == 0


def test_a_time_window_uses_the_found_timestamp_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weather(3000).to_csv(tmp_path / "reference.csv", index=False)
    weather(3000).to_csv(tmp_path / "current.csv", index=False)
    argv = ["score", "--reference", str(tmp_path / "reference.csv")]
    argv += ["--current", str(tmp_path / "current.csv"), "--format", "json"]
    code = main([*argv, "--window-time", "1500h", "--min-rows", "100"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["window_rows"] == 1501  # the newest hour and the 1500 hours before it


def test_a_time_window_without_any_timestamp_is_refused_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weather(100).drop(columns="time_hour").to_csv(tmp_path / "reference.csv", index=False)
    argv = ["score", "--reference", str(tmp_path / "reference.csv"), "--current", "x.csv"]
    assert main([*argv, "--window-time", "1h"]) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith("--window-time needs --timestamp-column (the reference has no date/time column)")
    )


def test_scores_agree_with_and_without_naming_the_timestamp() -> None:
    frame = weather(3000)
    settings = DriftSettings()
    found = fit_reference(frame, settings)
    named = fit_reference(frame, settings, timestamp_column="time_hour")
    assert score_frame(found, frame, settings).score == score_frame(named, frame, settings).score
