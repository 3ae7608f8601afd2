"""Strict JSON: duplicate keys and the non-JSON constants (NaN, Infinity) are refused.

Used for API bodies and for permission documents (which travel as JSON inside JSON), so
that `{"userName": "a", "userName": "root"}` can never mean whichever a parser prefers.
"""

import json
from typing import Any


class DuplicateKey(ValueError):
    """A key appears twice in one object; str() is the key."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(key)
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(text: str | bytes) -> Any:
    """Parse JSON; raise DuplicateKey, ValueError or RecursionError when it is not strict JSON."""
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
