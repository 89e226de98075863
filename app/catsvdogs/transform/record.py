"""Transform one record's bytes into the document to index: a tweet, or an error document.

A record that is not a tweet gets result ProcessingFailed and the document
``{"error": {"reason": ..., "raw": ...}}``, which the index template accepts.
On AWS, Firehose writes failed records to the S3 error prefix. LocalStack
ignores the result and indexes the error document, so an invalid record shows up
in OpenSearch and does not fail the rest of the batch.

The transform never returns Dropped, so that every record sent is accounted for
in the index or the S3 error output.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from catsvdogs.transform.category import Vocabulary
from catsvdogs.transform.events import Result
from catsvdogs.transform.fields import NotATweet
from catsvdogs.transform.timestamps import timestamp_from_epoch_ms
from catsvdogs.transform.tweet import build_document

# Maximum size of error.raw: 32 KiB of UTF-8, or of base64 for data that is not UTF-8.
MAX_RAW_BYTES = 32 * 1024
# Maximum length of error.reason, which is a keyword field.
MAX_REASON_CHARS = 1024

# A JSON escape of a UTF-16 surrogate. Only escapes can put a surrogate into a decoded
# string, because strict UTF-8 decoding rejects encoded surrogates.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def transform_record(data: bytes, arrival_ms: int, vocabulary: Vocabulary) -> tuple[Result, dict[str, Any]]:
    """Transform one record's data into ``(result, document)``.

    ``data`` is the decoded Firehose record, one UTF-8 JSON message. ``arrival_ms``
    is its arrival time in ms since the epoch. The result is Ok with a tweet
    document, or ProcessingFailed with an error document. Every returned document
    can be serialized with ``serialize_document``. Exceptions other than the
    validation failures described above propagate.
    """
    try:
        ingested_at = timestamp_from_epoch_ms(arrival_ms)
    except OverflowError:
        return "ProcessingFailed", error_document(f"arrival time {arrival_ms} ms is out of range", data)

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return "ProcessingFailed", error_document(f"data is not valid UTF-8: {error}", data)
    if not text.strip():
        return "ProcessingFailed", error_document("data is empty or only whitespace", data)

    try:
        message = json.loads(text)
    except json.JSONDecodeError as error:
        return "ProcessingFailed", error_document(f"data is not valid JSON: {error}", data)
    except RecursionError:
        return "ProcessingFailed", error_document("data is not valid JSON: nested too deeply", data)

    try:
        document = build_document(message, ingested_at, vocabulary)
    except NotATweet as error:
        return "ProcessingFailed", error_document(error.reason, data)

    # Serializing a string with an unpaired surrogate to UTF-8 would fail later.
    if _SURROGATE_ESCAPE.search(text):
        try:
            serialize_document(document)
        except UnicodeEncodeError:
            reason = "data contains an unpaired UTF-16 surrogate escape, which is not valid Unicode"
            return "ProcessingFailed", error_document(reason, data)
    return "Ok", document


def error_document(reason: str, raw: bytes | str) -> dict[str, Any]:
    """Build the error document for a failed record.

    ``raw`` is the record as received. Bytes that are valid UTF-8 are stored as
    text, other bytes as base64, in both cases cut to ``MAX_RAW_BYTES``.
    """
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 3] + "..."
    return {"error": {"reason": _escape_surrogates(reason), "raw": truncate_raw(raw)}}


def truncate_raw(raw: bytes | str) -> str:
    """Return ``raw`` as text of at most ``MAX_RAW_BYTES`` bytes of UTF-8."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "backslashreplace")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        # Three bytes become four base64 characters.
        return base64.b64encode(raw[: MAX_RAW_BYTES // 4 * 3]).decode("ascii")
    # A cut inside a multi-byte character leaves an incomplete sequence, which "ignore" drops.
    return raw[:MAX_RAW_BYTES].decode("utf-8", "ignore")


def serialize_document(document: dict[str, Any]) -> bytes:
    """Serialize a document as one line of compact UTF-8 JSON, without a final newline.

    Raises UnicodeEncodeError if a string contains an unpaired surrogate, which
    ``transform_record`` rules out for the documents it returns.
    """
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _escape_surrogates(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
