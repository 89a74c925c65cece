"""One local Spark session for the whole test run (starting the JVM takes seconds)."""

import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark() -> Iterator["SparkSession"]:
    """A local[2] Spark session as ``spark-score`` builds it, with few shuffle partitions."""
    from exporter.drift.spark_job import build_session

    with warnings.catch_warnings():
        # py4j leaves its gateway socket to the garbage collector.
        warnings.simplefilter("ignore", ResourceWarning)
        session = build_session("local[2]", app_name="drift-tests")
    session.sparkContext.setLogLevel("ERROR")
    # The partial counts are small: 200 shuffle partitions would only add tasks.
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield session
    session.stop()
