"""Helpers of the fault tests: replays in the background, checkpoint polling, summaries, index counts."""

from __future__ import annotations

import gzip
import itertools
import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from opensearchpy import OpenSearch

from tests.conftest import CLI, REPLAY_DATA, Deployment


def recording_lines(first: int, count: int) -> list[str]:
    """Return ``count`` lines of the bundled recording from 1-based line ``first``, without newlines."""
    with gzip.open(REPLAY_DATA / "cats_v_dogs.jsonl.gz", "rt", encoding="utf-8") as source:
        return [line.rstrip("\n") for line in itertools.islice(source, first - 1, first - 1 + count)]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def tweet_ids(lines: list[str]) -> set[str]:
    return {json.loads(line)["data"]["id"] for line in lines}


def start_cli(deployment: Deployment, *arguments: str, log: Path) -> subprocess.Popen[str]:
    """Start the catsvdogs command in the background, stderr to ``log`` and stdout to a pipe."""
    with open(log, "w", encoding="utf-8") as errors:
        return subprocess.Popen(
            [str(CLI), *arguments], env=deployment.environment, stdout=subprocess.PIPE, stderr=errors, text=True
        )


def finish(process: subprocess.Popen[str], log: Path, timeout: float = 180) -> tuple[int, str, str]:
    """Wait for a background command; return its exit status, stdout and stderr."""
    stdout, _ = process.communicate(timeout=timeout)
    return process.returncode, stdout, log.read_text(encoding="utf-8")


def checkpoint_line(path: Path) -> int:
    """Return the line of the first file's position in a checkpoint, 0 before the first write."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))["files"][0]["line"]
    except (OSError, ValueError, KeyError, IndexError):
        return 0


def wait_until(condition: Callable[[], bool], process: subprocess.Popen[str] | None, timeout: float, what: str) -> None:
    """Poll ``condition`` every 0.1 s; fail if ``process`` exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the command exited with {process.returncode} before {what}")
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def summary_counts(output: str) -> dict[str, int]:
    """Return the counts of a producer summary: read, sent, rejected, pending and not delivered."""
    pattern = r"^\s+(read|sent|rejected|pending|not delivered):\s+([\d,]+)"
    return {name: int(value.replace(",", "")) for name, value in re.findall(pattern, output, re.M)}


def rejected_by_reason(output: str) -> dict[str, int]:
    """Return the "N x reason" lines of a producer summary."""
    return {reason: int(count.replace(",", "")) for count, reason in re.findall(r"^  ([\d,]+) x (.+)$", output, re.M)}


def reindex_counts(output: str) -> dict[str, int]:
    """Return the counts that `catsvdogs reindex` prints."""
    numbers = lambda pattern: int(re.search(pattern, output).group(1).replace(",", ""))  # noqa: E731
    return {
        "records": numbers(r"objects, ([\d,]+) records"),
        "distinct": numbers(r"([\d,]+) distinct tweets"),
        "before": numbers(r"([\d,]+) tweet documents before"),
        "after": numbers(r"([\d,]+) after"),
        "duplicates": numbers(r"([\d,]+) found"),
        "deleted": numbers(r"([\d,]+) deleted"),
        "already": numbers(r"([\d,]+) already indexed"),
        "indexed": numbers(r"([\d,]+) indexed now"),
        "failed": numbers(r"failed:\s+([\d,]+)"),
    }


def search_client(deployment: Deployment) -> OpenSearch:
    return OpenSearch(hosts=[deployment.settings.opensearch_url], timeout=30)


def index_counts(deployment: Deployment, query: dict | None = None) -> tuple[int, int]:
    """Return the number of tweet documents matching ``query`` and of their distinct tweet ids."""
    client = search_client(deployment)
    index = deployment.settings.index_name
    client.indices.refresh(index=index)
    filters = [{"exists": {"field": "tweet_id"}}] + ([query] if query else [])
    body = {
        "size": 0,
        "track_total_hits": True,
        "query": {"bool": {"filter": filters}},
        "aggs": {"ids": {"cardinality": {"field": "tweet_id", "precision_threshold": 40000}}},
    }
    response = client.search(index=index, body=body)
    return response["hits"]["total"]["value"], response["aggregations"]["ids"]["value"]


def file_query(path: Path) -> dict:
    return {"term": {"origin.file": str(path)}}
