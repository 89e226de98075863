"""Bluesky Jetstream events mapped to v2 stream messages, and the documents the transform builds from them."""

from __future__ import annotations

import json

import pytest

from catsvdogs.formats.jetstream import BadLine, convert, event_key, is_event, parse_line
from catsvdogs.transform.category import load_vocabulary
from catsvdogs.transform.tweet import build_document
from tests.fake_jetstream import delete, identity, post

VOCABULARY = load_vocabulary({})
DID = "did:plc:abcdefghijklmnopqrstuvwx"


def mapped(event: dict) -> list[dict]:
    return parse_line(json.dumps(event), vocabulary=VOCABULARY)


def test_post_becomes_v2_message():
    event = post(DID, "3kabc", 1_767_323_045_678_901, "my #cats nap", tags=("cats",), langs=("en", "fr"))

    [message] = mapped(event)

    assert message["data"]["id"] == f"at://{DID}/app.bsky.feed.post/3kabc"
    assert message["data"]["text"] == "my #cats nap"
    assert message["data"]["created_at"] == "2026-01-02T03:04:05.678Z"
    assert message["data"]["lang"] == "en"
    assert message["data"]["author_id"] == DID
    assert message["data"]["public_metrics"] == {"retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0}
    assert message["includes"] == {"users": [{"id": DID, "username": DID}]}
    assert message["matching_rules"] == [{"id": "bluesky-vocabulary", "tag": "cats"}]


def test_byte_offsets_become_character_offsets():
    text = "🐱 café #Kitten and #dogs"
    event = post(DID, "r1", 1, text, tags=("Kitten", "dogs"))

    [message] = mapped(event)
    hashtags = message["data"]["entities"]["hashtags"]

    assert [(entity["tag"], text[entity["start"] : entity["end"]]) for entity in hashtags] == [
        ("Kitten", "#Kitten"),
        ("dogs", "#dogs"),
    ]
    assert message["matching_rules"] == [{"id": "bluesky-vocabulary", "tag": "cats"}, {"id": "bluesky-vocabulary", "tag": "dogs"}]


def test_record_tags_count_without_offsets():
    event = post(DID, "r1", 1, "no hashtag in the text", extra_tags=("puppy",))

    [message] = mapped(event)

    assert message["data"]["entities"]["hashtags"] == [{"tag": "puppy"}]
    assert message["matching_rules"] == [{"id": "bluesky-vocabulary", "tag": "dogs"}]


def test_invalid_offsets_dropped_tag_kept():
    event = post(DID, "r1", 1, "#cats", tags=("cats",))
    event["commit"]["record"]["facets"][0]["index"] = {"byteStart": 3, "byteEnd": 99}

    [message] = mapped(event)

    assert message["data"]["entities"]["hashtags"] == [{"tag": "cats"}]


@pytest.mark.parametrize(
    "event",
    [
        post(DID, "r1", 1, "a post about #hiking", tags=("hiking",)),
        post(DID, "r2", 2, "my cat and my dog, no hashtags"),
        post(DID, "r3", 3, "#DogsOfBluesky", tags=("DogsOfBluesky",)),
        delete(DID, "r4", 4),
        identity(DID, 5, "someone.bsky.social"),
        {"did": DID, "time_us": 6, "kind": "account", "account": {"active": False, "did": DID, "seq": 6}},
        {**post(DID, "r7", 7, "#cats", tags=("cats",)), "commit": {**post(DID, "r7", 7, "#cats", tags=("cats",))["commit"], "operation": "update"}},
        {**post(DID, "r8", 8, "#cats", tags=("cats",)), "commit": {**post(DID, "r8", 8, "#cats", tags=("cats",))["commit"], "collection": "app.bsky.feed.like"}},
    ],
    ids=["other-hashtag", "words-only", "longer-hashtag", "delete", "identity", "account", "update", "other-collection"],
)
def test_events_without_cat_or_dog_post_map_to_nothing(event):
    assert mapped(event) == []


def test_created_at_normalized_or_taken_from_time_us():
    with_offset = post(DID, "r1", 1, "#cats", tags=("cats",), created_at="2026-01-02T04:04:05.1+01:00")
    invalid = post(DID, "r2", 1_767_323_045_678_901, "#cats", tags=("cats",), created_at="yesterday")

    assert mapped(with_offset)[0]["data"]["created_at"] == "2026-01-02T03:04:05.100Z"
    assert mapped(invalid)[0]["data"]["created_at"] == "2026-01-02T03:04:05.678Z"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"did": "x", "time_us": 1, "kind": "commit"', "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"time_us": 1, "kind": "commit"}', "'did' is missing"),
        ('{"did": "x", "time_us": "1", "kind": "identity"}', "'time_us' must be a non-negative integer"),
        ('{"did": "x", "time_us": 1, "kind": "commit"}', "'commit' is missing"),
        (json.dumps({**post(DID, "r", 1, "#cats", tags=("cats",)), "commit": {"operation": "create", "collection": "app.bsky.feed.post", "rkey": "r", "record": {"createdAt": "2026-01-01T00:00:00Z"}}}), "record.text"),
    ],
)
def test_bad_lines_raise_with_reason(line: str, reason: str):
    with pytest.raises(BadLine, match=reason):
        parse_line(line, vocabulary=VOCABULARY)


def test_cut_off_line_reported_as_truncated():
    with pytest.raises(BadLine, match="line cut off"):
        parse_line('{"did": "x", "ti', cut_off=True, vocabulary=VOCABULARY)


def test_convert_uses_environment_vocabulary(monkeypatch):
    monkeypatch.setenv("CATSVDOGS_CAT_WORDS", "moggy")
    event = post(DID, "r1", 1, "#moggy and #cats", tags=("moggy", "cats"))

    [message] = convert(event)

    assert message["matching_rules"] == [{"id": "bluesky-vocabulary", "tag": "cats"}]
    assert is_event(event)
    assert not is_event({"data": {"id": "1"}})


def test_event_keys_identify_repeats():
    first = post(DID, "r1", 10, "#cats", tags=("cats",))
    again = post(DID, "r1", 99, "#cats", tags=("cats",))

    assert event_key(first) == event_key(again) == f"at://{DID}/app.bsky.feed.post/r1"
    assert event_key(delete(DID, "r1", 11)) != event_key(first)
    assert event_key(identity(DID, 12, "a.example")) != event_key(identity(DID, 13, "b.example"))


def test_transform_builds_document_from_mapped_post():
    event = post(DID, "3kabc", 1, "Sleepy #Kitten 😴", tags=("Kitten",))
    [message] = mapped(event)
    message["__catsvdogs"] = {"source": "bluesky", "read_at": "2026-01-02T03:04:06.000Z"}

    document = build_document(message, "2026-01-02T03:04:07.000Z", VOCABULARY)

    assert document["tweet_id"] == f"at://{DID}/app.bsky.feed.post/3kabc"
    assert document["category"] == "cat"
    assert document["hashtags"] == ["kitten"]
    assert document["author_username"] == DID
    assert document["source"] == "bluesky"
    assert document["matching_rules"] == ["cats"]
    assert document["engagement"] == 0
