"""Fault tests that stop servers: LocalStack restarts mid-replay, and the search server is down.

These tests run on a stack of their own, because LocalStack keeps no state across
a restart and the search server keeps its data in memory only, so a restart
would wipe the resources of every other test.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from catsvdogs.native.servers import NativeStack
from tests.conftest import Deployment, provision
from tests.fault_helpers import (
    checkpoint_line,
    finish,
    index_counts,
    recording_lines,
    reindex_counts,
    start_cli,
    summary_counts,
    tweet_ids,
    wait_until,
    write_lines,
)

# The first 1,800 tweets of the recording span about 590 recorded seconds, so about 7 s at this speed.
RESTART_TWEETS = 1800
PACED = "80"


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NativeStack]:
    stack = NativeStack(workdir=tmp_path_factory.mktemp("fault-native"), lambda_python=sys.executable)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def restart_deployment(fault_stack: NativeStack) -> Deployment:
    return provision(fault_stack, "restart")


def restart_localstack(stack: NativeStack) -> None:
    """Stop LocalStack with SIGTERM, killing it after 5 s as its shutdown sometimes hangs, and start it on the same port."""
    assert stack.localstack is not None and stack.localstack.process is not None
    stack.localstack.process.stop(timeout=5)
    stack.localstack.start()


def test_localstack_restart_mid_replay(fault_stack: NativeStack, restart_deployment: Deployment, tmp_path: Path) -> None:
    lines = recording_lines(1, RESTART_TWEETS)
    path = write_lines(tmp_path / "restart.jsonl", lines)
    checkpoint = tmp_path / "checkpoint.json"
    replay = ["replay", str(path), "--speed", PACED, "--no-progress", "--log-interval", "0", "--checkpoint", str(checkpoint)]

    # Without --reprovision the producer waits out the outage, finds the stream gone, and prints what to do.
    first = start_cli(restart_deployment, *replay, log=tmp_path / "first.log")
    wait_until(lambda: checkpoint_line(checkpoint) >= 300, first, 60, "the first batches")
    restart_localstack(fault_stack)
    status, stdout, stderr = finish(first, tmp_path / "first.log")
    stopped_at = checkpoint_line(checkpoint)
    counts = summary_counts(stdout)

    assert status == 1, stderr
    assert "unreachable" in stderr
    assert "keeping its" in stderr
    assert "LocalStack keeps no resources across a restart. Run 'catsvdogs provision'" in stderr
    assert f"catsvdogs replay --resume --checkpoint {checkpoint} {path}" in stderr
    assert counts["pending"] > 0
    assert counts["read"] == counts["sent"] + counts["rejected"] + counts["pending"]
    assert counts["rejected"] == 0
    # The checkpoint moved back before the batch acknowledged just before the outage, which may be lost.
    assert "The checkpoint moves back before the last batch" in stderr
    assert stopped_at < RESTART_TWEETS

    # The user provisions and resumes; a second restart is handled by --reprovision.
    restart_deployment.run_cli("provision")
    second = start_cli(restart_deployment, *replay, "--resume", "--reprovision", log=tmp_path / "second.log")
    wait_until(lambda: checkpoint_line(checkpoint) >= stopped_at + 300, second, 60, "the resumed batches")
    restart_localstack(fault_stack)
    status, stdout, stderr = finish(second, tmp_path / "second.log")
    resumed = summary_counts(stdout)

    assert status == 0, stderr
    assert "provisioning again, as --reprovision requests" in stderr
    assert resumed["read"] == RESTART_TWEETS - stopped_at
    assert resumed["sent"] == resumed["read"]
    assert resumed["pending"] == 0

    # Reconciliation removes the documents of a batch that was in flight at a restart and then sent again.
    documents, distinct = index_counts(restart_deployment)
    reconciled = reindex_counts(restart_deployment.run_cli("reindex").stdout)
    after, after_distinct = index_counts(restart_deployment)

    assert distinct == RESTART_TWEETS
    assert documents - RESTART_TWEETS == reconciled["deleted"] == reconciled["duplicates"]
    assert reconciled["failed"] == 0
    assert (after, after_distinct) == (RESTART_TWEETS, RESTART_TWEETS)


def test_search_server_down_then_reindex(fault_stack: NativeStack, restart_deployment: Deployment, tmp_path: Path) -> None:
    lines = recording_lines(RESTART_TWEETS + 1, 600)
    path = write_lines(tmp_path / "down.jsonl", lines)
    assert fault_stack.search is not None

    fault_stack.search.stop()
    try:
        result = restart_deployment.run_cli(
            "replay", str(path), "--no-progress", "--log-interval", "0", "--max-attempts", "2", timeout=180, check=False
        )
    finally:
        fault_stack.search.start()
    counts = summary_counts(result.stdout)

    assert result.returncode == 1, result.stderr  # no tweet was sent and some were rejected
    assert counts["sent"] == 0
    assert counts["rejected"] == counts["not delivered"] == len(lines)
    assert "catsvdogs reindex" in result.stdout

    # The in-memory search server came back empty: provisioning recreates the template and the index, then the
    # backup fills it. The records sent before the last LocalStack restart are not in the backup any more.
    restart_deployment.run_cli("provision")
    reconciled = reindex_counts(restart_deployment.run_cli("reindex").stdout)
    documents, distinct = index_counts(restart_deployment)
    down_documents, down_distinct = index_counts(restart_deployment, {"terms": {"tweet_id": sorted(tweet_ids(lines))}})

    assert reconciled["before"] == 0
    assert reconciled["indexed"] == reconciled["distinct"] == documents == distinct
    assert (down_documents, down_distinct) == (len(lines), len(lines))
    assert reconciled["failed"] == 0
