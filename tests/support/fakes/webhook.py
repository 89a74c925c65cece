"""A generic HTTP endpoint that answers every request with 200 and a small JSON body.

>>> with FakeWebhook() as hook:
...     ...  # POST {hook.url}/anything
...     hook.received[-1].json
...     hook.fail_next(1, 500)   # fault injection as every fake: see tests.support.fakes.server
"""

from flask import Response, jsonify

from tests.support.fakes.server import FakeServer


class FakeWebhook(FakeServer):
    """Accepts any method on any path."""

    def __init__(self) -> None:
        super().__init__("fake-webhook")
        self.app.add_url_rule(
            "/", "root", self._accept, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]
        )
        self.app.add_url_rule(
            "/<path:anything>",
            "all",
            self._accept,
            methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        )

    def _accept(self, anything: str = "") -> Response:
        return jsonify({"accepted": True})
