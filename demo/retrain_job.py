"""An example retraining job, as the bridge's ``command`` target runs it.

From the monitor's point of view, retraining a model means: train on recent data, deploy, and
make that data the new reference, so the model's drift returns to baseline. This example does the
last step against the simulating exporter (``POST /api/models/<model>/retrain``) after pretending
to train. A real job would do the same with its own reference store.

    python -m demo.retrain_job --exporter-url http://127.0.0.1:9911 [--training-seconds 3]

The model comes from the ``MODEL`` parameter (or the alert's ``model`` label); the bridge also
passes ``DRIFT_BRIDGE_DISPATCH_ID`` and the rest of the alert in the environment.
"""

import argparse
import os
import sys
import time
from collections.abc import Sequence
from urllib.parse import quote

import requests

EX_TEMPFAIL = 75


def main(argv: Sequence[str] | None = None) -> int:
    """Retrain (simulated) the model in the environment; exit 0 once its reference is reset."""
    parser = argparse.ArgumentParser(prog="retrain_job", description=__doc__.splitlines()[0])
    parser.add_argument("--exporter-url", required=True)
    parser.add_argument("--training-seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    model = os.environ.get("MODEL") or os.environ.get("DRIFT_BRIDGE_LABEL_MODEL")
    dispatch_id = os.environ.get("DRIFT_BRIDGE_DISPATCH_ID", "-")
    if not model:
        print("retrain_job: no MODEL in the environment", file=sys.stderr)
        return 2
    drift = os.environ.get("DRIFT_BRIDGE_VALUE", "?")
    print(f"retraining {model} (dispatch {dispatch_id}, drift {drift})")
    time.sleep(args.training_seconds)
    url = f"{args.exporter_url.rstrip('/')}/api/models/{quote(model, safe='')}/retrain"
    try:
        response = requests.post(url, timeout=10)
    except requests.RequestException as err:
        # 75 (EX_TEMPFAIL): a transient failure, so the bridge retries the dispatch later.
        print(f"retrain_job: cannot reach the exporter: {err}", file=sys.stderr)
        return EX_TEMPFAIL
    if response.status_code != 200:
        print(f"retrain_job: {url}: HTTP {response.status_code}: {response.text}", file=sys.stderr)
        return 1
    print(f"{model}: new reference set; drift is back to baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
