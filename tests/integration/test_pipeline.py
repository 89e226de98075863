"""End to end on the native stack: replay -> Firehose -> transform Lambda -> OpenSearch, and the S3 backup."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import boto3
import pytest
from opensearchpy import OpenSearch

from catsvdogs.provisioning.index_setup import index_template
from tests.conftest import REPLAY_DATA, Deployment
from tests.expected_counts import expected_category

SUBSET_SIZE = 3000
MALFORMED_AT = 1500  # 1-based line number of the broken line in the subset file


@pytest.fixture(scope="module")
def subset_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    """The first tweets of the bundled recording, gzip, with one malformed line at MALFORMED_AT."""
    with gzip.open(REPLAY_DATA / "cats_v_dogs.jsonl.gz", "rt", encoding="utf-8") as source:
        lines = [next(source).rstrip("\n") for _ in range(SUBSET_SIZE)]
    lines.insert(MALFORMED_AT - 1, '{"data": {"id": "1", "text": "cut here')
    path = tmp_path_factory.mktemp("replay") / "subset.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as target:
        target.write("\n".join(lines) + "\n")
    messages = [json.loads(line) for number, line in enumerate(lines, 1) if number != MALFORMED_AT]
    return path, messages


@pytest.fixture(scope="module")
def replayed(deployment: Deployment, subset_file: tuple[Path, list[dict]]):
    path, _ = subset_file
    return deployment.run_cli("replay", str(path), "--speed", "max", "--no-progress")


def search_client(deployment: Deployment) -> OpenSearch:
    return OpenSearch(hosts=[deployment.settings.opensearch_url], timeout=30)


def aws_client(deployment: Deployment, service: str):
    return boto3.client(
        service,
        endpoint_url=deployment.environment["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def summary_counts(output: str) -> dict[str, int]:
    pattern = r"^\s+(read|sent|rejected|pending):\s+([\d,]+)"
    return {name: int(value.replace(",", "")) for name, value in re.findall(pattern, output, re.M)}


def test_provision_twice_reports_up_to_date(deployment: Deployment):
    second = deployment.run_cli("provision")

    assert "created" in deployment.provision_output
    assert f"stack {deployment.settings.stack_name}: up to date" in second.stdout
    assert re.search(r"^lambda zip .*: unchanged$", second.stdout, re.M)


def test_replay_summary_reconciles(replayed, subset_file):
    _, messages = subset_file
    counts = summary_counts(replayed.stdout)

    assert counts["read"] == len(messages) + 1
    assert counts["sent"] == len(messages)
    assert counts["rejected"] == 1
    assert counts["pending"] == 0
    assert counts["read"] == counts["sent"] + counts["rejected"]


def test_malformed_line_reported_with_location(replayed, subset_file):
    path, _ = subset_file

    assert f"{path}:{MALFORMED_AT}" in replayed.stderr
    assert "invalid JSON" in replayed.stderr
    assert f"{path}:{MALFORMED_AT}" in replayed.stdout


def test_category_counts_match_input(deployment: Deployment, replayed, subset_file):
    _, messages = subset_file
    expected = Counter(expected_category(message) for message in messages)
    client = search_client(deployment)
    index = deployment.settings.index_name
    client.indices.refresh(index=index)

    response = client.search(
        index=index,
        body={"size": 0, "aggs": {"categories": {"terms": {"field": "category", "size": 10}}}},
    )
    actual = {bucket["key"]: bucket["doc_count"] for bucket in response["aggregations"]["categories"]["buckets"]}

    assert actual == dict(expected)
    assert response["hits"]["total"]["value"] == len(messages)


def test_every_tweet_indexed_once(deployment: Deployment, replayed, subset_file):
    _, messages = subset_file
    client = search_client(deployment)
    index = deployment.settings.index_name
    response = client.search(
        index=index,
        body={"size": 0, "aggs": {"ids": {"cardinality": {"field": "tweet_id", "precision_threshold": 40000}}}},
    )

    assert response["aggregations"]["ids"]["value"] == len({message["data"]["id"] for message in messages})


def test_backup_holds_every_raw_record(deployment: Deployment, replayed, subset_file):
    _, messages = subset_file
    s3 = aws_client(deployment, "s3")
    bucket = deployment.environment["CATSVDOGS_BUCKET"]
    paginator = s3.get_paginator("list_objects_v2")
    keys = [item["Key"] for page in paginator.paginate(Bucket=bucket, Prefix="raw/") for item in page.get("Contents", [])]

    backed_up = []
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        backed_up += [json.loads(line) for line in body.splitlines() if line.strip()]

    assert keys
    assert len(backed_up) == len(messages)
    assert sorted(record["data"]["id"] for record in backed_up) == sorted(m["data"]["id"] for m in messages)
    assert all(record["__catsvdogs"]["source"] == "replay" for record in backed_up)


def test_index_mapping_matches_template(deployment: Deployment, replayed):
    client = search_client(deployment)
    index = deployment.settings.index_name
    wanted = index_template(index)["template"]["mappings"]

    mapping = client.indices.get_mapping(index=index)[index]["mappings"]

    assert mapping["properties"] == wanted["properties"]
    assert str(mapping.get("dynamic")) == "strict"


def test_documents_have_template_types(deployment: Deployment, replayed):
    client = search_client(deployment)
    index = deployment.settings.index_name
    properties = index_template(index)["template"]["mappings"]["properties"]
    checks = {
        "keyword": lambda value: isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)),
        "text": lambda value: isinstance(value, str),
        "long": lambda value: isinstance(value, int) and not isinstance(value, bool),
        "float": lambda value: isinstance(value, (int, float)) and not isinstance(value, bool),
        "date": lambda value: isinstance(value, str) and datetime.fromisoformat(value.replace("Z", "+00:00")) is not None,
    }

    hits = client.search(index=index, body={"size": 200, "query": {"match_all": {}}})["hits"]["hits"]

    assert len(hits) == 200
    for hit in hits:
        for field, value in hit["_source"].items():
            field_type = properties[field].get("type", "object")
            if field_type == "object":
                continue
            assert checks[field_type](value), f"{field}={value!r} is not a {field_type} in document {hit['_id']}"
