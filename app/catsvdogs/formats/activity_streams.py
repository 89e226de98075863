"""Gnip activity streams: one activity per line, ``verb`` "post" (a tweet) or "share" (a retweet).

An activity has ``id`` "tag:search.twitter.com,2005:<tweet id>", ``postedTime``
(ISO 8601), ``body``, ``actor`` (id "id:twitter.com:<user id>"),
``twitter_entities``, ``favoritesCount``, ``retweetCount`` and
``gnip.matching_rules``. ``long_object`` holds the full text and entities of a
tweet over 140 characters. A share's ``object`` is the retweeted activity and
``twitter_quoted_status`` the quoted one; both go to ``includes.tweets`` and
are not counted. Activity streams carry no reply or quote counts, so those
are 0. Gnip's ``{"info": ...}`` and ``{"error": ...}`` system messages are
rejected.
"""

from __future__ import annotations

from typing import Any

from catsvdogs.formats.model import (
    BadRecord,
    add_optional_fields,
    matching_rules,
    message,
    public_metrics,
    require_text,
    user,
)

FORMAT_NAME = "activity-streams"
DESCRIPTION = "Gnip activity streams, one activity per line"


def _last_part(value: Any, separator: str) -> str | None:
    """Return the id after the last ``separator`` of "tag:search.twitter.com,2005:123" or a status link."""
    if not isinstance(value, str):
        return None
    tail = value.rsplit(separator, 1)[-1]
    return tail if tail.isdigit() else None


def _timestamp(value: Any, tweet_id: str) -> str:
    if not isinstance(value, str) or len(value) < 19 or value[10] != "T":
        raise BadRecord(f"invalid created_at {value!r}: the postedTime of tweet {tweet_id} is not ISO 8601")
    return value


def activity_data(activity: dict[str, Any]) -> dict[str, Any]:
    """Convert one activity to a v2 ``data`` tweet, without looking at embedded activities."""
    tweet_id = _last_part(activity.get("id"), ":")
    if tweet_id is None:
        raise BadRecord("not a tweet: the activity 'id' is missing or has no tweet id")
    long_object = activity.get("long_object")
    if isinstance(long_object, dict) and isinstance(long_object.get("body"), str):
        text = long_object["body"]
        entities = long_object.get("twitter_entities")
    else:
        text = activity.get("body")
        entities = activity.get("twitter_entities")
    data: dict[str, Any] = {"id": tweet_id, "text": require_text(text, tweet_id)}
    if activity.get("postedTime") is not None:
        data["created_at"] = _timestamp(activity["postedTime"], tweet_id)
    actor = activity.get("actor")
    author_id = _last_part(actor.get("id"), ":") if isinstance(actor, dict) else None
    if author_id:
        data["author_id"] = author_id
    if isinstance(activity.get("twitter_lang"), str):
        data["lang"] = activity["twitter_lang"]
    data["public_metrics"] = public_metrics(activity.get("retweetCount"), None, activity.get("favoritesCount"), None)
    add_optional_fields(data, entities, _referenced_tweets(activity), activity.get("edit_history"))
    return data


def _referenced_tweets(activity: dict[str, Any]) -> list[dict[str, str]]:
    if activity.get("verb") == "share":
        original = activity.get("object")
        original_id = _last_part(original.get("id"), ":") if isinstance(original, dict) else None
        return [{"type": "retweeted", "id": original_id}] if original_id else []
    referenced = []
    quoted = activity.get("twitter_quoted_status")
    quoted_id = _last_part(quoted.get("id"), ":") if isinstance(quoted, dict) else None
    if quoted_id:
        referenced.append({"type": "quoted", "id": quoted_id})
    reply = activity.get("inReplyTo")
    reply_id = _last_part(reply.get("link"), "/") if isinstance(reply, dict) else None
    if reply_id:
        referenced.append({"type": "replied_to", "id": reply_id})
    return referenced


def _embedded(activity: dict[str, Any]) -> list[dict[str, Any]]:
    embedded = []
    candidates = [activity.get("twitter_quoted_status")]
    if activity.get("verb") == "share":
        candidates.insert(0, activity.get("object"))
    for inner in candidates:
        if not isinstance(inner, dict):
            continue
        try:
            embedded.append(activity_data(inner))
        except BadRecord:
            continue  # an incomplete embedded activity does not make the outer one unusable
    return embedded


def convert(record: Any) -> list[dict[str, Any]]:
    """Turn one activity into one message; system messages and other verbs are rejected."""
    if not isinstance(record, dict):
        raise BadRecord(f"not an activity: expected a JSON object, found {type(record).__name__}")
    if "verb" not in record:
        for key in ("info", "error"):
            if key in record:
                raise BadRecord(f"Gnip system message, no tweet: '{key}' {str(record[key])[:200]}")
        raise BadRecord("not an activity: no 'verb'")
    if record["verb"] not in ("post", "share"):
        raise BadRecord(f"not a tweet: activity verb {record['verb']!r}")
    data = activity_data(record)
    actor = record.get("actor") if isinstance(record.get("actor"), dict) else {}
    author = user(data.get("author_id"), actor.get("preferredUsername"), actor.get("displayName"))
    gnip = record.get("gnip") if isinstance(record.get("gnip"), dict) else {}
    return [message(data, [author], _embedded(record), matching_rules(gnip.get("matching_rules")))]
