"""Type-checked reads from a decoded JSON message, raising NotATweet with the field's path.

A JSON null counts as a missing field. Strings that go to ``keyword`` fields and
integers that go to ``long`` fields are checked against OpenSearch's limits
here: one document that OpenSearch rejects makes LocalStack fail the whole batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Lucene rejects a keyword term longer than this many UTF-8 bytes.
MAX_KEYWORD_BYTES = 32766
# A keyword of at most this many characters is within MAX_KEYWORD_BYTES,
# because a character takes at most 4 bytes in UTF-8.
_SAFE_KEYWORD_CHARS = MAX_KEYWORD_BYTES // 4
MAX_LONG = 2**63 - 1


class NotATweet(ValueError):
    """Error for a record that is not an X API v2 tweet message, with the cause in ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_keyword(value: str, path: str) -> str:
    """Return ``value`` unless it is too long for an OpenSearch keyword field."""
    if len(value) > _SAFE_KEYWORD_CHARS and len(value.encode("utf-8", "surrogatepass")) > MAX_KEYWORD_BYTES:
        raise NotATweet(f"{path} is longer than {MAX_KEYWORD_BYTES} UTF-8 bytes, the limit of a keyword field")
    return value


def check_long(value: int, path: str) -> int:
    """Return ``value`` unless it is negative or too large for an OpenSearch long field."""
    if value < 0:
        raise NotATweet(f"{path} must not be negative, got {value}")
    if value > MAX_LONG:
        raise NotATweet(f"{path} is larger than {MAX_LONG}, the maximum of a long field")
    return value


def require_string(container: dict[str, Any], key: str, path: str) -> str:
    """Return the string at ``key``, raising NotATweet if it is missing or not a string."""
    value = container.get(key)
    if value is None:
        raise NotATweet(f"{path} is missing")
    if not isinstance(value, str):
        raise NotATweet(f"{path} must be a string, not {json_type_name(value)}")
    return value


def optional_string(container: dict[str, Any], key: str, path: str) -> str | None:
    """Return the string at ``key``, or None if missing. Raise NotATweet for another type."""
    value = container.get(key)
    if value is None or isinstance(value, str):
        return value
    raise NotATweet(f"{path} must be a string, not {json_type_name(value)}")


def optional_count(container: dict[str, Any], key: str, path: str) -> int:
    """Return the non-negative integer at ``key``, or 0 if missing. Raise NotATweet otherwise."""
    value = container.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise NotATweet(f"{path} must be an integer, not {json_type_name(value)}")
    return check_long(value, path)


def optional_object(container: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    """Return the object at ``key``, or an empty dict if missing. Raise NotATweet for another type."""
    value = container.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise NotATweet(f"{path} must be an object, not {json_type_name(value)}")
    return value


def optional_objects(container: dict[str, Any], key: str, path: str) -> list[dict[str, Any]]:
    """Return the array of objects at ``key``, or an empty list if missing. Raise NotATweet otherwise."""
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise NotATweet(f"{path} must be an array, not {json_type_name(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise NotATweet(f"{path}[{index}] must be an object, not {json_type_name(item)}")
    return value


def json_type_name(value: object) -> str:
    """Name the JSON type of a decoded value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__
