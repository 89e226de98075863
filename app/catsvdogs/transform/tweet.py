"""Validate an X API v2 filtered-stream message and build the document that OpenSearch indexes.

The document has exactly the fields of the index template, whose mapping is
``dynamic: strict``. Unknown keys of the message (``__twarc``, ``geo``,
``context_annotations``...) are ignored. A message that is not a tweet raises
NotATweet with the reason.

``tweet_type`` comes from ``data.referenced_tweets``: "retweet" when the
tweet retweets another (then ``retweet_of`` is the original's id when known),
else "quote", else "reply", else "original". A retweet is indexed as its own
document, so category counts include retweets; filter on ``tweet_type`` to
count original posts only.

Engagement is likes + 2 * retweets + 2 * quotes + replies. Retweets and quotes
count double because they reshare a post to the resharer's followers, so they
spread it further than a like or a reply does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict

from catsvdogs.transform.category import Category, Vocabulary, classify
from catsvdogs.transform.fields import (
    NotATweet,
    check_keyword,
    check_long,
    json_type_name,
    optional_count,
    optional_object,
    optional_objects,
    optional_string,
    require_string,
)
from catsvdogs.transform.sentiment import Sentiment, SentimentLabel, score_text
from catsvdogs.transform.timestamps import normalize_timestamp

__all__ = [
    "NotATweet",
    "Origin",
    "Provenance",
    "TweetDocument",
    "TweetType",
    "build_document",
    "check_message",
    "read_tweet_type",
]

# Key of the provenance block that the catsvdogs producer adds to each message.
PROVENANCE_KEY = "__catsvdogs"
# Source of messages without a provenance block: the live X API stream.
DEFAULT_SOURCE = "x"

TweetType = Literal["original", "retweet", "quote", "reply"]


class Origin(TypedDict, total=False):
    """Replay file and line that a message came from, and the replay run and pass that sent it."""

    file: str
    line: int
    run_id: str
    pass_number: int


class TweetDocument(TypedDict):
    """Document indexed for one tweet, with the index template's fields as keys."""

    tweet_id: str
    created_at: str
    read_at: NotRequired[str]
    ingested_at: str
    text: str
    lang: NotRequired[str]
    author_id: NotRequired[str]
    author_username: NotRequired[str]
    hashtags: list[str]
    category: Category
    likes: int
    retweets: int
    replies: int
    quotes: int
    engagement: int
    sentiment_score: float
    sentiment_label: SentimentLabel
    source: str
    matching_rules: list[str]
    tweet_type: TweetType
    retweet_of: NotRequired[str]
    origin: NotRequired[Origin]


@dataclass(frozen=True, slots=True)
class Metrics:
    """Counts from ``public_metrics``, with 0 for a missing count."""

    likes: int
    retweets: int
    replies: int
    quotes: int

    @property
    def engagement(self) -> int:
        return self.likes + 2 * self.retweets + 2 * self.quotes + self.replies


@dataclass(frozen=True, slots=True)
class Provenance:
    """Contents of the ``__catsvdogs`` block, or the defaults when it is absent."""

    source: str
    read_at: str | None
    origin: Origin | None


def build_document(
    message: object,
    ingested_at: str,
    vocabulary: Vocabulary,
    *,
    score: Callable[[str], Sentiment] = score_text,
) -> TweetDocument:
    """Validate a decoded message and build its document.

    ``ingested_at`` is the Firehose arrival time, already formatted. It is also
    the ``created_at`` of a tweet without one. ``score`` rates the text's
    sentiment. Raises NotATweet if the message is not an object with a ``data``
    tweet, or if a field that the document uses has the wrong type or is out of
    range.
    """
    if not isinstance(message, dict):
        raise NotATweet(f"message must be a JSON object, not {json_type_name(message)}")
    tweet = message.get("data")
    if tweet is None:
        raise NotATweet(describe_missing_data(message))
    if not isinstance(tweet, dict):
        raise NotATweet(f"data must be a JSON object, not {json_type_name(tweet)}")

    tweet_id = check_keyword(require_string(tweet, "id", "data.id"), "data.id")
    if not tweet_id:
        raise NotATweet("data.id is empty")
    text = require_string(tweet, "text", "data.text")
    created_at = read_timestamp(tweet, "created_at", "data.created_at") or ingested_at
    lang = read_keyword(tweet, "lang", "data.lang")
    author_id = read_keyword(tweet, "author_id", "data.author_id")
    author_username = find_username(message, author_id) if author_id is not None else None
    metrics = read_metrics(tweet)
    hashtags = read_hashtags(tweet)
    rule_tags = read_rule_tags(message)
    tweet_type, retweet_of = read_tweet_type(tweet)
    provenance = read_provenance(message)
    sentiment = score(text)

    # Keys are added in the template's order, optional ones only when known.
    document: dict[str, Any] = {"tweet_id": tweet_id, "created_at": created_at}
    if provenance.read_at is not None:
        document["read_at"] = provenance.read_at
    document["ingested_at"] = ingested_at
    document["text"] = text
    if lang is not None:
        document["lang"] = lang
    if author_id is not None:
        document["author_id"] = author_id
    if author_username is not None:
        document["author_username"] = author_username
    document["hashtags"] = hashtags
    document["category"] = classify(hashtags, rule_tags, vocabulary)
    document["likes"] = metrics.likes
    document["retweets"] = metrics.retweets
    document["replies"] = metrics.replies
    document["quotes"] = metrics.quotes
    document["engagement"] = check_long(metrics.engagement, "engagement")
    document["sentiment_score"] = sentiment.score
    document["sentiment_label"] = sentiment.label
    document["source"] = provenance.source
    document["matching_rules"] = rule_tags
    document["tweet_type"] = tweet_type
    if retweet_of is not None:
        document["retweet_of"] = retweet_of
    if provenance.origin is not None:
        document["origin"] = provenance.origin
    return document  # type: ignore[return-value]


# Placeholders for check_message, whose document is thrown away.
_CHECK_INGESTED_AT = "1970-01-01T00:00:00.000Z"
_CHECK_VOCABULARY = Vocabulary(frozenset(), frozenset())
_CHECK_SENTIMENT = Sentiment(score=0.0, label="neutral")


def check_message(message: object) -> None:
    """Raise NotATweet where ``build_document`` would, without scoring the sentiment, which costs the most.

    The producer calls this before sending a record, so that a record the
    transform would turn into an error document is reported at its file and
    line instead.
    """
    build_document(message, _CHECK_INGESTED_AT, _CHECK_VOCABULARY, score=lambda text: _CHECK_SENTIMENT)


def describe_missing_data(message: dict[str, Any]) -> str:
    """Explain a message without ``data``, naming the titles of an error-only message."""
    errors = message.get("errors")
    if not isinstance(errors, list) or not errors:
        return "data is missing"
    titles = [error.get("title") for error in errors if isinstance(error, dict)]
    named = [title for title in titles if isinstance(title, str)][:5]
    listed = ", ".join(named) if named else "untitled"
    return f"data is missing: the message contains only errors ({listed})"


def read_keyword(container: dict[str, Any], key: str, path: str) -> str | None:
    """Read an optional string destined for a keyword field."""
    value = optional_string(container, key, path)
    return None if value is None else check_keyword(value, path)


def read_timestamp(container: dict[str, Any], key: str, path: str) -> str | None:
    """Read an optional ISO 8601 timestamp and normalize it to UTC with "Z"."""
    value = optional_string(container, key, path)
    if value is None:
        return None
    try:
        return normalize_timestamp(value)
    except ValueError as error:
        raise NotATweet(f"{path} is not a valid ISO 8601 timestamp: {error}") from error


def find_username(message: dict[str, Any], author_id: str) -> str | None:
    """Return the username of ``author_id`` from ``includes.users``, None if not included."""
    includes = optional_object(message, "includes", "includes")
    users = optional_objects(includes, "users", "includes.users")
    for index, user in enumerate(users):
        if user.get("id") == author_id:
            path = f"includes.users[{index}].username"
            return read_keyword(user, "username", path)
    return None


def read_metrics(tweet: dict[str, Any]) -> Metrics:
    """Read the four counts of ``public_metrics``, all 0 when the block is absent."""
    metrics = optional_object(tweet, "public_metrics", "data.public_metrics")
    path = "data.public_metrics."
    return Metrics(
        likes=optional_count(metrics, "like_count", path + "like_count"),
        retweets=optional_count(metrics, "retweet_count", path + "retweet_count"),
        replies=optional_count(metrics, "reply_count", path + "reply_count"),
        quotes=optional_count(metrics, "quote_count", path + "quote_count"),
    )


def read_hashtags(tweet: dict[str, Any]) -> list[str]:
    """Return the lower-cased hashtags of ``entities.hashtags``, without repeats, in order."""
    entities = optional_object(tweet, "entities", "data.entities")
    hashtags: list[str] = []
    for index, entity in enumerate(optional_objects(entities, "hashtags", "data.entities.hashtags")):
        path = f"data.entities.hashtags[{index}].tag"
        tag = check_keyword(require_string(entity, "tag", path), path).lower()
        if tag and tag not in hashtags:
            hashtags.append(tag)
    return hashtags


def read_rule_tags(message: dict[str, Any]) -> list[str]:
    """Return the non-empty tags of ``matching_rules`` as given, skipping rules without a tag.

    Rule ids are not read, since they may be strings or, in older twarc output,
    integers.
    """
    tags: list[str] = []
    for index, rule in enumerate(optional_objects(message, "matching_rules", "matching_rules")):
        tag = read_keyword(rule, "tag", f"matching_rules[{index}].tag")
        if tag is not None and tag.strip():
            tags.append(tag)
    return tags


def read_tweet_type(tweet: dict[str, Any]) -> tuple[TweetType, str | None]:
    """Return the tweet type from ``referenced_tweets``, and the retweeted tweet's id for a retweet (None if unknown)."""
    referenced: dict[str, str | None] = {}
    for index, reference in enumerate(optional_objects(tweet, "referenced_tweets", "data.referenced_tweets")):
        reference_type = read_keyword(reference, "type", f"data.referenced_tweets[{index}].type")
        reference_id = read_keyword(reference, "id", f"data.referenced_tweets[{index}].id")
        if reference_type is not None and reference_type not in referenced:
            referenced[reference_type] = reference_id
    if "retweeted" in referenced:
        return "retweet", referenced["retweeted"] or None
    if "quoted" in referenced:
        return "quote", None
    if "replied_to" in referenced:
        return "reply", None
    return "original", None


def read_provenance(message: dict[str, Any]) -> Provenance:
    """Read the ``__catsvdogs`` block that the producer adds. Without it, the source is the live stream."""
    block = optional_object(message, PROVENANCE_KEY, PROVENANCE_KEY)
    source = read_keyword(block, "source", f"{PROVENANCE_KEY}.source") or DEFAULT_SOURCE
    read_at = read_timestamp(block, "read_at", f"{PROVENANCE_KEY}.read_at")

    origin: Origin = {}
    file = read_keyword(block, "file", f"{PROVENANCE_KEY}.file")
    if file is not None:
        origin["file"] = file
    line = block.get("line")
    if line is not None:
        origin["line"] = optional_count(block, "line", f"{PROVENANCE_KEY}.line")
    run_id = read_keyword(block, "run_id", f"{PROVENANCE_KEY}.run_id")
    if run_id is not None:
        origin["run_id"] = run_id
    if block.get("pass_number") is not None:
        origin["pass_number"] = optional_count(block, "pass_number", f"{PROVENANCE_KEY}.pass_number")
    return Provenance(source=source, read_at=read_at, origin=origin or None)
