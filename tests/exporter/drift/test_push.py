"""What a batch job pushes: the series `watch` serves for the model, and its allowed age."""

import numpy as np
import pandas as pd
from prometheus_client import generate_latest

from exporter.drift.push import push_registry
from exporter.drift.reference import fit_reference
from exporter.drift.scoring import score_frame
from exporter.drift.settings import DriftSettings
from tests.support.drift_data import model_inputs

rng = np.random.default_rng(3)


def test_the_pushed_registry_holds_the_scores_the_timestamp_and_the_max_age() -> None:
    settings = DriftSettings(methods=("psi", "ks"))
    reference = fit_reference(model_inputs(rng, 3000), settings, exclude=["ts"])
    result = score_frame(reference, model_inputs(rng, 2000, shift=5), settings)
    assert result.score is not None
    text = generate_latest(
        push_registry(
            "churn", result, reference_rows=reference.rows, computed_at=1.7e9, max_age=7200, files=2
        )
    ).decode()
    assert f'drift_score{{model="churn"}} {result.score}' in text
    assert 'drift_feature_score{feature="age",method="ks",model="churn"}' in text
    assert 'drift_last_computation_timestamp_seconds{model="churn"} 1.7e+09' in text
    assert 'drift_max_age_seconds{model="churn"} 7200.0' in text
    assert 'drift_window_rows{model="churn"} 2000.0' in text
    assert 'drift_input_files_total{model="churn"} 2.0' in text
    assert 'drift_score_unavailable{model="churn",reason="no_data"} 0.0' in text


def test_without_a_max_age_nothing_says_how_old_the_score_may_get() -> None:
    settings = DriftSettings()
    frame = pd.DataFrame({"x": rng.normal(0, 1, 2000)})
    result = score_frame(fit_reference(frame, settings), frame, settings)
    text = generate_latest(
        push_registry("m", result, reference_rows=2000, computed_at=1.7e9, max_age=None)
    ).decode()
    assert "drift_max_age_seconds" not in text
    assert 'drift_score{model="m"} 0.0' in text
