"""The common tweet model: every reader turns its records into X API v2 stream messages.

A message is ``{"data": tweet, "includes": {"users": [...], "tweets": [...]},
"matching_rules": [{"id", "tag"}]}``, the shape that the transform Lambda reads.
``data`` carries ``id``, ``text``, ``created_at`` (ISO 8601 UTC with
milliseconds), and when the source has them ``author_id``, ``lang``,
``public_metrics``, ``entities.hashtags`` (``tag``, ``start``, ``end``),
``referenced_tweets`` and ``edit_history_tweet_ids``.

Retweets and quotes: only the top-level tweet of a record is a tweet. The
retweeted or quoted tweet that a record embeds goes to ``includes.tweets`` and
is never counted. A retweet keeps its own ``RT @user: …`` text and the hashtags
of that text, as X sends them in every format, so it gets the same category
whichever format it was recorded in.
"""

from __future__ import annotations

import json
import sys
from typing import Any

# Months of the v1.1 timestamp form "Wed Oct 10 20:19:24 +0000 2018".
_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1
)}


class BadRecord(ValueError):
    """A record that is not a usable tweet; the message reads "category: details" and is shown with file:line."""


def loads_line(text: str, *, cut_off: bool = False) -> Any:
    """Decode one JSON line, raising BadRecord with the reason shown to the user.

    ``cut_off`` marks the last line of a file that has no final newline, so a
    JSON error there is reported as a truncated recording.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        if cut_off:
            raise BadRecord(f"line cut off: the file ends mid-JSON after {len(text)} characters") from error
        raise BadRecord(describe_json_error(error)) from error
    except RecursionError as error:
        raise BadRecord(nested_too_deeply()) from error


def describe_json_error(error: json.JSONDecodeError) -> str:
    """Return the message of a JSON error with its column. Some of json's messages already end with "at"."""
    where = "column" if error.msg.endswith(" at") else "at column"
    return f"invalid JSON: {error.msg} {where} {error.colno}"


def nested_too_deeply(where: str = "") -> str:
    """Return the rejection reason for JSON whose arrays and objects nest deeper than the decoder can follow.

    ``where``, such as " at line 3", follows "nested too deeply".
    """
    # The decoder recurses once a level, so Python's recursion limit, less the stack already in use, bounds the depth.
    limit = sys.getrecursionlimit()
    return f"invalid JSON: nested too deeply{where} (the decoder follows fewer than {limit:,} levels of arrays and objects)"


def v1_timestamp_to_iso(value: Any) -> str:
    """Convert a v1.1 ``created_at`` such as "Wed Oct 10 20:19:24 +0000 2018" to "2018-10-10T20:19:24.000Z".

    X writes these times in UTC with the offset ``+0000``. Other offsets are
    rejected rather than guessed at. Raises BadRecord for any other form.
    """
    if not isinstance(value, str):
        raise BadRecord(f"invalid created_at: expected a string, found {type(value).__name__}")
    parts = value.split(" ")
    month = _MONTHS.get(parts[1]) if len(parts) == 6 else None
    if month is None or parts[4] != "+0000" or len(parts[3]) != 8 or not parts[2].isdigit() or not parts[5].isdigit():
        raise BadRecord(f"invalid created_at {value!r}: expected the v1.1 form 'Wed Oct 10 20:19:24 +0000 2018'")
    return f"{int(parts[5]):04d}-{month:02d}-{int(parts[2]):02d}T{parts[3]}.000Z"


def count(value: Any) -> int:
    """Read an engagement count, which X archives store as a string of digits; 0 when missing or invalid."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 0


def public_metrics(retweets: Any, replies: Any, likes: Any, quotes: Any) -> dict[str, int]:
    return {
        "retweet_count": count(retweets),
        "reply_count": count(replies),
        "like_count": count(likes),
        "quote_count": count(quotes),
    }


def v1_hashtags(entities: Any) -> list[dict[str, Any]]:
    """Convert v1.1 hashtag entities (``text``, ``indices``) to v2 ones (``tag``, ``start``, ``end``)."""
    if not isinstance(entities, dict):
        return []
    hashtags = entities.get("hashtags")
    if not isinstance(hashtags, list):
        return []
    converted = []
    for hashtag in hashtags:
        if not isinstance(hashtag, dict) or not isinstance(hashtag.get("text"), str):
            continue
        entity: dict[str, Any] = {"tag": hashtag["text"]}
        indices = hashtag.get("indices")
        if isinstance(indices, list) and len(indices) == 2:
            entity["start"] = count(indices[0])
            entity["end"] = count(indices[1])
        converted.append(entity)
    return converted


def add_optional_fields(
    data: dict[str, Any], entities: Any, referenced: list[dict[str, str]], edit_history: Any
) -> None:
    """Add to v2 ``data`` the hashtags of v1.1 ``entities``, the ``referenced`` tweets and the ids of an ``edit_history``.

    The v1.1 and activity-streams formats carry hashtags and edit history in
    the same shape, and each field is left out when the tweet has none.
    """
    hashtags = v1_hashtags(entities)
    if hashtags:
        data["entities"] = {"hashtags": hashtags}
    if referenced:
        data["referenced_tweets"] = referenced
    if isinstance(edit_history, dict) and isinstance(edit_history.get("edit_tweet_ids"), list):
        data["edit_history_tweet_ids"] = [str(edit_id) for edit_id in edit_history["edit_tweet_ids"]]


def user(user_id: str | None, username: Any, name: Any) -> dict[str, Any] | None:
    """Build an ``includes.users`` entry, or None without an id."""
    if not user_id:
        return None
    entry: dict[str, Any] = {"id": user_id}
    if isinstance(username, str):
        entry["username"] = username
    if isinstance(name, str):
        entry["name"] = name
    return entry


def matching_rules(rules: Any) -> list[dict[str, Any]]:
    """Normalise matching rules to ``{"id": str, "tag": str | None}``, as the v2 stream sends them."""
    if not isinstance(rules, list):
        return []
    normalised = []
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        rule_id = rule.get("id_str", rule.get("id"))
        tag = rule.get("tag")
        normalised.append({"id": None if rule_id is None else str(rule_id), "tag": tag if isinstance(tag, str) else None})
    return normalised


def message(
    data: dict[str, Any],
    users: list[dict[str, Any] | None],
    tweets: list[dict[str, Any]],
    rules: list[dict[str, Any]],
) -> dict[str, Any]:
    """Assemble a v2 stream message, leaving out empty parts as X does."""
    result: dict[str, Any] = {"data": data}
    includes: dict[str, Any] = {}
    present_users = [entry for entry in users if entry is not None]
    if present_users:
        includes["users"] = present_users
    if tweets:
        includes["tweets"] = tweets
    if includes:
        result["includes"] = includes
    if rules:
        result["matching_rules"] = rules
    return result


def require_id(value: Any, what: str) -> str:
    """Return a tweet id as a string of digits, raising BadRecord otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.isdigit():
        raise BadRecord(f"not a tweet: {what} is missing or not a tweet id")
    return value


def require_text(value: Any, tweet_id: str) -> str:
    if not isinstance(value, str):
        raise BadRecord(f"not a tweet: the text of tweet {tweet_id} is missing or not a string")
    return value
