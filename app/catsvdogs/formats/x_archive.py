"""Tweets of an X "download your archive" file: ``data/tweets.js`` (older archives: ``data/tweet.js``).

The file is a JavaScript assignment, ``window.YTD.tweets.part0 = [ {"tweet":
{...}}, ... ]``, of v1.1-style tweets pretty-printed over many lines. Older
archives leave out the ``{"tweet": ...}`` wrapper. The JSON-array framing is
read incrementally by ``catsvdogs.sources.json_values``; this module converts
one element. Archive tweets have no ``user`` (they are all the owner's), store
counts and indices as strings, and describe edits in ``edit_info``. A retweet
has only its "RT @user: …" text: the archive does not contain the original's
id, so it is marked as a retweet without ``id``.
"""

from __future__ import annotations

from typing import Any

from catsvdogs.formats.model import BadRecord, message
from catsvdogs.formats.v1_original import tweet_data

FORMAT_NAME = "x-archive"
DESCRIPTION = "X archive data/tweets.js or data/tweet.js (window.YTD.tweets.part0 = [...])"


def _edit_ids(edit_info: Any) -> list[str] | None:
    """Return the edit chain of ``edit_info.initial`` or ``edit_info.edit.editControlInitial``."""
    if not isinstance(edit_info, dict):
        return None
    control = edit_info.get("initial")
    if control is None and isinstance(edit_info.get("edit"), dict):
        control = edit_info["edit"].get("editControlInitial")
    ids = control.get("editTweetIds") if isinstance(control, dict) else None
    if not isinstance(ids, list) or not ids:
        return None
    return [str(edit_id) for edit_id in ids]


def convert(record: Any) -> list[dict[str, Any]]:
    """Turn one archive element into one message."""
    if not isinstance(record, dict):
        raise BadRecord(f"not an archive tweet: expected a JSON object, found {type(record).__name__}")
    tweet = record.get("tweet", record)
    if not isinstance(tweet, dict):
        raise BadRecord(f"not an archive tweet: 'tweet' is {type(tweet).__name__}, expected an object")
    data = tweet_data(tweet)
    edit_ids = _edit_ids(tweet.get("edit_info"))
    if edit_ids:
        data["edit_history_tweet_ids"] = edit_ids
    if data["text"].startswith("RT @") and "retweeted_status" not in tweet:
        data["referenced_tweets"] = [{"type": "retweeted"}]
    return [message(data, [], [], [])]
