"""The dashboard's figures, computed from the same OpenSearch queries as its panels.

Each figure runs one of the ``*_body`` queries of ``catsvdogs.dashboards.panels``,
so the terminal view and the dashboard read the same fields, time ranges,
1-minute buckets and category filter. All five queries go in one ``_msearch``
request, so one refresh costs one round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from opensearchpy import OpenSearch

from catsvdogs.dashboards import panels

CATEGORIES = panels.ANIMAL_CATEGORIES
WINDOW = timedelta(minutes=15)
"""Length of the dashboard's time range, panels.DASHBOARD_TIME_FROM."""


class FiguresError(RuntimeError):
    """A query of the figures failed. The message names the panel and the cause."""


@dataclass(frozen=True)
class MinuteCounts:
    """Tweets of each category in one 1-minute bucket that starts at ``minute`` (UTC)."""

    minute: datetime
    counts: dict[str, int]


@dataclass(frozen=True)
class TopTweet:
    text: str
    engagement: int
    category: str


@dataclass(frozen=True)
class Figures:
    """One snapshot of every panel, with counts per category in ``CATEGORIES``."""

    updated_at: datetime
    index: str
    per_minute: list[MinuteCounts]
    share: dict[str, int]
    likes: dict[str, int]
    retweets: dict[str, int]
    sentiment: dict[str, dict[str, int]]
    top_tweet: TopTweet | None

    @property
    def total(self) -> int:
        return sum(self.share.values())

    def percent(self, category: str) -> float:
        """Return the category's share of the tweets in percent, 0 when there are none."""
        return 100.0 * self.share[category] / self.total if self.total else 0.0

    def popularity(self, category: str) -> int:
        """Return likes plus retweets, the two sums that the popularity panel shows."""
        return self.likes[category] + self.retweets[category]

    def to_json(self) -> dict[str, Any]:
        """Return the figures as a JSON-serialisable dict, the output of `top --once --json`."""
        return {
            "updated_at": format_time(self.updated_at),
            "index": self.index,
            "tweets_per_minute": {
                "interval": panels.BUCKET_INTERVAL,
                "from": panels.DASHBOARD_TIME_FROM,
                "buckets": [{"minute": format_time(bucket.minute), **bucket.counts} for bucket in self.per_minute],
            },
            "share": {
                category: {"tweets": self.share[category], "percent": round(self.percent(category), 2)}
                for category in CATEGORIES
            },
            "popularity": {
                category: {"likes": self.likes[category], "retweets": self.retweets[category]} for category in CATEGORIES
            },
            "sentiment": {category: dict(self.sentiment[category]) for category in CATEGORIES},
            "most_engaging_tweet": None
            if self.top_tweet is None
            else {
                "text": self.top_tweet.text,
                "engagement": self.top_tweet.engagement,
                "category": self.top_tweet.category,
                "from": panels.TOP_TWEETS_TIME_FROM,
            },
        }


def format_time(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def floor_minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def index_pattern(index_name: str) -> str:
    """Return the pattern the figures query: the index and any rotated index that starts with its name."""
    return f"{index_name}*"


def query_bodies() -> dict[str, dict[str, Any]]:
    """Return the request body of each panel, by panel name."""
    return {
        "per_minute": panels.tweets_per_minute_body(),
        "share": panels.category_share_body(),
        "popularity": panels.engagement_body(),
        "sentiment": panels.sentiment_body(),
        "top_tweet": panels.top_tweets_body(size=1),
    }


def fetch_figures(client: OpenSearch, index_name: str, now: datetime | None = None) -> Figures:
    """Run every panel's query in one _msearch request and return the figures.

    Raises FiguresError when a query fails, and lets the client's connection errors through.
    """
    pattern = index_pattern(index_name)
    bodies = query_bodies()
    request: list[dict[str, Any]] = []
    for body in bodies.values():
        # An index that does not exist yet gives empty figures, not an error.
        request.extend([{"index": pattern, "ignore_unavailable": True, "allow_no_indices": True}, body])
    responses = client.msearch(body=request)["responses"]
    results: dict[str, dict[str, Any]] = {}
    for name, response in zip(bodies, responses, strict=True):
        if "error" in response:
            raise FiguresError(f"The {name} query on {pattern} failed: {response['error']}")
        results[name] = response
    return parse_figures(results, pattern, now or datetime.now(timezone.utc))


def parse_figures(results: dict[str, dict[str, Any]], index: str, now: datetime) -> Figures:
    """Build the figures from the search responses of ``query_bodies()``, by panel name."""
    return Figures(
        updated_at=now,
        index=index,
        per_minute=_per_minute(results["per_minute"], now),
        share=_category_counts(results["share"]),
        likes=_category_sums(results["popularity"], panels.LIKES_FIELD),
        retweets=_category_sums(results["popularity"], panels.RETWEETS_FIELD),
        sentiment=_sentiment(results["sentiment"]),
        top_tweet=_top_tweet(results["top_tweet"]),
    )


def _buckets(response: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return response.get("aggregations", {}).get(name, {}).get("buckets", [])


def _zero_counts() -> dict[str, int]:
    return {category: 0 for category in CATEGORIES}


def _per_minute(response: dict[str, Any], now: datetime) -> list[MinuteCounts]:
    """Return one entry per minute of the window, oldest first, with 0 for minutes that have no tweet.

    The window starts in the minute of now-15m and ends in the current minute, so the
    first and last buckets are partial, as on the dashboard.
    """
    first = floor_minute(now - WINDOW)
    slots: dict[datetime, dict[str, int]] = {}
    minute = first
    while minute <= now:
        slots[minute] = _zero_counts()
        minute += timedelta(minutes=1)
    for bucket in _buckets(response, "per_minute"):
        start = datetime.fromtimestamp(bucket["key"] / 1000, timezone.utc)
        counts = slots.setdefault(start, _zero_counts())
        for category_bucket in bucket.get("category", {}).get("buckets", []):
            if category_bucket["key"] in counts:
                counts[category_bucket["key"]] = int(category_bucket["doc_count"])
    return [MinuteCounts(minute, counts) for minute, counts in sorted(slots.items())]


def _category_counts(response: dict[str, Any]) -> dict[str, int]:
    counts = _zero_counts()
    for bucket in _buckets(response, "category"):
        if bucket["key"] in counts:
            counts[bucket["key"]] = int(bucket["doc_count"])
    return counts


def _category_sums(response: dict[str, Any], field: str) -> dict[str, int]:
    sums = _zero_counts()
    for bucket in _buckets(response, "category"):
        if bucket["key"] in sums:
            sums[bucket["key"]] = int(bucket[field]["value"] or 0)
    return sums


def _sentiment(response: dict[str, Any]) -> dict[str, dict[str, int]]:
    sentiment = {category: {label: 0 for label in panels.SENTIMENT_LABELS} for category in CATEGORIES}
    for bucket in _buckets(response, "category"):
        if bucket["key"] not in sentiment:
            continue
        for label_bucket in bucket.get(panels.SENTIMENT_LABEL_FIELD, {}).get("buckets", []):
            if label_bucket["key"] in sentiment[bucket["key"]]:
                sentiment[bucket["key"]][label_bucket["key"]] = int(label_bucket["doc_count"])
    return sentiment


def _top_tweet(response: dict[str, Any]) -> TopTweet | None:
    hits = response.get("hits", {}).get("hits", [])
    if not hits:
        return None
    source = hits[0].get("_source", {})
    return TopTweet(
        text=str(source.get(panels.TEXT_FIELD, "")),
        engagement=int(source.get(panels.ENGAGEMENT_FIELD) or 0),
        category=str(source.get(panels.CATEGORY_FIELD, "")),
    )
