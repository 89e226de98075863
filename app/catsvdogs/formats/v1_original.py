"""v1.1 / Gnip "original format" tweets, one per line (twarc v1, tweepy dumps, PowerTrack, REST API).

A tweet has ``id_str``, ``created_at`` like "Wed Oct 10 20:19:24 +0000 2018",
its text in ``text``, ``full_text`` (REST with ``tweet_mode=extended``) or
``extended_tweet.full_text`` (streams, for texts over 140 characters), a
``user``, and optionally ``retweeted_status`` and ``quoted_status``. The full
text and its entities win over the truncated ones. The embedded retweeted or
quoted tweet goes to ``includes.tweets`` and is not counted.
"""

from __future__ import annotations

from typing import Any

from catsvdogs.formats.model import (
    BadRecord,
    add_optional_fields,
    matching_rules,
    message,
    public_metrics,
    require_id,
    require_text,
    user,
    v1_timestamp_to_iso,
)

FORMAT_NAME = "v1-original"
DESCRIPTION = "v1.1 / Gnip original-format tweets, one per line (twarc v1, tweepy, PowerTrack, REST API)"

# Top-level keys of v1.1 stream messages that are not tweets, such as {"delete": {...}} or {"limit": {...}}.
CONTROL_KEYS = (
    "delete",
    "limit",
    "scrub_geo",
    "status_withheld",
    "user_withheld",
    "disconnect",
    "warning",
    "friends",
    "event",
    "for_user",
)


def _id_of(value: Any) -> str | None:
    """Return a tweet or user id from ``id_str`` or a JSON number; None when missing."""
    if isinstance(value, str) and value.isdigit():
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def tweet_data(status: dict[str, Any], *, what: str = "'id_str'") -> dict[str, Any]:
    """Convert one v1.1 tweet object to a v2 ``data`` tweet, without looking at embedded tweets."""
    # id_str first: JSON numbers above 2**53 were rounded by JavaScript tools, so "id" can be wrong.
    tweet_id = require_id(status.get("id_str") or status.get("id"), what)
    extended = status.get("extended_tweet")
    if isinstance(extended, dict) and isinstance(extended.get("full_text"), str):
        text = extended["full_text"]
        entities = extended.get("entities")
    else:
        text = status.get("full_text", status.get("text"))
        entities = status.get("entities")
    data: dict[str, Any] = {"id": tweet_id, "text": require_text(text, tweet_id)}
    if status.get("created_at") is not None:
        data["created_at"] = v1_timestamp_to_iso(status["created_at"])

    author = status.get("user")
    if isinstance(author, dict):
        author_id = _id_of(author.get("id_str")) or _id_of(author.get("id"))
        if author_id:
            data["author_id"] = author_id
    if isinstance(status.get("lang"), str):
        data["lang"] = status["lang"]
    data["public_metrics"] = public_metrics(
        status.get("retweet_count"), status.get("reply_count"), status.get("favorite_count"), status.get("quote_count")
    )
    add_optional_fields(data, entities, _referenced_tweets(status), status.get("edit_history"))
    return data


def _referenced_tweets(status: dict[str, Any]) -> list[dict[str, str]]:
    """List the v2 ``referenced_tweets`` of a v1.1 tweet: a retweet references only its original, as in v2."""
    retweeted = status.get("retweeted_status")
    if isinstance(retweeted, dict):
        original_id = _id_of(retweeted.get("id_str")) or _id_of(retweeted.get("id"))
        return [{"type": "retweeted", "id": original_id}] if original_id else []
    referenced = []
    quoted = status.get("quoted_status")
    quoted_id = _id_of(status.get("quoted_status_id_str")) or (
        _id_of(quoted.get("id_str")) if isinstance(quoted, dict) else None
    )
    if quoted_id:
        referenced.append({"type": "quoted", "id": quoted_id})
    reply_to = _id_of(status.get("in_reply_to_status_id_str")) or _id_of(status.get("in_reply_to_status_id"))
    if reply_to:
        referenced.append({"type": "replied_to", "id": reply_to})
    return referenced


def _user_entry(status: dict[str, Any]) -> dict[str, Any] | None:
    author = status.get("user")
    if not isinstance(author, dict):
        return None
    author_id = _id_of(author.get("id_str")) or _id_of(author.get("id"))
    return user(author_id, author.get("screen_name"), author.get("name"))


def _embedded(status: dict[str, Any]) -> list[dict[str, Any]]:
    """Convert the retweeted or quoted tweets that a tweet embeds, skipping any that are incomplete."""
    embedded = []
    for key in ("retweeted_status", "quoted_status"):
        inner = status.get(key)
        if not isinstance(inner, dict):
            continue
        try:
            embedded.append(tweet_data(inner))
        except BadRecord:
            continue  # an incomplete embedded tweet does not make the outer tweet unusable
    return embedded


def convert(record: Any) -> list[dict[str, Any]]:
    """Turn one v1.1 tweet into one message; stream control messages are rejected."""
    if not isinstance(record, dict):
        raise BadRecord(f"not a v1.1 tweet: expected a JSON object, found {type(record).__name__}")
    for key in CONTROL_KEYS:
        if key in record and "id_str" not in record:
            raise BadRecord(f"stream control message, no tweet: '{key}'")
    data = tweet_data(record)
    users = [_user_entry(record)]
    return [message(data, users, _embedded(record), matching_rules(record.get("matching_rules")))]
