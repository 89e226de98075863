"""The figures of `catsvdogs top`: the dashboard panels' queries run on the search server with known documents."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from opensearchpy import OpenSearch

from catsvdogs.dashboards import panels
from catsvdogs.monitor.figures import CATEGORIES, fetch_figures, floor_minute, index_pattern, query_bodies
from catsvdogs.provisioning.index_setup import apply_index_template, ensure_index

INDEX = "top-tweets"
# Set before each test by fresh_now: the queries compare with the search server's
# own clock, so a time taken at import would drift during a long test session.
NOW = datetime.now(timezone.utc)


def document(minutes_ago: float, category: str, likes: int = 0, retweets: int = 0, label: str = "neutral", text: str = "") -> dict[str, Any]:
    created = NOW - timedelta(minutes=minutes_ago)
    return {
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "text": text or f"{category} {minutes_ago} minutes ago",
        "category": category,
        "likes": likes,
        "retweets": retweets,
        "engagement": likes + 2 * retweets,
        "sentiment_label": label,
    }


def documents() -> list[dict[str, Any]]:
    return [
        document(0.5, "cat", likes=10, retweets=1, label="positive", text="cat now"),
        document(0.6, "cat", likes=2, label="negative"),
        document(3.2, "dog", likes=3, retweets=2, label="positive"),
        document(3.3, "dog", likes=1, label="neutral"),
        document(3.4, "dog", likes=0, label="neutral"),
        document(9, "both", likes=4, retweets=4, label="positive", text="both nine minutes ago"),
        # Left out of every figure: not about cats or dogs, even though it is the most engaging.
        document(1, "none", likes=900, retweets=900, label="positive"),
        # Outside the 15 minutes of the per-category figures, inside the hour of the top tweet.
        document(30, "dog", likes=50, retweets=0, label="positive", text="dog thirty minutes ago"),
        # Outside both windows.
        document(90, "cat", likes=5000, label="positive"),
        # In the future: the dashboard's time range ends at now.
        document(-5, "cat", likes=7000, label="positive"),
        # A document of a record that the transform could not read.
        {"error": {"reason": "invalid_json", "raw": "{"}},
    ]


@pytest.fixture(autouse=True)
def fresh_now() -> None:
    global NOW
    NOW = datetime.now(timezone.utc)


@pytest.fixture
def search_client(osmem_url: str) -> OpenSearch:
    client = OpenSearch(hosts=[osmem_url])
    apply_index_template(client, INDEX)
    ensure_index(client, INDEX)
    for number, body in enumerate(documents()):
        client.index(index=INDEX, id=str(number), body=body)
    client.indices.refresh(index=INDEX)
    return client


def test_share_counts_last_15_minutes(search_client: OpenSearch) -> None:
    figures = fetch_figures(search_client, INDEX, now=NOW)

    assert figures.share == {"cat": 2, "dog": 3, "both": 1}
    assert figures.total == 6
    assert figures.percent("dog") == pytest.approx(50.0)


def test_popularity_sums_likes_and_retweets(search_client: OpenSearch) -> None:
    figures = fetch_figures(search_client, INDEX, now=NOW)

    assert figures.likes == {"cat": 12, "dog": 4, "both": 4}
    assert figures.retweets == {"cat": 1, "dog": 2, "both": 4}
    assert figures.popularity("both") == 8


def test_sentiment_per_category(search_client: OpenSearch) -> None:
    figures = fetch_figures(search_client, INDEX, now=NOW)

    assert figures.sentiment["cat"] == {"positive": 1, "neutral": 0, "negative": 1}
    assert figures.sentiment["dog"] == {"positive": 1, "neutral": 2, "negative": 0}
    assert figures.sentiment["both"] == {"positive": 1, "neutral": 0, "negative": 0}


def test_top_tweet_of_last_hour(search_client: OpenSearch) -> None:
    figures = fetch_figures(search_client, INDEX, now=NOW)

    assert figures.top_tweet is not None
    assert figures.top_tweet.text == "dog thirty minutes ago"
    assert figures.top_tweet.engagement == 50
    assert figures.top_tweet.category == "dog"


def test_per_minute_buckets_fill_window(search_client: OpenSearch) -> None:
    figures = fetch_figures(search_client, INDEX, now=NOW)
    minutes = [bucket.minute for bucket in figures.per_minute]
    by_minute = {bucket.minute: bucket.counts for bucket in figures.per_minute}

    assert minutes[0] == floor_minute(NOW - timedelta(minutes=15))
    assert minutes[-1] == floor_minute(NOW)
    assert all(later - earlier == timedelta(minutes=1) for earlier, later in zip(minutes, minutes[1:]))
    for category in CATEGORIES:
        assert sum(counts[category] for counts in by_minute.values()) == figures.share[category]
    assert by_minute[floor_minute(NOW - timedelta(minutes=9))]["both"] == 1


def test_empty_index_gives_zeros(osmem_url: str) -> None:
    client = OpenSearch(hosts=[osmem_url])
    apply_index_template(client, INDEX)
    ensure_index(client, INDEX)

    figures = fetch_figures(client, INDEX, now=NOW)

    assert figures.share == {"cat": 0, "dog": 0, "both": 0}
    assert figures.top_tweet is None
    assert figures.percent("cat") == 0.0
    assert len(figures.per_minute) == 16


def test_missing_index_gives_zeros(osmem_url: str) -> None:
    figures = fetch_figures(OpenSearch(hosts=[osmem_url]), "not-created-yet", now=NOW)

    assert figures.total == 0
    assert figures.top_tweet is None


def test_json_shape(search_client: OpenSearch) -> None:
    figures = fetch_figures(search_client, INDEX, now=NOW).to_json()

    assert figures["index"] == index_pattern(INDEX)
    assert figures["share"]["dog"] == {"tweets": 3, "percent": 50.0}
    assert figures["popularity"]["cat"] == {"likes": 12, "retweets": 1}
    assert figures["tweets_per_minute"]["interval"] == panels.BUCKET_INTERVAL
    assert set(figures["tweets_per_minute"]["buckets"][0]) == {"minute", *CATEGORIES}
    assert figures["most_engaging_tweet"]["from"] == panels.TOP_TWEETS_TIME_FROM


def test_queries_are_the_panels() -> None:
    bodies = query_bodies()

    assert bodies["per_minute"] == panels.tweets_per_minute_body()
    assert bodies["share"] == panels.category_share_body()
    assert bodies["popularity"] == panels.engagement_body()
    assert bodies["sentiment"] == panels.sentiment_body()
    assert bodies["top_tweet"] == panels.top_tweets_body(size=1)
