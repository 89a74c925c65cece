"""A reference fitted once and saved (`drift-exporter fit`) scores as the data it came from."""

import json
from pathlib import Path

import numpy as np
import pytest

from exporter.drift.reference import NumericReference, fit_reference
from exporter.drift.reference_file import load_reference_file, save_reference
from exporter.drift.settings import DriftSettings
from tests.support.drift_data import model_inputs
from tests.support.exporter import RunExporter

rng = np.random.default_rng(7)
METHODS = "psi,js,ks,wasserstein"


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, Path, Path]:
    reference, current = tmp_path / "reference.parquet", tmp_path / "current.parquet"
    model_inputs(rng, 6000).to_parquet(reference)
    model_inputs(rng, 3000, shift=4).to_parquet(current)
    return reference, current, tmp_path / "reference.json"


def test_a_saved_reference_reads_back_bin_for_bin(tmp_path: Path) -> None:
    frame = model_inputs(rng, 4000)
    # Zero-inflated: 0 is a mass point with a bin of its own.
    frame["spend"] = np.where(rng.random(4000) < 0.4, 0.0, rng.lognormal(3, 1, 4000))
    settings = DriftSettings(bins=7)
    fitted = fit_reference(frame, settings, exclude=["ts"])
    save_reference(fitted, settings.bins, tmp_path / "ref.json")
    loaded = load_reference_file(tmp_path / "ref.json", bins=7)
    assert list(loaded.columns) == ["age", "income", "score", "city", "member", "spend"]
    spend = loaded.columns["spend"]
    assert isinstance(spend, NumericReference)
    assert spend.masses.tolist() == [0.0]
    assert loaded.rows == 4000
    for name, column in fitted.columns.items():
        again = loaded.columns[name]
        assert (again.counts == column.counts).all()
        assert (again.kind, again.storage, again.values, again.missing) == (
            column.kind,
            column.storage,
            column.values,
            column.missing,
        )
        if isinstance(column, NumericReference):
            assert isinstance(again, NumericReference)
            assert again.edges.tolist() == column.edges.tolist()  # exactly, not approximately
            assert again.masses.tolist() == column.masses.tolist()
            assert column.grid is not None
            assert again.grid is not None
            assert again.grid.points.tolist() == column.grid.points.tolist()
            assert (again.grid.reference.counts == column.grid.reference.counts).all()


def test_score_with_a_saved_reference_gives_the_same_bins_and_bounded_ks(
    data: tuple[Path, Path, Path], run_exporter: RunExporter
) -> None:
    reference, current, saved = data
    code, out, _ = run_exporter(
        "fit", "--reference", str(reference), "--out", str(saved), "--timestamp-column=ts"
    )
    assert code == 0
    assert out.startswith(f"wrote {saved}: 5 feature(s) of 6000 rows")

    common = ["--current", str(current), "--method", METHODS, "--format", "json"]
    code_data, out_data, _ = run_exporter(
        "score", "--reference", str(reference), "--timestamp-column=ts", *common
    )
    code_saved, out_saved, _ = run_exporter("score", "--reference", str(saved), *common)
    exact, from_grid = json.loads(out_data), json.loads(out_saved)
    assert code_data == code_saved == 1
    assert from_grid["drift_score"] == exact["drift_score"]
    for one, other in zip(exact["features"], from_grid["features"], strict=True):
        assert one["error_bounds"] == {}
        assert (one["values"], one["missing"], one["unseen"]) == (
            other["values"],
            other["missing"],
            other["unseen"],
        )
        for method in ("psi", "js"):
            assert other["scores"][method] == one["scores"][method]
        for method, bound in other["error_bounds"].items():
            assert abs(other["scores"][method] - one["scores"][method]) <= bound + 1e-12

    code, table, _ = run_exporter("score", "--reference", str(saved), *common[:4])
    assert "from the reference's quantile grid, within ks ±0.00" in table


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a saved reference"),
        ('{"format": "something else"}', "not a saved reference"),
        ('{"format": "drift-retrain-bridge/reference", "version": 9}', "reference version 9"),
        ('{"format": "drift-retrain-bridge/reference", "version": 1, "bins": 20}', "--bins 20"),
        (
            '{"format": "drift-retrain-bridge/reference", "version": 1, "bins": 10, "rows": 1}',
            "bad or missing key 'columns'",
        ),
    ],
)
def test_a_bad_saved_reference_is_one_line_naming_the_file(
    tmp_path: Path, run_exporter: RunExporter, content: str, message: str
) -> None:
    saved = tmp_path / "ref.json"
    saved.write_text(content)
    model_inputs(rng, 100).to_csv(tmp_path / "cur.csv", index=False)
    code, out, err = run_exporter(
        "score", "--reference", str(saved), "--current", str(tmp_path / "cur.csv")
    )
    assert code == 2
    assert out == ""
    assert err.startswith(f"drift-exporter: error: {saved}: ")
    assert message in err
    assert len(err.splitlines()) == 1


def test_push_flags_that_do_not_fit_stop_before_reading(
    data: tuple[Path, Path, Path], run_exporter: RunExporter
) -> None:
    reference, current, _ = data
    argv = ["score", "--reference", str(reference), "--current", str(current)]
    code, _, err = run_exporter(*argv, "--push-gateway", "http://127.0.0.1:9")
    assert code == 2
    assert "--push-gateway needs --model" in err
    code, _, err = run_exporter(*argv, "--max-age", "2h")
    assert (code, err.strip()) == (2, "drift-exporter: error: --max-age needs --push-gateway")
    code, _, err = run_exporter(
        *argv, "--model=m", "--push-gateway=http://127.0.0.1:9", "--max-age=x"
    )
    assert code == 2
    assert "argument --max-age: expected a duration" in err


def test_a_saved_reference_keeps_its_categorical_columns(
    data: tuple[Path, Path, Path], run_exporter: RunExporter
) -> None:
    reference, current, saved = data
    assert run_exporter("fit", "--reference", str(reference), "--out", str(saved))[0] == 0
    argv = ["score", "--reference", str(saved), "--current", str(current)]
    code, _, err = run_exporter(*argv, "--categorical=age")
    assert code == 2
    assert "fit it again to change them" in err
    code, _, err = run_exporter(*argv, "--features=age,nope")
    assert code == 2
    assert f"{saved}: no feature(s) nope (saved: ts, age, income, score, city, member)" in err
