"""Bluesky Jetstream messages, one JSON object per line, mapped to X API v2 stream messages.

Jetstream sends every event of the wanted collections: post creates, updates
and deletes, plus identity and account events, which ignore the collection
filter. Only post creates with a cat or dog hashtag become tweets. The other
events map to no message, so a recording of everything Jetstream sent replays
to the same tweets as the live run.

A post's hashtags are the ``app.bsky.richtext.facet#tag`` features of its facets
(with offsets) plus its ``tags`` (without offsets). They are matched against the
same vocabulary as the transform: CATSVDOGS_CAT_WORDS and CATSVDOGS_DOG_WORDS.

The mapped message has the shape the transform reads:

- ``data.id`` is the post's ``at://DID/app.bsky.feed.post/RKEY`` URI;
- ``data.created_at`` is ``record.createdAt`` in UTC with milliseconds, or the
  event's ``time_us`` when ``createdAt`` is missing or invalid;
- ``data.lang`` is the first of ``record.langs``;
- ``data.entities.hashtags`` have ``start`` and ``end`` in characters,
  converted from Bluesky's UTF-8 byte offsets;
- ``data.author_id`` is the DID, and ``includes.users`` names the DID as the
  username, because commit events carry no handle and resolving one costs a
  request per author to the PLC directory or the author's server;
- ``data.public_metrics`` are zeros, because Jetstream sends no counts;
- ``matching_rules`` has one rule with id ``bluesky-vocabulary`` and tag
  ``cats`` or ``dogs`` for each category that matched.
"""

from __future__ import annotations

import functools
import json
import os
from datetime import UTC, datetime
from typing import Any

from catsvdogs.formats.model import describe_json_error
from catsvdogs.formats.v2_stream import BadLine
from catsvdogs.transform.category import (
    CAT_WORDS_VARIABLE,
    DOG_WORDS_VARIABLE,
    Vocabulary,
    load_vocabulary,
    normalize_tag,
)
from catsvdogs.transform.timestamps import format_timestamp, normalize_timestamp

__all__ = [
    "DESCRIPTION",
    "FORMAT_NAME",
    "BadLine",
    "Event",
    "check_event",
    "convert",
    "event_key",
    "is_event",
    "parse_event",
    "parse_line",
    "post_messages",
]

FORMAT_NAME = "bluesky-jetstream"
DESCRIPTION = "Bluesky Jetstream events recorded by catsvdogs, one per line; only cat and dog posts become tweets"
POST_COLLECTION = "app.bsky.feed.post"
TAG_FEATURE_TYPE = "app.bsky.richtext.facet#tag"
RULE_ID = "bluesky-vocabulary"
CAT_RULE_TAG = "cats"
DOG_RULE_TAG = "dogs"
SOURCE_NAME = "bluesky"

Event = dict[str, Any]


def is_event(record: Any) -> bool:
    """Tell whether a decoded record has Jetstream's top-level keys ``did``, ``time_us`` and ``kind``, for detection."""
    return isinstance(record, dict) and "did" in record and "time_us" in record and "kind" in record


def parse_event(text: str, *, cut_off: bool = False) -> Event:
    """Parse one Jetstream message and check the fields that every event has.

    ``cut_off`` marks the last line of a file that has no final newline. Raises
    BadLine with the reason if the line is not a Jetstream event.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        if cut_off:
            raise BadLine(f"line cut off: the file ends mid-JSON after {len(text)} characters") from error
        raise BadLine(describe_json_error(error)) from error
    except RecursionError as error:
        raise BadLine("invalid JSON: nested too deeply") from error
    return check_event(value)


def check_event(event: Any) -> Event:
    """Check that a decoded value is a Jetstream event, and return it unchanged; raise BadLine otherwise."""
    if not isinstance(event, dict):
        raise BadLine(f"not a Jetstream event: expected a JSON object, found {type(event).__name__}")
    if not isinstance(event.get("did"), str) or not event["did"]:
        raise BadLine("not a Jetstream event: 'did' is missing or not a string")
    if not isinstance(event.get("kind"), str):
        raise BadLine("not a Jetstream event: 'kind' is missing or not a string")
    time_us = event.get("time_us")
    if time_us is not None and (not isinstance(time_us, int) or isinstance(time_us, bool) or time_us < 0):
        raise BadLine(f"not a Jetstream event: 'time_us' must be a non-negative integer, found {time_us!r}")
    if event["kind"] == "commit" and not isinstance(event.get("commit"), dict):
        raise BadLine("not a Jetstream commit: 'commit' is missing or not an object")
    return event


def event_key(event: Event) -> str:
    """Return a key that is equal for the same event sent twice, for example after a resume from a cursor.

    A post create is keyed by its URI. Other commits add the operation and the
    commit's revision, and identity and account events their sequence number.
    """
    did = event["did"]
    kind = event["kind"]
    if kind == "commit":
        commit = event["commit"]
        uri = f"at://{did}/{commit.get('collection')}/{commit.get('rkey')}"
        if commit.get("operation") == "create":
            return uri
        return f"{uri}|{commit.get('operation')}|{commit.get('rev') or commit.get('cid') or event.get('time_us')}"
    detail = event.get(kind)
    sequence = detail.get("seq") if isinstance(detail, dict) else None
    return f"{did}|{kind}|{sequence if sequence is not None else event.get('time_us')}"


def post_messages(event: Event, vocabulary: Vocabulary) -> list[dict[str, Any]]:
    """Map a parsed event to the v2 stream messages it stands for: one for a matching post create, else none.

    Raises BadLine if the event is a post create whose record is not a post.
    """
    if event["kind"] != "commit":
        return []
    commit = event["commit"]
    if commit.get("collection") != POST_COLLECTION or commit.get("operation") != "create":
        return []

    record = commit.get("record")
    if not isinstance(record, dict):
        raise BadLine("not a post: 'commit.record' is missing or not an object")
    rkey = commit.get("rkey")
    if not isinstance(rkey, str) or not rkey:
        raise BadLine("not a post: 'commit.rkey' is missing or not a string")
    text = record.get("text")
    if not isinstance(text, str):
        raise BadLine(f"not a post: 'commit.record.text' of {rkey} is missing or not a string")

    hashtags = read_hashtags(record, text)
    rule_tags = matching_rule_tags((entity["tag"] for entity in hashtags), vocabulary)
    if not rule_tags:
        return []
    return [build_message(event, record, text, hashtags, rule_tags)]


def parse_line(text: str, *, cut_off: bool = False, vocabulary: Vocabulary | None = None) -> list[dict[str, Any]]:
    """Parse one recorded Jetstream line into the v2 stream messages it stands for (often none).

    ``vocabulary`` defaults to the one in the environment, as the transform reads
    it. Raises BadLine with the reason for a line that is not a Jetstream event.
    """
    return post_messages(parse_event(text, cut_off=cut_off), vocabulary or environment_vocabulary())


def convert(record: Any) -> list[dict[str, Any]]:
    """Map one decoded Jetstream event to its v2 stream messages, with the vocabulary of the environment.

    The reader interface of the recorded formats: raises BadLine (a BadRecord
    where the format registry defines one) for a value that is not an event.
    """
    return post_messages(check_event(record), environment_vocabulary())


def environment_vocabulary() -> Vocabulary:
    """Return the vocabulary of CATSVDOGS_CAT_WORDS and CATSVDOGS_DOG_WORDS, parsed once per distinct value."""
    return _vocabulary_of(os.environ.get(CAT_WORDS_VARIABLE, ""), os.environ.get(DOG_WORDS_VARIABLE, ""))


@functools.lru_cache(maxsize=8)
def _vocabulary_of(cat_words: str, dog_words: str) -> Vocabulary:
    return load_vocabulary({CAT_WORDS_VARIABLE: cat_words, DOG_WORDS_VARIABLE: dog_words})


def read_hashtags(record: dict[str, Any], text: str) -> list[dict[str, Any]]:
    """Return v2 hashtag entities from the tag facets, then from ``tags``, skipping malformed entries."""
    encoded = text.encode("utf-8", "surrogatepass")
    hashtags: list[dict[str, Any]] = []
    facets = record.get("facets")
    for facet in facets if isinstance(facets, list) else []:
        if not isinstance(facet, dict) or not isinstance(facet.get("features"), list):
            continue
        offsets = character_offsets(facet.get("index"), encoded)
        for feature in facet["features"]:
            if not isinstance(feature, dict) or feature.get("$type") != TAG_FEATURE_TYPE:
                continue
            tag = feature.get("tag")
            if isinstance(tag, str) and tag.strip():
                hashtags.append({**offsets, "tag": tag})
    tags = record.get("tags")
    for tag in tags if isinstance(tags, list) else []:
        if isinstance(tag, str) and tag.strip():
            hashtags.append({"tag": tag})
    return hashtags


def character_offsets(index: object, encoded: bytes) -> dict[str, int]:
    """Convert a facet's UTF-8 ``byteStart``/``byteEnd`` into character ``start``/``end``; empty if invalid.

    An offset inside a multi-byte character counts from the start of that character.
    """
    if not isinstance(index, dict):
        return {}
    start, end = index.get("byteStart"), index.get("byteEnd")
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in (start, end)):
        return {}
    if not 0 <= start <= end <= len(encoded):
        return {}
    return {
        "start": len(encoded[:start].decode("utf-8", "ignore")),
        "end": len(encoded[:end].decode("utf-8", "ignore")),
    }


def matching_rule_tags(hashtags: Any, vocabulary: Vocabulary) -> list[str]:
    """Return ``cats``, ``dogs``, both or neither, as the hashtags match the vocabulary."""
    terms = {normalize_tag(tag) for tag in hashtags}
    tags = []
    if not terms.isdisjoint(vocabulary.cat_words):
        tags.append(CAT_RULE_TAG)
    if not terms.isdisjoint(vocabulary.dog_words):
        tags.append(DOG_RULE_TAG)
    return tags


def created_at(record: dict[str, Any], time_us: int | None) -> str | None:
    """Return ``createdAt`` normalized to UTC with milliseconds, else the event time, else None."""
    value = record.get("createdAt")
    if isinstance(value, str):
        try:
            return normalize_timestamp(value)
        except ValueError:
            pass
    if time_us is None:
        return None
    try:
        return format_timestamp(datetime.fromtimestamp(time_us / 1_000_000, UTC))
    except (OverflowError, OSError, ValueError):
        return None


def build_message(
    event: Event, record: dict[str, Any], text: str, hashtags: list[dict[str, Any]], rule_tags: list[str]
) -> dict[str, Any]:
    """Build the v2 stream message of one matching post."""
    did = event["did"]
    commit = event["commit"]
    data: dict[str, Any] = {"id": f"at://{did}/{POST_COLLECTION}/{commit['rkey']}", "text": text}
    timestamp = created_at(record, event.get("time_us"))
    if timestamp is not None:
        data["created_at"] = timestamp
    langs = record.get("langs")
    if isinstance(langs, list) and langs and isinstance(langs[0], str) and langs[0]:
        data["lang"] = langs[0]
    data["author_id"] = did
    data["entities"] = {"hashtags": hashtags}
    data["public_metrics"] = {"retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0}
    return {
        "data": data,
        "includes": {"users": [{"id": did, "username": did}]},
        "matching_rules": [{"id": RULE_ID, "tag": tag} for tag in rule_tags],
    }
