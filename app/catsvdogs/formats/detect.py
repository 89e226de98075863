"""Detection of a file's format from its content: the framing from the first line, the format from the first records.

Framing: a file whose first non-blank line starts with ``window.`` (an X
archive's ``window.YTD.tweets.part0 = [``), with ``[`` (a JSON array) or is a
lone ``{`` (pretty-printed JSON objects) is read as a sequence of JSON values.
Any other file is read as JSON Lines.

Format: the first record that ``classify`` recognises decides it for the whole
file. Error-only messages, stream control messages and empty pages appear in
files of several formats, so detection looks past them.
"""

from __future__ import annotations

from typing import Any

from catsvdogs.formats import activity_streams, jetstream, twarc2_flat, twarc2_pages, v1_original, v2_stream, x_archive

LINES = "json-lines"
JSON_SEQUENCE = "json-sequence"

# How many decodable records detection reads before it gives up and calls the format unknown.
SNIFF_RECORDS = 50


def detect_framing(first_line: str) -> str:
    """Return LINES or JSON_SEQUENCE from the first non-blank line of a file."""
    start = first_line.lstrip("\ufeff \t")
    if start.startswith(("window.", "[")) or start.rstrip() == "{":
        return JSON_SEQUENCE
    return LINES


def is_archive_assignment(first_line: str) -> bool:
    """Tell whether a file starts with an X archive's ``window.YTD.<name>.part<n> = [``."""
    return first_line.lstrip("\ufeff \t").startswith("window.YTD.")


def classify(record: Any) -> str | None:
    """Return the name of the format that ``record`` belongs to, or None if it shows no known format."""
    if not isinstance(record, dict):
        return None
    if "data" in record:
        data = record["data"]
        if isinstance(data, dict):
            return v2_stream.FORMAT_NAME
        if isinstance(data, list):
            return twarc2_pages.FORMAT_NAME
        return None
    if isinstance(record.get("tweet"), dict):
        return x_archive.FORMAT_NAME
    if jetstream.is_event(record):
        return jetstream.FORMAT_NAME
    if "verb" in record and "actor" in record:
        return activity_streams.FORMAT_NAME
    if "id_str" in record or isinstance(record.get("user"), dict) or "full_text" in record:
        return v1_original.FORMAT_NAME
    if "id" in record and "text" in record:
        if "author" in record or "author_id" in record or "edit_history_tweet_ids" in record:
            return twarc2_flat.FORMAT_NAME
        created_at = record.get("created_at")
        if isinstance(created_at, str) and created_at[4:5] == "-":
            return twarc2_flat.FORMAT_NAME
        return v1_original.FORMAT_NAME
    return None


def is_neutral(record: Any) -> bool:
    """Tell whether ``record`` is a non-tweet message that any format's file may contain."""
    if not isinstance(record, dict) or "data" in record:
        return False
    if "errors" in record or "info" in record or "error" in record:
        return True
    if "meta" in record and "id" not in record:
        return True  # a twarc2 page without results
    return any(key in record for key in v1_original.CONTROL_KEYS) and "id_str" not in record


def describe(record: Any) -> str:
    """Describe a record of no known format, for a rejection reason."""
    if isinstance(record, dict):
        keys = ", ".join(list(record)[:8])
        return f"a JSON object with keys {keys}" if keys else "an empty JSON object"
    if isinstance(record, list):
        return f"a JSON array of {len(record)} values"
    return f"a JSON {type(record).__name__}"
