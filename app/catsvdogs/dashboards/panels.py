"""What the cats v dogs dashboard shows: saved-object ids, the fields each panel reads, buckets and filters.

``saved_objects.ndjson`` contains the same panels as OpenSearch Dashboards saved
objects, and the unit tests check that it uses these ids, fields, the
1-minute buckets and the category filter. The ``*_body`` functions build the
same queries as OpenSearch request bodies for ``POST tweets*/_search``, so a
view outside Dashboards can show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

INDEX_PATTERN_ID = "catsvdogs-tweets"
INDEX_PATTERN_TITLE = "tweets*"
TIME_FIELD = "created_at"
BUCKET_INTERVAL = "1m"

CATEGORY_FIELD = "category"
LIKES_FIELD = "likes"
RETWEETS_FIELD = "retweets"
ENGAGEMENT_FIELD = "engagement"
SENTIMENT_LABEL_FIELD = "sentiment_label"
TEXT_FIELD = "text"

# Tweets about neither animal have category "none", and error documents have
# no category at all; every panel leaves both out.
ANIMAL_CATEGORIES = ("cat", "dog", "both")
SENTIMENT_LABELS = ("positive", "neutral", "negative")
ANIMAL_QUERY = f"{CATEGORY_FIELD}:({' or '.join(ANIMAL_CATEGORIES)})"
QUERY_LANGUAGE = "kuery"

DASHBOARD_ID = "catsvdogs-dashboard"
DASHBOARD_TITLE = "Cats v dogs"
DASHBOARD_TIME_FROM = "now-15m"
DASHBOARD_TIME_TO = "now"
REFRESH_INTERVAL_MS = 5000
TOP_TWEETS_TIME_FROM = "now-1h"


@dataclass(frozen=True)
class Panel:
    """One dashboard panel: its saved object and the index fields it reads.

    ``time_from`` is the panel's own time range start, or None when the panel
    follows the dashboard's time picker.
    """

    object_id: str
    object_type: str
    title: str
    fields: tuple[str, ...]
    time_from: str | None = None


TWEETS_PER_MINUTE = Panel(
    "catsvdogs-tweets-per-minute", "visualization", "Tweets per minute, cats v dogs", (TIME_FIELD, CATEGORY_FIELD)
)
CATEGORY_SHARE = Panel("catsvdogs-category-share", "visualization", "Share of cats v dogs", (CATEGORY_FIELD,))
ENGAGEMENT = Panel(
    "catsvdogs-engagement",
    "visualization",
    "Popularity weighted by engagement: likes and retweets",
    (CATEGORY_FIELD, LIKES_FIELD, RETWEETS_FIELD),
)
SENTIMENT = Panel(
    "catsvdogs-sentiment", "visualization", "Sentiment by category", (CATEGORY_FIELD, SENTIMENT_LABEL_FIELD)
)
# A saved search, because `text` is a text field and no aggregation can return it.
# The dashboard panel sets its own time range and the sort in embeddableConfig:
# a panel's explicit input overrides the dashboard's, and the search embeddable
# replaces a saved search's sort with the default (time, newest first) when it loads.
# NOTE: both facts come from reading the Dashboards source, not from a running Dashboards.
TOP_TWEETS = Panel(
    "catsvdogs-most-engaging-tweets",
    "search",
    "Most engaging tweets of the last hour",
    (TEXT_FIELD, ENGAGEMENT_FIELD, CATEGORY_FIELD),
    time_from=TOP_TWEETS_TIME_FROM,
)

PANELS = (TWEETS_PER_MINUTE, CATEGORY_SHARE, ENGAGEMENT, SENTIMENT, TOP_TWEETS)


def animal_filter() -> dict[str, Any]:
    """Build the query clause that keeps tweets about cats, dogs or both."""
    return {"terms": {CATEGORY_FIELD: list(ANIMAL_CATEGORIES)}}


def time_filter(time_from: str, time_to: str = DASHBOARD_TIME_TO) -> dict[str, Any]:
    """Build a range clause on the time field, in OpenSearch date math such as now-15m."""
    return {"range": {TIME_FIELD: {"gte": time_from, "lte": time_to}}}


def _aggregation_body(time_from: str, aggregations: dict[str, Any]) -> dict[str, Any]:
    return {
        "size": 0,
        "query": {"bool": {"filter": [animal_filter(), time_filter(time_from)]}},
        "aggs": aggregations,
    }


def _category_terms(sub_aggregations: dict[str, Any] | None = None) -> dict[str, Any]:
    terms: dict[str, Any] = {"terms": {"field": CATEGORY_FIELD, "size": len(ANIMAL_CATEGORIES)}}
    if sub_aggregations:
        terms["aggs"] = sub_aggregations
    return terms


def tweets_per_minute_body(time_from: str = DASHBOARD_TIME_FROM) -> dict[str, Any]:
    """Build the query of the tweets-per-minute panel: 1-minute buckets, split by category."""
    per_minute = {
        "date_histogram": {"field": TIME_FIELD, "fixed_interval": BUCKET_INTERVAL, "min_doc_count": 1},
        "aggs": {"category": _category_terms()},
    }
    return _aggregation_body(time_from, {"per_minute": per_minute})


def category_share_body(time_from: str = DASHBOARD_TIME_FROM) -> dict[str, Any]:
    """Build the query of the share panel: tweet counts by category."""
    return _aggregation_body(time_from, {"category": _category_terms()})


def engagement_body(time_from: str = DASHBOARD_TIME_FROM) -> dict[str, Any]:
    """Build the query of the popularity panel: sums of likes and retweets by category."""
    sums = {
        LIKES_FIELD: {"sum": {"field": LIKES_FIELD}},
        RETWEETS_FIELD: {"sum": {"field": RETWEETS_FIELD}},
    }
    return _aggregation_body(time_from, {"category": _category_terms(sums)})


def sentiment_body(time_from: str = DASHBOARD_TIME_FROM) -> dict[str, Any]:
    """Build the query of the sentiment panel: tweet counts by category and sentiment label."""
    labels = {SENTIMENT_LABEL_FIELD: {"terms": {"field": SENTIMENT_LABEL_FIELD, "size": len(SENTIMENT_LABELS)}}}
    return _aggregation_body(time_from, {"category": _category_terms(labels)})


def top_tweets_body(time_from: str = TOP_TWEETS_TIME_FROM, size: int = 1) -> dict[str, Any]:
    """Build the query of the most-engaging-tweets panel: the ``size`` tweets with the highest engagement."""
    return {
        "size": size,
        "query": {"bool": {"filter": [animal_filter(), time_filter(time_from)]}},
        "sort": [{ENGAGEMENT_FIELD: {"order": "desc"}}],
        "_source": list(TOP_TWEETS.fields),
    }
