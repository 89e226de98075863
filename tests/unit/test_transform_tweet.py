"""Unit tests of transform_record: tweet documents, categories and validation failures."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from catsvdogs.transform import transform_record
from catsvdogs.transform.category import load_vocabulary
from catsvdogs.transform.fields import MAX_KEYWORD_BYTES, MAX_LONG

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ARRIVAL_MS = 1764878400250
INGESTED_AT = "2025-12-04T20:00:00.250Z"
VOCABULARY = load_vocabulary({})

BASE_MESSAGE: dict[str, Any] = {
    "data": {
        "id": "1900578240691449857",
        "text": "Muddy paws, happy heart.",
        "created_at": "2025-03-14T16:02:18.000Z",
        "author_id": "1700000000000000202",
        "lang": "en",
        "public_metrics": {"retweet_count": 1, "reply_count": 2, "like_count": 12, "quote_count": 3},
        "edit_history_tweet_ids": ["1900578240691449857"],
    },
    "includes": {"users": [{"id": "1700000000000000202", "name": "Example", "username": "example_muddypaws"}]},
}


def message_with(hashtags: Sequence[str] = (), rules: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    message = copy.deepcopy(BASE_MESSAGE)
    if hashtags:
        message["data"]["entities"] = {"hashtags": [{"start": 0, "end": 1, "tag": tag} for tag in hashtags]}
    if rules:
        message["matching_rules"] = list(rules)
    return message


def transform(message: object) -> tuple[str, dict[str, Any]]:
    return transform_record(json.dumps(message).encode("utf-8") + b"\n", ARRIVAL_MS, VOCABULARY)


def document_of(message: object) -> dict[str, Any]:
    result, document = transform(message)
    assert result == "Ok", document
    return document


def reason_of(message: object) -> str:
    result, document = transform(message)
    assert result == "ProcessingFailed", document
    return document["error"]["reason"]


def fixture_lines(name: str) -> list[bytes]:
    return (FIXTURES / name).read_bytes().split(b"\n")


@pytest.mark.parametrize(
    ("hashtags", "rules", "category"),
    [
        (["cats"], [], "cat"),
        (["Kitten"], [], "cat"),
        (["puppy"], [], "dog"),
        (["cat", "dog"], [], "both"),
        (["hiking"], [], "none"),
        ([], [], "none"),
        ([], [{"id": "1", "tag": "cats"}], "cat"),
        ([], [{"id": "1", "tag": "Dogs"}], "dog"),
        (["cats"], [{"id": "2", "tag": "dogs"}], "both"),
        (["DogsOfTwitter"], [], "none"),
        ([], [{"id": "1", "tag": None}], "none"),
        ([], [{"id": 1377649934414049282}], "none"),
    ],
)
def test_category_cases(hashtags: list[str], rules: list[dict[str, Any]], category: str) -> None:
    assert document_of(message_with(hashtags, rules))["category"] == category


def test_category_ignores_text_words() -> None:
    message = message_with()
    message["data"]["text"] = "My cat and my dog share the sofa"

    assert document_of(message)["category"] == "none"


def test_stream_v2_minimal_categories() -> None:
    lines = [line for line in fixture_lines("stream_v2_minimal.jsonl") if b'"data"' in line]

    categories = [transform_record(line + b"\n", ARRIVAL_MS, VOCABULARY)[1]["category"] for line in lines]

    assert categories == ["cat", "dog", "both", "none", "cat", "dog"]


def test_edited_tweet_keeps_final_id() -> None:
    edited = fixture_lines("stream_v2_minimal.jsonl")[5]

    result, document = transform_record(edited + b"\n", ARRIVAL_MS, VOCABULARY)

    assert result == "Ok"
    assert document["tweet_id"] == "1900578414381772804"


def test_hashtags_lowercased_deduplicated() -> None:
    document = document_of(message_with(["Cats", "CATS", "DogsOfTwitter", "cats", "Dog"]))

    assert document["hashtags"] == ["cats", "dogsoftwitter", "dog"]


def test_rule_tags_skip_null_and_missing() -> None:
    rules = [{"id": "1", "tag": None}, {"id": 2}, {"id": "3", "tag": ""}, {"id": "4", "tag": "Cats"}]

    assert document_of(message_with(rules=rules))["matching_rules"] == ["Cats"]


def test_metrics_and_engagement() -> None:
    document = document_of(message_with())

    assert document["likes"] == 12
    assert document["retweets"] == 1
    assert document["replies"] == 2
    assert document["quotes"] == 3
    assert document["engagement"] == 12 + 2 * 1 + 2 * 3 + 2


def test_missing_metrics_are_zero() -> None:
    message = message_with()
    del message["data"]["public_metrics"]

    document = document_of(message)

    counts = [document[key] for key in ("likes", "retweets", "replies", "quotes", "engagement")]
    assert counts == [0, 0, 0, 0, 0]


def test_partial_metrics_are_zero() -> None:
    message = message_with()
    message["data"]["public_metrics"] = {"like_count": 5}

    document = document_of(message)

    assert document["likes"] == 5
    assert document["engagement"] == 5


def test_timestamps_normalized() -> None:
    message = message_with()
    message["data"]["created_at"] = "2025-03-14T18:02:18.5+02:00"

    document = document_of(message)

    assert document["created_at"] == "2025-03-14T16:02:18.500Z"
    assert document["ingested_at"] == INGESTED_AT


def test_missing_created_at_uses_ingestion() -> None:
    message = message_with()
    del message["data"]["created_at"]

    assert document_of(message)["created_at"] == INGESTED_AT


def test_author_username_from_includes() -> None:
    document = document_of(message_with())

    assert document["author_id"] == "1700000000000000202"
    assert document["author_username"] == "example_muddypaws"


def test_unknown_author_omits_username() -> None:
    message = message_with()
    message["includes"]["users"][0]["id"] = "someone else"

    document = document_of(message)

    assert "author_username" not in document
    assert document["author_id"] == "1700000000000000202"


def test_without_provenance() -> None:
    document = document_of(message_with())

    assert document["source"] == "x"
    assert "origin" not in document
    assert "read_at" not in document


def test_with_provenance() -> None:
    message = message_with()
    message["__catsvdogs"] = {
        "source": "replay",
        "file": "cats.jsonl.gz",
        "line": 12,
        "read_at": "2026-12-04T20:00:00.123Z",
    }

    document = document_of(message)

    assert document["source"] == "replay"
    assert document["origin"] == {"file": "cats.jsonl.gz", "line": 12}
    assert document["read_at"] == "2026-12-04T20:00:00.123Z"


def test_provenance_without_origin() -> None:
    message = message_with()
    message["__catsvdogs"] = {"source": "replay", "read_at": "2026-12-04T20:00:00.123Z"}

    assert "origin" not in document_of(message)


def test_unknown_keys_ignored() -> None:
    message = message_with(["dogs"])
    message["__twarc"] = {"url": "https://api.twitter.com/2/tweets/search/stream"}
    message["data"]["context_annotations"] = [{"domain": {"id": "65"}}]

    assert document_of(message)["category"] == "dog"


def test_twarc_stream_lines() -> None:
    lines = fixture_lines("twarc2_stream_cutoff.jsonl")

    outcomes = [transform_record(line + b"\n", ARRIVAL_MS, VOCABULARY) for line in lines]

    assert [result for result, _ in outcomes] == ["Ok"] * 7 + ["ProcessingFailed"]
    assert outcomes[3][1]["hashtags"] == ["dogsoftwitter", "dogs"]
    assert outcomes[3][1]["category"] == "dog"


def set_path(message: dict[str, Any], path: tuple[str, ...], value: object) -> dict[str, Any]:
    target = message
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    return message


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (("data", "id"), 12, "data.id must be a string, not integer"),
        (("data", "id"), None, "data.id is missing"),
        (("data", "id"), "", "data.id is empty"),
        (("data", "text"), None, "data.text is missing"),
        (("data", "text"), 3.5, "data.text must be a string, not number"),
        (("data", "lang"), ["en"], "data.lang must be a string, not array"),
        (("data", "author_id"), 1700000000000000202, "data.author_id must be a string, not integer"),
        (("data", "public_metrics"), [], "data.public_metrics must be an object, not array"),
        (("data", "public_metrics", "like_count"), "12", "data.public_metrics.like_count must be an integer, not string"),
        (("data", "public_metrics", "like_count"), 1.5, "data.public_metrics.like_count must be an integer, not number"),
        (("data", "public_metrics", "like_count"), True, "data.public_metrics.like_count must be an integer, not boolean"),
        (("data", "public_metrics", "reply_count"), -1, "data.public_metrics.reply_count must not be negative, got -1"),
        (("data", "entities", "hashtags"), "cats", "data.entities.hashtags must be an array, not string"),
        (("data", "entities", "hashtags"), ["cats"], "data.entities.hashtags[0] must be an object, not string"),
        (("data", "entities", "hashtags"), [{"tag": 7}], "data.entities.hashtags[0].tag must be a string, not integer"),
        (("matching_rules",), {"tag": "cats"}, "matching_rules must be an array, not object"),
        (("matching_rules",), [{"id": "1", "tag": 5}], "matching_rules[0].tag must be a string, not integer"),
        (("includes", "users"), [{"id": "1700000000000000202", "username": 5}], "includes.users[0].username must be a string, not integer"),
        (("__catsvdogs",), "replay", "__catsvdogs must be an object, not string"),
        (("__catsvdogs", "line"), "12", "__catsvdogs.line must be an integer, not string"),
        (("__catsvdogs", "file"), 12, "__catsvdogs.file must be a string, not integer"),
    ],
)
def test_wrong_types_rejected(path: tuple[str, ...], value: object, reason: str) -> None:
    assert reason_of(set_path(message_with(), path, value)) == reason


def test_invalid_created_at_rejected() -> None:
    message = set_path(message_with(), ("data", "created_at"), "yesterday")

    assert reason_of(message).startswith("data.created_at is not a valid ISO 8601 timestamp")


def test_invalid_read_at_rejected() -> None:
    message = set_path(message_with(), ("__catsvdogs", "read_at"), "2026-13-01T00:00:00Z")

    assert reason_of(message).startswith("__catsvdogs.read_at is not a valid ISO 8601 timestamp")


def test_data_array_rejected() -> None:
    assert reason_of({"data": [BASE_MESSAGE["data"]], "meta": {"result_count": 1}}) == "data must be a JSON object, not array"


def test_error_only_message_rejected() -> None:
    error_line = fixture_lines("stream_v2_minimal.jsonl")[7]

    result, document = transform_record(error_line + b"\n", ARRIVAL_MS, VOCABULARY)

    assert result == "ProcessingFailed"
    assert document["error"]["reason"] == "data is missing: the message contains only errors (operational-disconnect)"
    assert document["error"]["raw"] == error_line.decode("utf-8") + "\n"


def test_keep_alive_rejected() -> None:
    result, document = transform_record(b"\r\n", ARRIVAL_MS, VOCABULARY)

    assert result == "ProcessingFailed"
    assert document["error"]["reason"] == "data is empty or only whitespace"


def test_cut_off_line_rejected() -> None:
    cut_off = fixture_lines("twarc2_stream_cutoff.jsonl")[7]

    result, document = transform_record(cut_off, ARRIVAL_MS, VOCABULARY)

    assert result == "ProcessingFailed"
    assert document["error"]["reason"].startswith("data is not valid JSON")
    assert document["error"]["raw"] == cut_off.decode("utf-8")


def test_oversized_keyword_rejected() -> None:
    message = set_path(message_with(), ("data", "lang"), "x" * (MAX_KEYWORD_BYTES + 1))

    assert reason_of(message) == f"data.lang is longer than {MAX_KEYWORD_BYTES} UTF-8 bytes, the limit of a keyword field"


def test_multibyte_keyword_limit() -> None:
    within = set_path(message_with(), ("data", "lang"), "é" * (MAX_KEYWORD_BYTES // 2))
    beyond = set_path(message_with(), ("data", "lang"), "é" * (MAX_KEYWORD_BYTES // 2 + 1))

    assert transform(within)[0] == "Ok"
    assert transform(beyond)[0] == "ProcessingFailed"


def test_oversized_count_rejected() -> None:
    message = set_path(message_with(), ("data", "public_metrics", "like_count"), MAX_LONG + 1)

    assert reason_of(message) == f"data.public_metrics.like_count is larger than {MAX_LONG}, the maximum of a long field"


def test_engagement_overflow_rejected() -> None:
    message = set_path(message_with(), ("data", "public_metrics", "retweet_count"), MAX_LONG // 2 + 1)

    assert reason_of(message) == f"engagement is larger than {MAX_LONG}, the maximum of a long field"


def test_arrival_out_of_range() -> None:
    result, document = transform_record(json.dumps(BASE_MESSAGE).encode(), 10**18, VOCABULARY)

    assert result == "ProcessingFailed"
    assert document["error"]["reason"] == f"arrival time {10**18} ms is out of range"


def test_long_reason_truncated() -> None:
    message = set_path(message_with(), ("data", "created_at"), "x" * 5000)

    assert len(reason_of(message)) == 1024
