"""Firehose data-transformation events and responses, as AWS and LocalStack send them.

AWS sends ``{"invocationId", "deliveryStreamArn", "region", "records": [...]}``
where each record has ``recordId``, ``approximateArrivalTimestamp`` (ms since
the epoch) and base64 ``data``. It expects one response record with the same
``recordId``, a ``result`` and base64 ``data`` for every input record.

LocalStack sends only ``{"records": [...]}``, and its records have no
``recordId`` (see ``localstack/services/firehose/provider.py`` in its source). It ignores ``result``, indexes the
``data`` of every returned record, and fails the whole call if any of them is
not JSON. A response record therefore carries ``recordId`` only when the input
record had one. No identifier is made up for LocalStack, which would ignore it.
Records keep their input order in the response.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from catsvdogs.transform.fields import json_type_name

Result = Literal["Ok", "Dropped", "ProcessingFailed"]


class InvalidEvent(ValueError):
    """An invocation payload that is not a Firehose transformation event at all."""


@dataclass(frozen=True, slots=True)
class InputRecord:
    """One record of an event, with its data decoded when it was valid base64.

    ``data`` is None exactly when ``invalid_reason`` is set, with the cause of
    the decoding failure. ``raw`` is the ``data`` value as received (or the whole record when it
    was not an object), kept for the error document.
    """

    index: int
    record_id: str | None
    arrival_ms: int | None
    data: bytes | None
    invalid_reason: str | None
    raw: str


@dataclass(frozen=True, slots=True)
class FirehoseEvent:
    """The fields of a transformation event that the transform uses."""

    invocation_id: str | None
    delivery_stream_arn: str | None
    records: list[InputRecord]


@dataclass(frozen=True, slots=True)
class OutputRecord:
    """One response record, with the serialized JSON document (no final newline) in ``document``."""

    record_id: str | None
    result: Result
    document: bytes


def parse_event(event: object) -> FirehoseEvent:
    """Decode an event of either shape into typed records.

    Raises InvalidEvent if the event is not an object with a ``records`` list.
    Problems of single records never raise: they end up in the record's
    ``invalid_reason``, so that one bad record cannot fail the batch.
    """
    if not isinstance(event, Mapping):
        raise InvalidEvent(f"event must be a JSON object, not {json_type_name(event)}")
    records = event.get("records")
    if not isinstance(records, list):
        raise InvalidEvent(f"event.records must be a list, not {json_type_name(records)}")

    return FirehoseEvent(
        invocation_id=_optional_string(event.get("invocationId")),
        delivery_stream_arn=_optional_string(event.get("deliveryStreamArn")),
        records=[parse_record(index, record) for index, record in enumerate(records)],
    )


def parse_record(index: int, record: object) -> InputRecord:
    """Decode one event record. ``InputRecord`` describes how failures are reported."""
    if not isinstance(record, Mapping):
        return InputRecord(
            index=index,
            record_id=None,
            arrival_ms=None,
            data=None,
            invalid_reason=f"record must be a JSON object, not {json_type_name(record)}",
            raw=_dump_json(record),
        )

    record_id = record.get("recordId")
    if record_id is not None and not isinstance(record_id, str):
        # Firehose compares ids as strings; echo any other JSON value in that form.
        record_id = _dump_json(record_id)
    arrival_ms = parse_arrival_ms(record.get("approximateArrivalTimestamp"))

    encoded = record.get("data")
    if not isinstance(encoded, str):
        return InputRecord(
            index=index,
            record_id=record_id,
            arrival_ms=arrival_ms,
            data=None,
            invalid_reason=f"record data must be a base64 string, not {json_type_name(encoded)}",
            raw=_dump_json(encoded),
        )

    try:
        data = base64.b64decode(encoded, validate=True)
    except ValueError as error:
        # binascii.Error (a ValueError) for bad padding or characters, ValueError for non-ASCII.
        return InputRecord(
            index=index,
            record_id=record_id,
            arrival_ms=arrival_ms,
            data=None,
            invalid_reason=f"record data is not valid base64: {error}",
            raw=encoded,
        )
    return InputRecord(
        index=index,
        record_id=record_id,
        arrival_ms=arrival_ms,
        data=data,
        invalid_reason=None,
        raw=encoded,
    )


def parse_arrival_ms(value: object) -> int | None:
    """Return ``approximateArrivalTimestamp`` as whole milliseconds, or None if invalid.

    Valid values are non-negative numbers (not booleans) before the year 10000.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not 0 <= value < 253_402_300_800_000:
        return None
    return int(value)


def encode_output_record(record: OutputRecord) -> dict[str, str]:
    """Build a response record: base64 of the document plus a final newline."""
    output = {}
    if record.record_id is not None:
        output["recordId"] = record.record_id
    output["result"] = record.result
    output["data"] = base64.b64encode(record.document + b"\n").decode("ascii")
    return output


def build_response(records: list[OutputRecord]) -> dict[str, list[dict[str, str]]]:
    """Build the response that both Firehose and LocalStack read: ``{"records": [...]}``."""
    return {"records": [encode_output_record(record) for record in records]}


def _optional_string(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _dump_json(value: object) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)
