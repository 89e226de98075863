"""Tweets flattened by twarc2 (``twarc2 flatten``): one tweet per line with its expansions inlined.

A flattened tweet is a v2 tweet with ``author`` (the user object) beside
``author_id``, and each ``referenced_tweets`` entry merged with the full
referenced tweet. twarc2 copies ``__twarc`` and, for stream captures,
``matching_rules`` into each tweet. The inlined referenced tweets go to
``includes.tweets`` and are not counted.
"""

from __future__ import annotations

from typing import Any

from catsvdogs.formats.model import BadRecord, matching_rules, message, user
from catsvdogs.formats.v2_stream import check_message

FORMAT_NAME = "twarc2-flat"
DESCRIPTION = "tweets flattened by twarc2, one tweet per line with 'author' and referenced tweets inlined"

# Keys that twarc2 adds to a v2 tweet when it flattens it; they are not part of the tweet.
_INLINED_KEYS = ("author", "in_reply_to_user", "__twarc", "matching_rules", "pinned_tweet")


def _strip(tweet: dict[str, Any]) -> dict[str, Any]:
    """Return the v2 tweet without the objects that flattening inlined."""
    data = {key: value for key, value in tweet.items() if key not in _INLINED_KEYS}
    referenced = tweet.get("referenced_tweets")
    if isinstance(referenced, list):
        data["referenced_tweets"] = [
            {"type": ref.get("type"), "id": ref.get("id")} for ref in referenced if isinstance(ref, dict)
        ]
    return data


def _author(tweet: dict[str, Any]) -> dict[str, Any] | None:
    author = tweet.get("author")
    if not isinstance(author, dict):
        return None
    return user(tweet.get("author_id") or author.get("id"), author.get("username"), author.get("name"))


def convert(record: Any) -> list[dict[str, Any]]:
    """Turn one flattened tweet into one message."""
    if not isinstance(record, dict):
        raise BadRecord(f"not a flattened tweet: expected a JSON object, found {type(record).__name__}")
    data = _strip(record)
    check_message({"data": data})

    referenced_tweets = []
    for ref in record.get("referenced_tweets") or []:
        if isinstance(ref, dict) and isinstance(ref.get("id"), str) and isinstance(ref.get("text"), str):
            referenced_tweets.append({key: value for key, value in _strip(ref).items() if key != "type"})
    return [message(data, [_author(record)], referenced_tweets, matching_rules(record.get("matching_rules")))]
