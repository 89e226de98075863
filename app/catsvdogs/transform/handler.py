"""Lambda entry point of the Firehose transform: ``catsvdogs.transform.handler.handler``.

Each log message is one JSON object with a "service" key, so that log tools
can filter the output by field. This module is the only one in the package
that logs.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from typing import Any

from catsvdogs.transform.category import Vocabulary, load_vocabulary
from catsvdogs.transform.events import (
    FirehoseEvent,
    InputRecord,
    InvalidEvent,
    OutputRecord,
    build_response,
    parse_event,
)
from catsvdogs.transform.record import error_document, serialize_document, transform_record

SERVICE = "catsvdogs-transform"

LOGGER = logging.getLogger(__name__)
# Python's root logger, which the Lambda runtime's log handler is attached to,
# passes only WARNING and above unless configured, which would hide the batch summary.
LOGGER.setLevel(logging.INFO)


def handler(event: Any, context: Any) -> dict[str, list[dict[str, str]]]:
    """Transform a Firehose batch: one response record per input record, in input order.

    Raises InvalidEvent if the payload is not a transformation event, so that
    Firehose retries the invocation. Any failure of a single record, even an
    unexpected exception, only marks that record ProcessingFailed.
    """
    started = time.perf_counter()
    request_id = getattr(context, "aws_request_id", None)
    try:
        firehose_event = parse_event(event)
    except InvalidEvent as error:
        log(logging.ERROR, "invalid_event", request_id=request_id, reason=str(error))
        raise

    vocabulary = load_vocabulary()
    now_ms = time.time_ns() // 1_000_000
    outputs = [transform_input_record(record, vocabulary, now_ms, request_id) for record in firehose_event.records]
    log_summary(firehose_event, outputs, request_id, time.perf_counter() - started)
    return build_response(outputs)


def transform_input_record(record: InputRecord, vocabulary: Vocabulary, now_ms: int, request_id: str | None) -> OutputRecord:
    """Transform one event record, logging it at WARNING if it failed.

    A record without a valid arrival time is taken to arrive at ``now_ms``.
    """
    arrival_ms = now_ms if record.arrival_ms is None else record.arrival_ms
    try:
        if record.data is None:
            result, document = "ProcessingFailed", error_document(record.invalid_reason or "", record.raw)
        else:
            result, document = transform_record(record.data, arrival_ms, vocabulary)
        serialized = serialize_document(document)
    except Exception as error:  # noqa: BLE001 - one record's bug must not fail the batch
        reason = f"internal error: {type(error).__name__}: {error}"
        log(
            logging.ERROR,
            "record_error",
            request_id=request_id,
            record_id=record.record_id,
            index=record.index,
            reason=reason,
            traceback=traceback.format_exc(),
        )
        result, document = "ProcessingFailed", error_document(reason, record.data or record.raw)
        serialized = serialize_document(document)
    else:
        if result != "Ok":
            log(
                logging.WARNING,
                "record_failed",
                request_id=request_id,
                record_id=record.record_id,
                index=record.index,
                reason=document["error"]["reason"],
            )
    return OutputRecord(record_id=record.record_id, result=result, document=serialized)


def log_summary(event: FirehoseEvent, outputs: list[OutputRecord], request_id: str | None, seconds: float) -> None:
    """Log one INFO line per invocation with the number of records per result."""
    ok = sum(1 for output in outputs if output.result == "Ok")
    log(
        logging.INFO,
        "batch_transformed",
        request_id=request_id,
        invocation_id=event.invocation_id,
        delivery_stream_arn=event.delivery_stream_arn,
        records=len(outputs),
        ok=ok,
        failed=len(outputs) - ok,
        duration_ms=round(seconds * 1000, 1),
    )


def log(level: int, event: str, **fields: object) -> None:
    """Log one JSON line with the service name, the event name and ``fields``."""
    if LOGGER.isEnabledFor(level):
        LOGGER.log(level, json.dumps({"service": SERVICE, "event": event, **fields}, default=str))
