"""End to end on the native stack: replay a directory of mixed recorded formats and compare with `catsvdogs inspect`."""

from __future__ import annotations

import gzip
import json
import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, Deployment, provision
from tests.integration.test_pipeline import search_client, summary_counts

# Fixture files copied into the directory; the ones marked True are gzip-compressed on the way.
MIXED_FILES = {
    "stream_v2_minimal.jsonl": False,
    "twarc2_stream_cutoff.jsonl": True,
    "twarc2_search_retweet.jsonl": False,
    "twarc2_edited_tweet.jsonl": True,
    "gnip_original_format.jsonl": True,
    "gnip_activity_streams.jsonl": False,  # the same tweets again: all skipped as duplicates
    "archive_tweets.js": False,
    "hand_written/v1_cats_dogs.jsonl": False,
    "hand_written/twarc2_flat_edited.jsonl": True,
    "hand_written/activity_streams_cats_dogs.jsonl": False,
}


@pytest.fixture(scope="module")
def mixed_directory(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    directory = tmp_path_factory.mktemp("mixed")
    paths = []
    for name, compress in MIXED_FILES.items():
        source = FIXTURES / name
        target = directory / (source.name + (".gz" if compress else ""))
        if compress:
            target.write_bytes(gzip.compress(source.read_bytes()))
        else:
            shutil.copy(source, target)
        paths.append(target)
    return paths


@pytest.fixture(scope="module")
def formats_deployment(native_stack) -> Deployment:
    return provision(native_stack, "formats")


@pytest.fixture(scope="module")
def inspected(formats_deployment: Deployment, mixed_directory: list[Path]) -> dict:
    result = formats_deployment.run_cli("inspect", "--json", *map(str, mixed_directory))
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def replayed(formats_deployment: Deployment, mixed_directory: list[Path]):
    return formats_deployment.run_cli("replay", *map(str, mixed_directory), "--speed", "max", "--no-progress")


def terms_counts(deployment: Deployment, field: str, expected_total: int) -> dict[str, int]:
    """Return the document count per value of ``field``, waiting up to a minute for all documents to arrive."""
    client = search_client(deployment)
    index = deployment.settings.index_name
    deadline = time.monotonic() + 60
    while True:
        client.indices.refresh(index=index)
        response = client.search(
            index=index,
            body={"size": 0, "query": {"exists": {"field": "tweet_id"}}, "aggs": {"values": {"terms": {"field": field, "size": 10}}}},
        )
        if response["hits"]["total"]["value"] >= expected_total or time.monotonic() > deadline:
            return {bucket["key"]: bucket["doc_count"] for bucket in response["aggregations"]["values"]["buckets"]}
        time.sleep(1)


def test_inspect_detects_each_format(inspected: dict) -> None:
    formats = {Path(item["path"]).name: item["format"] for item in inspected["files"]}

    assert formats == {
        "stream_v2_minimal.jsonl": "x-v2-stream",
        "twarc2_stream_cutoff.jsonl.gz": "x-v2-stream",
        "twarc2_search_retweet.jsonl": "twarc2-pages",
        "twarc2_edited_tweet.jsonl.gz": "twarc2-pages",
        "gnip_original_format.jsonl.gz": "v1-original",
        "gnip_activity_streams.jsonl": "activity-streams",
        "archive_tweets.js": "x-archive",
        "v1_cats_dogs.jsonl": "v1-original",
        "twarc2_flat_edited.jsonl.gz": "twarc2-flat",
        "activity_streams_cats_dogs.jsonl": "activity-streams",
    }


def test_inspect_total_counts(inspected: dict) -> None:
    total = inspected["total"]

    assert total["tweets"] == 53
    assert total["categories"] == {"cat": 8, "dog": 8, "both": 2, "none": 35}
    assert total["tweet_types"] == {"original": 30, "retweet": 7, "quote": 10, "reply": 6}
    assert total["duplicates_skipped"] == 27
    assert total["rejected_by_reason"] == {
        "Gnip system message, no tweet": 1,
        "line cut off": 1,
        "mixed formats": 1,
        "stream control message, no tweet": 1,
        "stream error message, no tweet": 1,
    }


def test_replay_summary_matches_inspect(replayed, inspected: dict) -> None:
    counts = summary_counts(replayed.stdout)
    total = inspected["total"]

    assert counts["sent"] == total["tweets"]
    assert counts["rejected"] == total["rejected"]
    assert counts["pending"] == 0
    assert f"tweets:   {total['tweets']:,}" in replayed.stdout
    assert f"duplicates skipped: {total['duplicates_skipped']:,}" in replayed.stdout


def test_indexed_categories_match_inspect(formats_deployment: Deployment, replayed, inspected: dict) -> None:
    total = inspected["total"]
    expected = {name: count for name, count in total["categories"].items() if count}

    assert terms_counts(formats_deployment, "category", total["tweets"]) == expected


def test_indexed_tweet_types_match_inspect(formats_deployment: Deployment, replayed, inspected: dict) -> None:
    total = inspected["total"]
    expected = {name: count for name, count in total["tweet_types"].items() if count}

    assert terms_counts(formats_deployment, "tweet_type", total["tweets"]) == expected
