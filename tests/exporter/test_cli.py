"""``drift-exporter`` series/check/plot, errors included."""

from pathlib import Path

import pytest

from exporter.simulation.story import simulate_scores
from tests.support.exporter import RunExporter


def test_series_csv_prints_the_design_documents_numbers(run_exporter: RunExporter) -> None:
    code, out, _ = run_exporter("series", "--days", "35", "--format", "csv")
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == "timestamp,drift_score"
    assert len(lines) == 36
    scores = [float(line.split(",")[1]) for line in lines[1:]]
    assert scores == pytest.approx(simulate_scores(35).tolist(), abs=1e-6)


def test_series_table_is_readable(run_exporter: RunExporter) -> None:
    code, out, _ = run_exporter("series", "--days", "3", "--format", "table")
    assert code == 0
    assert out.split()[:2] == ["timestamp", "drift_score"]
    assert len(out.splitlines()) == 4


def test_check_exits_1_when_drift_is_above_threshold(run_exporter: RunExporter) -> None:
    code, out, _ = run_exporter("check", "--days", "40")
    assert code == 1
    assert "drift score 0.3389 > threshold 0.2: retraining should be triggered" in out


def test_check_exits_0_within_threshold(run_exporter: RunExporter) -> None:
    code, out, _ = run_exporter("check", "--days", "30")
    assert code == 0
    assert "0.1792 <= threshold 0.2: ok" in out


def test_check_reads_a_csv(tmp_path: Path, run_exporter: RunExporter) -> None:
    csv = tmp_path / "s.csv"
    csv.write_text("timestamp,drift_score\n2026-01-01,0.5\n2026-01-02,0.21\n")
    assert run_exporter("check", "--csv", str(csv), "--threshold", "0.21")[0] == 0
    assert run_exporter("check", "--csv", str(csv), "--threshold", "0.2")[0] == 1


def test_check_without_data_warns_and_exits_3(tmp_path: Path, run_exporter: RunExporter) -> None:
    csv = tmp_path / "s.csv"
    csv.write_text("timestamp,drift_score\n")
    code, _, err = run_exporter("check", "--csv", str(csv))
    assert code == 3
    assert err.strip() == "warning: no monitoring data to check"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["series", "--days", "-2"], "argument --days: expected 1 or more, got -2"),
        (["series", "--days", "many"], "argument --days: expected a whole number, got 'many'"),
        (["check", "--threshold", "nan"], "expected a finite number"),
        (["simulate", "--model", "churn:sideways"], "unknown profile 'sideways'"),
        (["simulate", "--step-seconds", "-1"], "expected a finite number >= 0"),
        (["check", "--days", "3", "--csv", "x.csv"], "not allowed with argument"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(
    run_exporter: RunExporter, argv: list[str], message: str
) -> None:
    code, _, err = run_exporter(*argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b\n1,2\n", "missing column(s) timestamp, drift_score (found: a, b)"),
        ("timestamp,drift_score\n2026-01-01,x\n", "line 2: drift_score 'x' is not a finite number"),
    ],
)
def test_bad_csv_gives_one_line_and_exit_2(
    tmp_path: Path, run_exporter: RunExporter, content: str, message: str
) -> None:
    csv = tmp_path / "s.csv"
    csv.write_text(content)
    code, out, err = run_exporter("check", "--csv", str(csv))
    assert code == 2
    assert err == f"drift-exporter: error: {csv}: {message}\n"
    assert out == ""


def test_missing_csv_is_an_error_not_a_traceback(tmp_path: Path, run_exporter: RunExporter) -> None:
    code, _, err = run_exporter("plot", "--csv", str(tmp_path / "none.csv"))
    assert code == 2
    assert err.startswith("drift-exporter: error: ")
    assert "no such file" in err


def test_duplicate_models_are_an_error(run_exporter: RunExporter) -> None:
    code, _, err = run_exporter("simulate", "--model", "a", "--model", "a:healthy")
    assert code == 2
    assert err == "drift-exporter: error: model named more than once: a\n"


def test_plot_marks_the_first_crossing(tmp_path: Path, run_exporter: RunExporter) -> None:
    pytest.importorskip("matplotlib")
    out_file = tmp_path / "drift.png"
    code, out, _ = run_exporter("plot", "--days", "40", "--out", str(out_file))
    assert code == 0
    assert "first above 0.2" in out
    assert "(row 31)" in out
    assert out_file.read_bytes().startswith(b"\x89PNG")


def test_plot_says_when_nothing_crosses(tmp_path: Path, run_exporter: RunExporter) -> None:
    pytest.importorskip("matplotlib")
    code, out, _ = run_exporter("plot", "--days", "30", "--out", str(tmp_path / "d.png"))
    assert code == 0
    assert "never exceeds 0.2" in out
