"""End to end on the native stack: fake Jetstream and X servers -> catsvdogs stream -> Firehose -> Lambda -> OpenSearch, then replays of the recordings."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from tests.conftest import Deployment, provision
from tests.fake_jetstream import FakeJetstream, Script, delete, identity, post
from tests.fake_x_stream import FakeXServer, cut, end, keepalive, line, tweet

START_US = 1_767_323_045_000_000
# Fields that record when and how a document was ingested, not the post's content.
INGESTION_FIELDS = ("ingested_at", "read_at", "source", "origin")


def event_log() -> tuple[list, list[str]]:
    """Thirty-nine events: cat, dog and unrelated posts, deletes, identity events and one line that is not JSON.

    Returns the events and the URIs of the posts that match the vocabulary.
    """
    events: list = []
    expected: list[str] = []
    hashtags = [("cats",), ("Puppy",), ("hiking",), ("kitten", "dogs"), (), ("DogsOfBluesky",)]
    for index in range(36):
        time_us = START_US + index * 1000
        tags = hashtags[index % len(hashtags)]
        text = f"post {index} é🐾 " + " ".join(f"#{tag}" for tag in tags)
        did = f"did:plc:live{index % 7}"
        events.append(post(did, f"3l{index:04d}", time_us, text, tags=tags))
        if tags and tags[0] in ("cats", "Puppy", "kitten"):
            expected.append(f"at://{did}/app.bsky.feed.post/3l{index:04d}")
        if index == 12:
            events.append(identity(did, time_us + 1, "someone.example"))
        if index == 20:
            events.append(delete(did, f"3l{index - 1:04d}", time_us + 1))
        if index == 25:
            events.append("not a Jetstream event")
    return events, expected


@pytest.fixture(scope="module")
def live_deployment(native_stack) -> Deployment:
    return provision(native_stack, "live")


@pytest.fixture(scope="module")
def live_run(live_deployment: Deployment, tmp_path_factory: pytest.TempPathFactory):
    events, expected = event_log()
    recording = tmp_path_factory.mktemp("live") / "bluesky.jsonl.gz"
    with FakeJetstream(events) as server:
        # A cut mid-frame, a rejected handshake, a clean close, then the rest from the cursor.
        server.scripts.extend([Script(send=15, then="cut"), Script(reject=503), Script(send=10, then="close")])
        live_deployment.environment["BLUESKY_JETSTREAM_URLS"] = server.url
        result = live_deployment.run_cli(
            "stream", "--source", "bluesky", "--duration", "8", "--record", str(recording), "--log-interval", "0",
            timeout=120,
        )
        requests = list(server.requests)
    live_deployment.environment["BLUESKY_JETSTREAM_URLS"] = ""
    return result, recording, expected, requests


def search_documents(deployment: Deployment, source: str, expected_count: int, file: Path | None = None) -> list[dict]:
    """Return the documents of ``source`` (and replay ``file``), waiting until ``expected_count`` arrived or 60 s passed."""
    client = OpenSearch(hosts=[deployment.settings.opensearch_url], timeout=30)
    index = deployment.settings.index_name
    terms = [{"term": {"source": source}}]
    if file is not None:
        terms.append({"term": {"origin.file": str(file)}})
    documents: list[dict] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        client.indices.refresh(index=index)
        response = client.search(index=index, body={"size": 1000, "query": {"bool": {"filter": terms}}})
        documents = [hit["_source"] for hit in response["hits"]["hits"]]
        if len(documents) >= expected_count:
            break
        time.sleep(1)
    return documents


def without_ingestion_fields(document: dict) -> dict:
    return {key: value for key, value in document.items() if key not in INGESTION_FIELDS}


@pytest.fixture(scope="module")
def live_documents(live_deployment: Deployment, live_run) -> list[dict]:
    _, _, expected, _ = live_run
    return search_documents(live_deployment, "bluesky", len(expected))


def test_live_stream_reconnected_with_cursor(live_run):
    result, _, _, requests = live_run

    assert result.returncode == 0
    assert len(requests) >= 4
    assert requests[0]["cursor"] is None
    assert requests[1]["cursor"] is not None
    assert "Sent" in result.stdout


def test_opensearch_has_each_matching_post_once(live_run, live_documents):
    _, _, expected, _ = live_run
    indexed = [document["tweet_id"] for document in live_documents]

    assert sorted(indexed) == sorted(expected)
    assert len(set(indexed)) == len(indexed)


def test_live_documents_categorised(live_documents):
    categories = {document["tweet_id"].rsplit("/", 1)[1]: document["category"] for document in live_documents}

    assert categories["3l0000"] == "cat"
    assert categories["3l0001"] == "dog"
    assert categories["3l0003"] == "both"
    assert all(document["author_username"].startswith("did:plc:") for document in live_documents)


def test_recording_replays_to_same_documents(live_deployment: Deployment, live_run, live_documents):
    _, recording, expected, _ = live_run

    result = live_deployment.run_cli("replay", str(recording), "--keep-timestamps", "--speed", "max", "--no-progress")
    replayed = search_documents(live_deployment, "replay", len(expected), recording)

    assert "rejected" in result.stdout
    assert len(replayed) == len(expected)
    key = lambda document: document["tweet_id"]  # noqa: E731
    assert [without_ingestion_fields(document) for document in sorted(replayed, key=key)] == [
        without_ingestion_fields(document) for document in sorted(live_documents, key=key)
    ]


X_TOKEN = "e2e-fake-bearer-token-31d4"


def x_messages() -> list[dict]:
    """Twelve filtered-stream messages: cat, dog and both tweets, one without a rule tag."""
    messages = []
    for index in range(12):
        tags = [("cats",), ("dogs",), ("cats", "dogs")][index % 3]
        rules = [{"id": "1", "tag": tag} for tag in tags] if index != 7 else [{"id": "9"}]
        messages.append(tweet(str(1_900_000_000_000_000_000 + index), f"tweet {index}", tags=tags, rules=rules))
    return messages


@pytest.fixture(scope="module")
def x_run(live_deployment: Deployment, tmp_path_factory: pytest.TempPathFactory):
    messages = x_messages()
    disconnect = {"errors": [{"title": "operational-disconnect", "detail": "upstream restart"}]}
    recording = tmp_path_factory.mktemp("x") / "x.jsonl"
    with FakeXServer(token=X_TOKEN) as server:
        # A cut mid-message, then a connection that sends tweets again, as a backfill would, and ends
        # with an operational disconnect.
        server.scripts.extend(
            [
                [line(message) for message in messages[:5]] + [keepalive(), cut(messages[5])],
                [line(message) for message in messages[3:9]] + [line(disconnect), end()],
                [line(message) for message in messages[9:]],
            ]
        )
        environment = {"X_API_URL": server.url, "X_BEARER_TOKEN": X_TOKEN}
        live_deployment.environment.update(environment)
        try:
            result = live_deployment.run_cli(
                "stream", "--source", "x", "--duration", "6", "--record", str(recording), "--log-interval", "0",
                timeout=120,
            )
        finally:
            for name in environment:
                live_deployment.environment.pop(name)
    return result, recording, messages


def test_x_stream_indexes_each_tweet_once(live_deployment: Deployment, x_run):
    result, _, messages = x_run

    documents = search_documents(live_deployment, "x", len(messages))

    assert sorted(document["tweet_id"] for document in documents) == sorted(message["data"]["id"] for message in messages)
    assert X_TOKEN not in result.stdout + result.stderr
    assert "operational-disconnect" in result.stderr


def test_x_recording_replays_to_same_documents(live_deployment: Deployment, x_run):
    _, recording, messages = x_run
    live = search_documents(live_deployment, "x", len(messages))

    live_deployment.run_cli("replay", str(recording), "--keep-timestamps", "--speed", "max", "--no-progress")
    replayed = search_documents(live_deployment, "replay", len(messages), recording)

    key = lambda document: document["tweet_id"]  # noqa: E731
    assert [without_ingestion_fields(document) for document in sorted(replayed, key=key)] == [
        without_ingestion_fields(document) for document in sorted(live, key=key)
    ]
