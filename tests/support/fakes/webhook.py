"""A generic HTTP endpoint that answers every request with 200 and a small JSON body.

>>> with FakeWebhook() as hook:
...     ...  # POST {hook.url}/anything
...     hook.received[-1].json
...     hook.fail_next(1, 500)   # fault injection as every fake: see tests.support.fakes.server
...     hook.echo_headers = 400  # answer 400 quoting every request header, as careless servers do
"""

import json

from flask import Response, jsonify, request

from tests.support.fakes.server import FakeServer


class FakeWebhook(FakeServer):
    """Accepts any method on any path."""

    def __init__(self) -> None:
        super().__init__("fake-webhook")
        # When set, every request is answered with this status and its headers quoted back.
        self.echo_headers: int | None = None
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
        if self.echo_headers is not None:
            quoted = json.dumps(dict(request.headers.items()))
            return Response(
                json.dumps({"message": f"rejected a request with headers {quoted}"}),
                status=self.echo_headers,
                mimetype="application/json",
            )
        return jsonify({"accepted": True})
