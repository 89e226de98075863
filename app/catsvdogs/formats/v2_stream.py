"""X API v2 filtered-stream messages, one JSON object per line (raw, or captured by twarc2)."""

from __future__ import annotations

import json
from typing import Any

from catsvdogs.formats.model import BadRecord, describe_json_error, nested_too_deeply

FORMAT_NAME = "x-v2-stream"
DESCRIPTION = "X API v2 filtered-stream messages, one per line (raw, or captured by twarc2)"


class BadLine(BadRecord):
    """A line that is not a usable tweet; the message is the reason shown with file:line."""


def _error_summary(errors: Any) -> str:
    if not isinstance(errors, list) or not errors:
        return "no details"
    first = errors[0] if isinstance(errors[0], dict) else {}
    title = first.get("title") or first.get("type") or "error"
    detail = first.get("detail") or first.get("message") or ""
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{title}: {detail}{more}" if detail else f"{title}{more}"


def parse_message(text: str, *, cut_off: bool = False) -> dict[str, Any]:
    """Parse one stream message and check that it carries a tweet.

    ``cut_off`` marks the last line of a file that has no final newline, so a
    JSON error there is reported as a truncated recording.
    """
    try:
        message = json.loads(text)
    except json.JSONDecodeError as error:
        if cut_off:
            raise BadLine(f"line cut off: the file ends mid-JSON after {len(text)} characters") from error
        raise BadLine(describe_json_error(error)) from error
    except RecursionError as error:
        raise BadLine(nested_too_deeply()) from error
    return check_message(message)


def check_message(message: Any) -> dict[str, Any]:
    """Check that a decoded stream message carries a tweet, and return it unchanged."""
    if not isinstance(message, dict):
        raise BadLine(f"not a stream message: expected a JSON object, found {type(message).__name__}")

    data = message.get("data")
    if data is None:
        if "errors" in message:
            raise BadLine(f"stream error message, no tweet: {_error_summary(message['errors'])}")
        raise BadLine("not a stream message: no 'data' object")
    if isinstance(data, list):
        raise BadLine(
            f"a response page with {len(data)} tweets, not a stream message; this reader takes one stream message per line"
        )
    if not isinstance(data, dict):
        raise BadLine(f"not a tweet: 'data' is {type(data).__name__}, expected an object")
    if not isinstance(data.get("id"), str) or not data["id"]:
        raise BadLine("not a tweet: 'data.id' is missing or not a string")
    if not isinstance(data.get("text"), str):
        raise BadLine(f"not a tweet: 'data.text' of tweet {data['id']} is missing or not a string")
    created_at = data.get("created_at")
    if created_at is not None and not isinstance(created_at, str):
        raise BadLine(f"not a tweet: 'data.created_at' of tweet {data['id']} is not a string")
    return message


def convert(record: Any) -> list[dict[str, Any]]:
    """Return the one message of a decoded stream line: a stream message is already the common model."""
    return [check_message(record)]
