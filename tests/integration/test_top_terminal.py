"""`catsvdogs top` on a real pseudo-terminal: it shows both categories and redraws as documents arrive."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pexpect
from opensearchpy import OpenSearch

from catsvdogs.provisioning.index_setup import apply_index_template, ensure_index
from tests.conftest import CLI

INDEX = "terminal-tweets"
UPDATED = re.compile(r"updated (\d\d:\d\d:\d\d)")
# rich's Live view on the alternate screen ends with this sequence, which gives the terminal back to the shell.
LEAVE_ALTERNATE_SCREEN = "\x1b[?1049l"


def add_tweets(client: OpenSearch, category: str, count: int, first_id: int) -> None:
    created = (datetime.now(timezone.utc) - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    for number in range(first_id, first_id + count):
        body = {
            "created_at": created,
            "text": f"{category} tweet {number}",
            "category": category,
            "likes": number,
            "retweets": 0,
            "engagement": number,
            "sentiment_label": "positive",
        }
        client.index(index=INDEX, id=str(number), body=body)
    client.indices.refresh(index=INDEX)


def test_top_shows_categories_and_updates(osmem_url: str, tmp_path: Path) -> None:
    client = OpenSearch(hosts=[osmem_url])
    apply_index_template(client, INDEX)
    ensure_index(client, INDEX)
    add_tweets(client, "cat", 2, first_id=0)
    add_tweets(client, "dog", 3, first_id=100)
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "OPENSEARCH_"))}
    environment.update(
        {
            "OPENSEARCH_URL": osmem_url,
            "CATSVDOGS_INDEX": INDEX,
            "CATSVDOGS_STATE_DIR": str(tmp_path / "state"),
            "TERM": "xterm-256color",
        }
    )

    child = pexpect.spawn(
        str(CLI), ["top", "--interval", "0.5"], env=environment, dimensions=(50, 100), timeout=20, encoding="utf-8"
    )
    try:
        child.expect(UPDATED)
        first_update = child.match.group(1)
        child.expect("cats 2 ")
        child.expect("dogs 3 ")
        child.expect("Most engaging tweet of the last hour")
        child.expect("dog tweet 102")

        add_tweets(client, "cat", 3, first_id=200)

        child.expect("cats 5 ")
        child.expect("cat tweet 202")
        for _ in range(10):
            child.expect(UPDATED)
            if child.match.group(1) != first_update:
                break
        assert child.match.group(1) != first_update

        child.sendintr()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)

    assert child.exitstatus == 0
    assert LEAVE_ALTERNATE_SCREEN in child.before
