"""The baseline for the intake benchmark: a Flask app that only answers 200 to POST /alerts."""

from flask import Flask
from flask.typing import ResponseReturnValue

app = Flask(__name__)


@app.post("/alerts")
def alerts() -> ResponseReturnValue:
    """Answer 200 and do nothing."""
    return "", 200
