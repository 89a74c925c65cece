"""GitHub's rate limits, read from its answers: shared by dispatching and following runs.

Primary limit: 403 or 429 with ``x-ratelimit-remaining: 0``, wait until ``x-ratelimit-reset``.
Secondary: 403 or 429 with a message; honour ``retry-after``, else wait at least 60 s.
"""

import time

import requests

from bridge.targets.base import DispatchError, FailureReason, RateBudget
from bridge.targets.http import response_excerpt, response_message, retry_after_seconds

# GitHub asks for "at least one minute" after a secondary rate limit without retry-after.
SECONDARY_LIMIT_WAIT = 60.0


def budget(response: requests.Response) -> RateBudget | None:
    """What is left of the primary limit, from the ``x-ratelimit-*`` headers."""
    remaining = response.headers.get("x-ratelimit-remaining", "")
    reset = response.headers.get("x-ratelimit-reset", "")
    if not (remaining.isdigit() and reset.isdigit()):
        return None
    return RateBudget(int(remaining), float(reset))


def check_rate_limit(response: requests.Response, what: str) -> None:
    """Raise a retryable RATE_LIMITED error if a 403/429 is one of GitHub's rate limits."""
    if response.status_code not in (403, 429):
        return
    headers = response.headers
    message = response_message(response)
    retry_after: float | None = None
    if (
        headers.get("x-ratelimit-remaining") == "0"
        and headers.get("x-ratelimit-reset", "").isdigit()
    ):
        retry_after = max(0.0, float(headers["x-ratelimit-reset"]) - time.time())
        kind = "primary rate limit"
    elif (seconds := retry_after_seconds(headers)) is not None:
        retry_after = seconds
        kind = "secondary rate limit"
    elif response.status_code == 429 or "rate limit" in message.lower():
        retry_after = SECONDARY_LIMIT_WAIT
        kind = "secondary rate limit"
    else:
        return  # a 403 for lack of permission
    raise DispatchError(
        f"{what}: HTTP {response.status_code}: {kind}, retry in {retry_after:.0f}s: {message}",
        retryable=True,
        reason=FailureReason.RATE_LIMITED,
        status=response.status_code,
        retry_after=retry_after,
        response=response_excerpt(response),
    )
