"""Unit tests of the transform Lambda entry point with AWS- and LocalStack-shaped events.

tests/events/firehose_aws.json contains the lines of tests/fixtures/stream_v2_minimal.jsonl
with a producer provenance block, including the empty keep-alive line and the
error-only message. tests/events/firehose_localstack.json contains the lines of
tests/fixtures/twarc2_stream_cutoff.jsonl as LocalStack sends them, without
record ids, including the cut-off last line.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import catsvdogs.transform.handler as handler_module
from catsvdogs.transform.events import InvalidEvent
from catsvdogs.transform.handler import handler
from catsvdogs.transform.record import MAX_RAW_BYTES

TESTS = Path(__file__).resolve().parents[1]
ARRIVAL_MS = 1764878400250  # 2025-12-04T20:00:00.250Z

TWEET = {
    "data": {
        "id": "1900578210756702208",
        "text": "Window seat, sunbeam, zero plans. #cats",
        "created_at": "2025-03-14T16:02:11.000Z",
        "author_id": "1700000000000000101",
        "lang": "en",
        "entities": {"hashtags": [{"start": 34, "end": 39, "tag": "cats"}]},
    },
    "matching_rules": [{"id": "1790000000000000001", "tag": "cats"}],
}


def load_event(name: str) -> dict[str, Any]:
    return json.loads((TESTS / "events" / name).read_text(encoding="utf-8"))


def encode(payload: bytes) -> str:
    return base64.b64encode(payload).decode("ascii")


def json_line(message: object) -> bytes:
    return json.dumps(message).encode("utf-8") + b"\n"


def aws_event(payloads: list[object]) -> dict[str, Any]:
    """Build an AWS-shaped event. A str payload becomes the data field unchanged, bytes are base64-encoded."""
    records = []
    for index, payload in enumerate(payloads):
        data = payload if isinstance(payload, str) else encode(payload)
        records.append({"recordId": f"record-{index}", "approximateArrivalTimestamp": ARRIVAL_MS, "data": data})
    return {
        "invocationId": "invocation-1",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/catsvdogs-tweets",
        "region": "us-east-1",
        "records": records,
    }


def decode_output(record: dict[str, str]) -> dict[str, Any]:
    return json.loads(base64.b64decode(record["data"], validate=True))


def results(response: dict[str, Any]) -> list[str]:
    return [record["result"] for record in response["records"]]


def reasons(response: dict[str, Any]) -> list[str | None]:
    return [decode_output(record).get("error", {}).get("reason") for record in response["records"]]


def test_aws_event_results() -> None:
    response = handler(load_event("firehose_aws.json"), None)

    expected = ["Ok", "Ok", "Ok", "ProcessingFailed", "Ok", "Ok", "Ok", "ProcessingFailed"]
    assert results(response) == expected


def test_aws_event_record_ids_echoed() -> None:
    event = load_event("firehose_aws.json")

    response = handler(event, None)

    input_ids = [record["recordId"] for record in event["records"]]
    assert [record["recordId"] for record in response["records"]] == input_ids


def test_aws_event_categories() -> None:
    response = handler(load_event("firehose_aws.json"), None)

    categories = [decode_output(record).get("category") for record in response["records"]]
    assert categories == ["cat", "dog", "both", None, "none", "cat", "dog", None]


def test_aws_event_failure_reasons() -> None:
    response = handler(load_event("firehose_aws.json"), None)

    failed = [reason for reason in reasons(response) if reason is not None]
    assert failed == [
        "data is empty or only whitespace",
        "data is missing: the message contains only errors (operational-disconnect)",
    ]


def test_aws_event_provenance() -> None:
    response = handler(load_event("firehose_aws.json"), None)

    document = decode_output(response["records"][0])
    assert document["source"] == "replay"
    assert document["origin"] == {"file": "stream_v2_minimal.jsonl", "line": 1}
    assert document["read_at"] == "2025-12-04T20:00:00.101Z"
    assert document["ingested_at"] == "2025-12-04T20:00:00.251Z"


def test_localstack_event_results() -> None:
    response = handler(load_event("firehose_localstack.json"), None)

    assert results(response) == ["Ok"] * 7 + ["ProcessingFailed"]


def test_localstack_event_omits_record_ids() -> None:
    response = handler(load_event("firehose_localstack.json"), None)

    assert [record for record in response["records"] if "recordId" in record] == []


def test_localstack_event_keeps_order() -> None:
    event = load_event("firehose_localstack.json")

    response = handler(event, None)

    input_ids = [json.loads(base64.b64decode(record["data"]))["data"]["id"] for record in event["records"][:7]]
    output_ids = [decode_output(record)["tweet_id"] for record in response["records"][:7]]
    assert output_ids == input_ids


def test_localstack_event_live_source() -> None:
    response = handler(load_event("firehose_localstack.json"), None)

    documents = [decode_output(record) for record in response["records"][:7]]
    assert {document["source"] for document in documents} == {"x"}
    assert [document for document in documents if "origin" in document or "read_at" in document] == []


def test_localstack_event_null_rule_tags() -> None:
    response = handler(load_event("firehose_localstack.json"), None)

    documents = [decode_output(record) for record in response["records"][:7]]
    assert [document["matching_rules"] for document in documents] == [[]] * 7
    assert [document["category"] for document in documents] == ["none", "none", "none", "dog", "none", "none", "none"]


@pytest.mark.parametrize("event_name", ["firehose_aws.json", "firehose_localstack.json"])
def test_outputs_are_json_lines(event_name: str) -> None:
    response = handler(load_event(event_name), None)

    for index, record in enumerate(response["records"]):
        payload = base64.b64decode(record["data"], validate=True)
        assert payload.endswith(b"\n"), f"record {index} has no final newline"
        assert payload.count(b"\n") == 1, f"record {index} is more than one line"
        assert isinstance(json.loads(payload), dict), f"record {index} is not a JSON object"


def test_bad_records_isolated() -> None:
    bad_payloads: list[object] = [
        "not base64!",
        encode(b"\xff\xfe not utf-8\n"),
        b"{not json\n",
        b"[1, 2, 3]\n",
        json_line({"data": {"id": 12, "text": "id is a number"}}),
        json_line({"data": {"id": "1", "text": ["not", "a", "string"]}}),
        json_line({"data": {"id": "1", "text": "x", "public_metrics": {"like_count": "3"}}}),
        json_line({"errors": [{"title": "operational-disconnect"}]}),
    ]
    payloads: list[object] = [json_line(TWEET)]
    for bad in bad_payloads:
        payloads.extend([bad, json_line(TWEET)])

    response = handler(aws_event(payloads), None)

    expected = ["Ok"] + ["ProcessingFailed", "Ok"] * len(bad_payloads)
    assert results(response) == expected


def test_bad_record_reasons() -> None:
    payloads: list[object] = [
        "not base64!",
        encode(b"\xff\xfe not utf-8\n"),
        b"{not json\n",
        b"[1, 2, 3]\n",
        json_line({"data": {"id": 12, "text": "id is a number"}}),
        json_line({"data": {"id": "1", "text": ["not", "a", "string"]}}),
        json_line({"data": {"id": "1", "text": "x", "public_metrics": {"like_count": "3"}}}),
        json_line({"errors": [{"title": "operational-disconnect"}]}),
    ]

    response = handler(aws_event(payloads), None)

    found = reasons(response)
    assert found[0].startswith("record data is not valid base64")
    assert found[1].startswith("data is not valid UTF-8")
    assert found[2].startswith("data is not valid JSON")
    assert found[3] == "message must be a JSON object, not array"
    assert found[4] == "data.id must be a string, not integer"
    assert found[5] == "data.text must be a string, not array"
    assert found[6] == "data.public_metrics.like_count must be an integer, not string"
    assert found[7] == "data is missing: the message contains only errors (operational-disconnect)"


def test_malformed_event_records() -> None:
    event = aws_event([json_line(TWEET)])
    event["records"] += ["not an object", {"recordId": "no-data", "approximateArrivalTimestamp": ARRIVAL_MS}]

    response = handler(event, None)

    assert results(response) == ["Ok", "ProcessingFailed", "ProcessingFailed"]
    assert "recordId" not in response["records"][1]
    assert response["records"][2]["recordId"] == "no-data"
    assert reasons(response)[1:] == [
        "record must be a JSON object, not string",
        "record data must be a base64 string, not null",
    ]


def test_error_raw_keeps_text() -> None:
    response = handler(aws_event([b"{not json\n"]), None)

    assert decode_output(response["records"][0])["error"]["raw"] == "{not json\n"


def test_error_raw_base64_when_binary() -> None:
    payload = b"\xff\xfe not utf-8\n"

    response = handler(aws_event([payload]), None)

    assert decode_output(response["records"][0])["error"]["raw"] == encode(payload)


def test_error_raw_truncated() -> None:
    payload = b"{" + "é".encode("utf-8") * MAX_RAW_BYTES

    response = handler(aws_event([payload]), None)

    raw = decode_output(response["records"][0])["error"]["raw"]
    assert len(raw.encode("utf-8")) <= MAX_RAW_BYTES
    assert len(raw.encode("utf-8")) > MAX_RAW_BYTES - 4


def test_error_raw_binary_truncated() -> None:
    payload = b"\xff" * (MAX_RAW_BYTES * 2)

    response = handler(aws_event([payload]), None)

    raw = decode_output(response["records"][0])["error"]["raw"]
    assert len(raw) == MAX_RAW_BYTES


def test_unpaired_surrogate_fails() -> None:
    message = {"data": {"id": "1", "text": "broken \ud800 half"}}
    payload = json.dumps(message).encode("ascii") + b"\n"

    response = handler(aws_event([payload]), None)

    assert results(response) == ["ProcessingFailed"]
    assert "unpaired UTF-16 surrogate" in reasons(response)[0]


def test_escaped_emoji_accepted() -> None:
    message = {"data": {"id": "1", "text": "sofa truce \U0001f431\U0001f436"}}
    payload = json.dumps(message).encode("ascii") + b"\n"

    response = handler(aws_event([payload]), None)

    assert results(response) == ["Ok"]
    assert decode_output(response["records"][0])["text"] == "sofa truce \U0001f431\U0001f436"


def test_missing_arrival_uses_now() -> None:
    event = aws_event([json_line(TWEET)])
    del event["records"][0]["approximateArrivalTimestamp"]

    before = datetime.now(UTC) - timedelta(milliseconds=1)
    response = handler(event, None)
    after = datetime.now(UTC)

    ingested_at = datetime.fromisoformat(decode_output(response["records"][0])["ingested_at"])
    assert before <= ingested_at <= after


def test_invalid_event_raises() -> None:
    with pytest.raises(InvalidEvent):
        handler({"Records": []}, None)


def test_empty_batch() -> None:
    assert handler({"records": []}, None) == {"records": []}


def test_unexpected_error_isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    real_transform = handler_module.transform_record

    def fail_on_marker(data: bytes, arrival_ms: int, vocabulary: object) -> object:
        if b"fail-here" in data:
            raise KeyError("simulated bug")
        return real_transform(data, arrival_ms, vocabulary)

    monkeypatch.setattr(handler_module, "transform_record", fail_on_marker)
    marked = {"data": {"id": "2", "text": "fail-here"}}

    response = handler(aws_event([json_line(TWEET), json_line(marked), json_line(TWEET)]), None)

    assert results(response) == ["Ok", "ProcessingFailed", "Ok"]
    assert reasons(response)[1] == "internal error: KeyError: 'simulated bug'"


def test_failed_record_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=handler_module.__name__)

    handler(aws_event([json_line(TWEET), b"{not json\n"]), None)

    warnings = [json.loads(entry.getMessage()) for entry in caplog.records if entry.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0]["service"] == "catsvdogs-transform"
    assert warnings[0]["record_id"] == "record-1"
    assert warnings[0]["index"] == 1
    assert warnings[0]["reason"].startswith("data is not valid JSON")


def test_batch_summary_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=handler_module.__name__)

    handler(aws_event([json_line(TWEET), b"{not json\n"]), None)

    infos = [json.loads(entry.getMessage()) for entry in caplog.records if entry.levelno == logging.INFO]
    assert len(infos) == 1
    assert infos[0]["event"] == "batch_transformed"
    assert infos[0]["invocation_id"] == "invocation-1"
    assert infos[0]["records"] == 2
    assert infos[0]["ok"] == 1
    assert infos[0]["failed"] == 1
