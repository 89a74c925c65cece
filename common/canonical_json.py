"""One way to write JSON text: compact, with sorted keys, so equal values give equal text."""

import json
from typing import Any


def canonical_json(value: Any, *, ascii_only: bool = True) -> str:
    """Compact JSON with sorted keys.

    ``ascii_only=False`` keeps non-ASCII characters as they are, for APIs that measure the size
    of the text they receive (GitHub counts the characters of ``inputs``).

    >>> canonical_json({"b": 1, "a": [1, 2]})
    '{"a":[1,2],"b":1}'
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=ascii_only)
