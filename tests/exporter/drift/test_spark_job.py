"""The Spark job scores as `score` does: the same bins, KS/Wasserstein within the bound.

Local mode on the installed Java, one Spark session for the whole run (tests/support/spark.py),
a few thousand rows in a few Parquet files, so that the counts come from several partitions.
"""

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
import requests

from exporter.drift.reference import fit_reference
from exporter.drift.reference_file import load_reference_file, save_reference
from exporter.drift.scoring import score_frame
from exporter.drift.settings import METHODS, DriftSettings
from exporter.drift.spark_job import CurrentData, read_current, score_spark
from tests.support.drift_data import model_inputs
from tests.support.exporter import RunExporter
from tests.support.pushgateway import Pushgateway

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.integration

ALL = DriftSettings(methods=METHODS)
rng = np.random.default_rng(13)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """reference.parquet, reference.json (fitted from it), and three current windows."""
    root = tmp_path_factory.mktemp("spark-data")
    reference = model_inputs(rng, 8000)
    reference.to_parquet(root / "reference.parquet")
    fitted = fit_reference(reference, ALL, exclude=["ts"])
    save_reference(fitted, ALL.bins, root / "reference.json")
    # Three hours of current data, one file an hour; the last hour drifted.
    for hour, shift in enumerate([0.0, 0.0, 5.0]):
        (root / "current").mkdir(exist_ok=True)
        frame = model_inputs(rng, 3600, shift=shift, start=1.7e9 + 3600 * hour)
        frame.to_parquet(root / "current" / f"{hour:04d}.parquet")
    model_inputs(rng, 3000).to_parquet(root / "healthy.parquet")
    return root


def test_spark_scores_equal_the_single_machine_path(spark: "SparkSession", data: Path) -> None:
    current = pd.concat(
        [pd.read_parquet(path) for path in sorted((data / "current").iterdir())],
        ignore_index=True,
    )
    exact = score_frame(
        fit_reference(pd.read_parquet(data / "reference.parquet"), ALL, exclude=["ts"]),
        current,
        ALL,
    )
    frame = read_current(spark, CurrentData(parquet=str(data / "current")))
    assert frame.rdd.getNumPartitions() > 1
    saved = load_reference_file(data / "reference.json", ALL.bins)
    on_spark = score_spark(frame, saved, ALL, "current")

    assert on_spark.rows == exact.rows == 3 * 3600
    assert on_spark.score == exact.score  # max of PSI: bin counts, hence equal
    assert on_spark.drifted == exact.drifted
    for one, other in zip(exact.features, on_spark.features, strict=True):
        assert (other.feature, other.kind, other.values, other.missing, other.unseen) == (
            one.feature,
            one.kind,
            one.values,
            one.missing,
            one.unseen,
        )
        assert other.scores["psi"] == one.scores["psi"]
        assert other.scores["js"] == one.scores["js"]
        for method in ("ks", "wasserstein"):
            if method in one.scores:
                bound = other.bounds[method]
                assert abs(other.scores[method] - one.scores[method]) <= bound + 1e-9
                assert bound < 0.02
    assert on_spark.features[1].missing > 0  # income has NaN
    assert on_spark.features[3].unseen  # city: "lille" is new


def test_spark_score_prints_the_report_of_score_with_its_exit_codes(
    spark: "SparkSession", data: Path, run_exporter: RunExporter
) -> None:
    saved = str(data / "reference.json")
    argv = ["--reference", saved, "--method", "psi,ks", "--format", "json"]
    code, out, err = run_exporter("spark-score", "--current", str(data / "current"), *argv)
    on_spark = json.loads(out)
    code_local, out_local, _ = run_exporter("score", "--current", str(data / "current"), *argv)
    local = json.loads(out_local)
    assert code == code_local == 1
    assert set(on_spark) == set(local)
    assert on_spark["drift_score"] == local["drift_score"]
    assert on_spark["current"]["engine"] == "spark"
    assert [f["scores"]["psi"] for f in on_spark["features"]] == [
        f["scores"]["psi"] for f in local["features"]
    ]

    healthy = ["spark-score", "--current", str(data / "healthy.parquet"), "--reference", saved]
    code, table, _ = run_exporter(*healthy)
    assert code == 0
    assert table.splitlines()[0].split() == [
        "feature",
        "kind",
        "values",
        "missing",
        "unseen",
        "psi",
    ]
    assert "(max of psi over 5 feature(s), 3000 rows)" in table

    code, _, err = run_exporter(*healthy, "--min-rows", "5000")
    assert code == 3
    assert "warning: no drift score: the window has 3000 rows" in err


def test_a_time_window_on_spark_is_the_time_window_of_score(
    spark: "SparkSession", data: Path, run_exporter: RunExporter
) -> None:
    from pyspark.sql.functions import col

    argv = [
        "--current",
        str(data / "current"),
        "--reference",
        str(data / "reference.json"),
        "--window-time=30m",
        "--timestamp-column=ts",
        "--format=json",
    ]
    code, out, _ = run_exporter("spark-score", *argv)
    code_local, out_local, _ = run_exporter("score", *argv)
    on_spark, local = json.loads(out), json.loads(out_local)
    assert on_spark["window_rows"] == local["window_rows"] == 1801  # both ends included
    assert on_spark["drift_score"] == local["drift_score"]
    assert code == code_local == 1

    # A timestamp column of Spark's own type windows the same rows.
    stamped = spark.read.parquet(str(data / "current")).withColumn(
        "ts", col("ts").cast("timestamp")
    )
    stamped.createOrReplaceTempView("stamped")
    code, out, _ = run_exporter("spark-score", "--table=stamped", *argv[2:])
    assert json.loads(out)["window_rows"] == 1801

    # The first hour only, named by its end: no drift there.
    end = pd.Timestamp(1.7e9 + 3599, unit="s").isoformat()
    code, out, _ = run_exporter("spark-score", *argv, "--window-time=1h", f"--window-end={end}")
    assert code == 0
    assert json.loads(out)["window_rows"] == 3600


def test_spark_score_reads_a_table_and_names_a_bad_one(
    spark: "SparkSession", data: Path, run_exporter: RunExporter
) -> None:
    spark.read.parquet(str(data / "healthy.parquet")).createOrReplaceTempView("predictions")
    saved = str(data / "reference.json")
    code, out, _ = run_exporter("spark-score", "--table", "predictions", "--reference", saved)
    assert code == 0
    assert "3000 rows" in out

    spark.read.parquet(str(data / "healthy.parquet")).drop("age").createOrReplaceTempView("bad")
    code, out, err = run_exporter("spark-score", "--table", "bad", "--reference", saved)
    assert (code, out) == (2, "")
    assert err.startswith("drift-exporter: error: bad: missing column(s) age (found: ts, income")

    spark.createDataFrame(pd.DataFrame({"age": ["x"], "income": [1.0], "score": [1.0]})).join(
        spark.createDataFrame(pd.DataFrame({"city": ["a"], "member": [True]}))
    ).createOrReplaceTempView("text_age")
    code, _, err = run_exporter("spark-score", "--table", "text_age", "--reference", saved)
    assert code == 2
    assert "column 'age' is string, the reference's is number" in err

    code, out, err = run_exporter("spark-score", "--table", "nowhere", "--reference", saved)
    assert (code, out) == (2, "")
    assert err.startswith("drift-exporter: error: nowhere: cannot read: [TABLE_OR_VIEW_NOT_FOUND]")
    assert len(err.splitlines()) == 1
    missing = str(data / "missing")
    code, _, err = run_exporter("spark-score", "--current", missing, "--reference", saved)
    assert code == 2
    assert err.startswith(f"drift-exporter: error: {missing}: cannot read: [PATH_NOT_FOUND]")

    code, _, err = run_exporter(
        "spark-score", "--table", "predictions", "--reference", saved, "--window-rows=10"
    )
    assert code == 2
    assert "--window-rows needs an order of rows" in err


def test_spark_score_pushes_to_the_pushgateway(
    spark: "SparkSession", data: Path, pushgateway: Pushgateway, run_exporter: RunExporter
) -> None:
    code, _, err = run_exporter(
        "spark-score",
        "--current",
        str(data / "current"),
        "--reference",
        str(data / "reference.json"),
        "--model=churn",
        f"--push-gateway={pushgateway.url}",
        "--push-job=nightly-drift",
        "--max-age=26h",
    )
    assert code == 1, err
    exposed = requests.get(f"{pushgateway.url}/metrics", timeout=5).text
    assert 'drift_score{instance="",job="nightly-drift",model="churn"}' in exposed
    assert 'drift_max_age_seconds{instance="",job="nightly-drift",model="churn"} 93600' in exposed
    assert (
        'drift_feature_score{feature="city",instance="",job="nightly-drift",method="psi"' in exposed
    )
