"""X API v2 response pages as twarc2 saves them: one page of many tweets per line.

A page is ``{"data": [tweet, ...], "includes": {"users", "tweets", ...},
"meta": {...}, "__twarc": {...}}`` from search, timelines or lookups. Each
tweet of ``data`` becomes one message whose ``includes`` keep the page's
entries for that tweet: its author and the tweets it references. The tweets
of ``includes.tweets`` are only referenced (retweeted, quoted, replied to, or
earlier versions of an edited tweet) and are never counted on their own.
"""

from __future__ import annotations

from typing import Any

from catsvdogs.formats.model import BadRecord
from catsvdogs.formats.v2_stream import _error_summary, check_message

FORMAT_NAME = "twarc2-pages"
DESCRIPTION = "X API v2 response pages saved by twarc2 (search, timelines, lookups), one page per line"


def _index(includes: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
    entries = includes.get(key)
    if not isinstance(entries, list):
        return {}
    return {entry["id"]: entry for entry in entries if isinstance(entry, dict) and isinstance(entry.get("id"), str)}


def convert(record: Any) -> list[dict[str, Any] | BadRecord]:
    """Split one page into one message per tweet of ``data``; an empty page gives none.

    A tweet of the page that is not usable comes back as a BadRecord in its
    place, so the other tweets of the page are still read.
    """
    if not isinstance(record, dict):
        raise BadRecord(f"not a response page: expected a JSON object, found {type(record).__name__}")
    data = record.get("data")
    if data is None:
        if "errors" in record:
            raise BadRecord(f"error-only response page, no tweets: {_error_summary(record['errors'])}")
        if isinstance(record.get("meta"), dict):
            return []  # a page with "result_count": 0
        raise BadRecord("not a response page: no 'data' array")
    if isinstance(data, dict):
        data = [data]  # a lookup of a single tweet
    if not isinstance(data, list):
        raise BadRecord(f"not a response page: 'data' is {type(data).__name__}, expected an array")

    includes = record.get("includes") if isinstance(record.get("includes"), dict) else {}
    users = _index(includes, "users")
    tweets = _index(includes, "tweets")
    rules = record.get("matching_rules")

    messages: list[dict[str, Any] | BadRecord] = []
    for tweet in data:
        message: dict[str, Any] = {"data": tweet}
        try:
            check_message(message)
        except BadRecord as error:
            messages.append(error)
            continue
        tweet_includes: dict[str, Any] = {}
        author = users.get(tweet.get("author_id"))
        if author is not None:
            tweet_includes["users"] = [author]
        referenced = tweet.get("referenced_tweets")
        if isinstance(referenced, list):
            found = [tweets[ref["id"]] for ref in referenced if isinstance(ref, dict) and ref.get("id") in tweets]
            if found:
                tweet_includes["tweets"] = found
        if tweet_includes:
            message["includes"] = tweet_includes
        if isinstance(rules, list):
            message["matching_rules"] = rules
        messages.append(message)
    return messages
