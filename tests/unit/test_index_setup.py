"""The index template and the index, against a real in-memory search server (osmem-server)."""

from __future__ import annotations

import socket

from opensearchpy import OpenSearch

from catsvdogs.monitor.health import Contents, check_search, read_documents
from catsvdogs.provisioning.index_setup import apply_index_template, ensure_index

INDEX = "tweets"


def test_index_from_template_matches(osmem_url: str) -> None:
    client = OpenSearch(hosts=[osmem_url])
    apply_index_template(client, INDEX)

    assert ensure_index(client, INDEX) == "created"
    assert ensure_index(client, INDEX) == "exists"


def test_index_made_before_template_warned(osmem_url: str) -> None:
    client = OpenSearch(hosts=[osmem_url])
    # A document that arrives before the template gets field types guessed from its values.
    client.index(index=INDEX, body={"category": "cat", "sentiment_score": 1}, refresh=True)
    apply_index_template(client, INDEX)

    result = ensure_index(client, INDEX)

    assert result.startswith("exists, but its field types differ from the index template (category: text, expected keyword")
    assert "sentiment_score: long, expected float" in result
    assert f"Delete the index (DELETE /{INDEX} on the search server)" in result


def test_status_names_index_made_before_template(osmem_url: str) -> None:
    client = OpenSearch(hosts=[osmem_url])
    client.index(index=INDEX, body={"category": "cat"}, refresh=True)

    check = read_documents(client, Contents(index=INDEX))

    assert check.healthy is False
    assert "the category field is not a keyword field" in check.detail
    assert "run `catsvdogs provision`" in check.detail


def test_status_explains_refused_connection() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"

    check = check_search(OpenSearch(hosts=[url], max_retries=0), url)

    assert check.healthy is False
    assert check.detail == f"{url} did not answer: connection refused: the server is not running"
