"""``drift-exporter score``: the report, its exit status, and one-line errors for bad input."""

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exporter.drift import DriftSettings, fit_reference, score_frame
from exporter.drift.sources import Source, read_table
from tests.support.exporter import RunExporter

rng = np.random.default_rng(11)


def make_frame(rows: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": rng.normal(40 + shift, 10, rows).round(),
            "income": rng.lognormal(10, 1, rows),
            "city": rng.choice(["lyon", "nice", "paris"], rows),
        }
    )


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    path = tmp_path / "ref.parquet"
    make_frame(5000).to_parquet(path)
    return path


def test_score_prints_each_feature_and_the_model_score(
    tmp_path: Path, reference: Path, run_exporter: RunExporter
) -> None:
    current = make_frame(2000, shift=6)
    current.to_csv(tmp_path / "cur.csv", index=False)
    settings = DriftSettings(methods=("psi", "ks"))
    expected = score_frame(fit_reference(pd.read_parquet(reference), settings), current, settings)
    argv = ["score", "--reference", str(reference), "--current", str(tmp_path / "cur.csv")]
    code, out, err = run_exporter(*argv, "--method", "psi,ks", "--format", "json")
    report = json.loads(out)
    assert report["drift_score"] == pytest.approx(expected.score)
    for shown, feature in zip(report["features"], expected.features, strict=True):
        assert shown["scores"] == pytest.approx(feature.scores)
    assert report["window_rows"] == 2000
    assert code == (1 if expected.score is not None and expected.score > 0.2 else 0)
    assert err == ""

    code, table, _ = run_exporter(*argv, "--method", "psi,ks", "--threshold", "100")
    assert code == 0
    header = ["feature", "kind", "values", "missing", "unseen", "psi", "ks"]
    assert table.splitlines()[0].split() == header
    assert f"{expected.features[0].scores['psi']:.4f}" in table.splitlines()[1]
    assert f"drift_score {expected.score:.4f} (max of psi over 3 feature(s), 2000 rows)" in table


def test_score_exits_1_on_drift_and_0_without(
    tmp_path: Path, reference: Path, run_exporter: RunExporter
) -> None:
    make_frame(3000, shift=15).to_csv(tmp_path / "drifted.csv", index=False)
    make_frame(3000).to_csv(tmp_path / "same.csv", index=False)
    base = ["score", "--reference", str(reference), "--current"]
    assert run_exporter(*base, str(tmp_path / "drifted.csv"))[0] == 1
    assert run_exporter(*base, str(tmp_path / "same.csv"))[0] == 0


def test_score_reads_a_directory_in_name_order_and_windows_the_latest_rows(
    tmp_path: Path, reference: Path, run_exporter: RunExporter
) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    old, new = make_frame(2000, shift=20), make_frame(1500)
    old.to_csv(incoming / "2026-01-01.csv", index=False)
    new.to_parquet(incoming / "2026-01-02.parquet")
    (incoming / ".2026-01-03.csv.tmp").write_text("half a file")
    argv = ["score", "--reference", str(reference), "--current", str(incoming), "--format", "json"]
    _, out, _ = run_exporter(*argv, "--window-rows", "1500")
    report = json.loads(out)
    settings = DriftSettings()
    expected = score_frame(fit_reference(pd.read_parquet(reference), settings), new, settings)
    assert (report["current"]["files"], report["window_rows"]) == (2, 1500)
    assert report["drift_score"] == pytest.approx(expected.score)


def test_score_without_enough_rows_warns_and_exits_3(
    tmp_path: Path, reference: Path, run_exporter: RunExporter
) -> None:
    make_frame(999).to_csv(tmp_path / "cur.csv", index=False)
    argv = ["score", "--reference", str(reference), "--current", str(tmp_path / "cur.csv")]
    code, out, err = run_exporter(*argv, "--format", "json")
    assert code == 3
    assert json.loads(out)["unavailable"] == "window_too_small"
    assert err == "warning: no drift score: the window has 999 rows, fewer than the minimum 1000\n"


def test_score_shows_progress_on_stderr_only(
    tmp_path: Path, reference: Path, run_exporter: RunExporter
) -> None:
    make_frame(1000).to_csv(tmp_path / "cur.csv", index=False)
    argv = ["score", "--reference", str(reference), "--current", str(tmp_path / "cur.csv")]
    _, out, err = run_exporter(*argv, "--format", "json", "--progress", "always")
    json.loads(out)
    assert "reading  1/1 [" in err
    assert "scoring  3/3 [##############################]" in err
    _, _, quiet = run_exporter(*argv, "--format", "json")
    assert quiet == ""


@pytest.mark.parametrize(
    ("current", "message"),
    [
        ("age,income\n1,2\n", "cur.csv: missing column(s) city (found: age, income)"),
        (
            "age,income,city\n1,abc,lyon\n",
            "cur.csv: column 'income' holds text, the reference numbers (e.g. 'abc' in data row 1)",
        ),
        ("", "cur.csv: file is empty (expected a header line)"),
        ('age,income,city\n1,2,"lyon\n', "cur.csv: cannot read: Error tokenizing data."),
    ],
)
def test_bad_current_data_gives_one_line_and_exit_2(
    tmp_path: Path,
    reference: Path,
    run_exporter: RunExporter,
    current: str,
    message: str,
) -> None:
    (tmp_path / "cur.csv").write_text(current)
    argv = ["score", "--reference", str(reference), "--current", str(tmp_path / "cur.csv")]
    code, out, err = run_exporter(*argv)
    assert code == 2
    assert out == ""
    assert err.startswith(f"drift-exporter: error: {tmp_path / message}")
    assert err.count("\n") == 1
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--features", "age,height"], "no column(s) height (found: age, income, city)"),
        (["--method", "chi2"], "unknown method 'chi2'"),
        (["--window-time", "1h"], "--window-time needs --timestamp-column (the reference has"),
        (["--window-time", "soon"], "expected a duration such as 30s"),
        (["--categorical", "zip"], "--categorical names non-feature column(s): zip"),
        (["--min-rows", "0"], "expected 1 or more, got 0"),
    ],
)
def test_bad_flags_give_one_line_and_exit_2(
    tmp_path: Path,
    reference: Path,
    run_exporter: RunExporter,
    extra: list[str],
    message: str,
) -> None:
    make_frame(10).to_csv(tmp_path / "cur.csv", index=False)
    argv = ["score", "--reference", str(reference), "--current", str(tmp_path / "cur.csv")]
    code, _, err = run_exporter(*argv, *extra)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_unreadable_files_are_named_in_the_error(tmp_path: Path) -> None:
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    (tmp_path / "data.xlsx").write_bytes(b"")
    with pytest.raises(ValueError, match=r"broken.parquet: cannot read: ") as broken:
        read_table(tmp_path / "broken.parquet")
    assert getattr(broken.value, "reason", None) == "unreadable"
    with pytest.raises(ValueError, match=r"data.xlsx: unsupported file type"):
        read_table(tmp_path / "data.xlsx")
    with pytest.raises(ValueError, match=r"none.csv: no such file"):
        read_table(tmp_path / "none.csv")


def test_a_directory_source_reads_new_files_once_and_retries_failed_ones_when_changed(
    tmp_path: Path,
) -> None:
    source = Source(tmp_path)
    assert source.poll() == []
    make_frame(3).to_csv(tmp_path / "a.csv", index=False)
    (tmp_path / "_SUCCESS").write_text("")
    (tmp_path / "b.csv").write_text("")
    first = source.poll()
    assert [(a.path.name, a.error is None) for a in first] == [("a.csv", True), ("b.csv", False)]
    assert source.poll() == []
    make_frame(2).to_csv(tmp_path / "b.csv", index=False)
    os.utime(tmp_path / "b.csv", ns=(1, 1))
    retried = source.poll()
    assert [(a.path.name, 0 if a.frame is None else len(a.frame)) for a in retried] == [
        ("b.csv", 2)
    ]


def test_a_file_source_is_read_again_whole_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "current.csv"
    source = Source(path)
    assert [a.error is not None for a in source.poll()] == [True]
    assert source.poll() == []
    make_frame(3).to_csv(path, index=False)
    arrivals = source.poll()
    assert [(a.replaces, 0 if a.frame is None else len(a.frame)) for a in arrivals] == [(True, 3)]
    assert source.poll() == []
