"""`catsvdogs record` and `catsvdogs stream --dry-run` run as a user would, against fake servers on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import CLI
from tests.fake_jetstream import FakeJetstream, Script, post
from tests.fake_x_stream import FakeXServer, cut, line, tweet

TOKEN = "cli-fake-token-5f2b9c"


def run_cli(*arguments: str, **environment: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "X_BEARER_TOKEN": "", "X_BEARER_TOKEN_FILE": "", **environment}
    return subprocess.run([str(CLI), *arguments], env=env, capture_output=True, text=True, timeout=60, check=False)


def test_record_bluesky_writes_each_event(tmp_path: Path):
    events = [post("did:plc:a", f"r{index}", 1_000_000 + index, f"#cats {index}", tags=("cats",)) for index in range(4)]
    events.append(post("did:plc:b", "r9", 1_000_009, "no match"))
    path = tmp_path / "bluesky.jsonl.gz"
    with FakeJetstream(events) as server:
        server.scripts.append(Script(send=2, then="cut"))
        result = run_cli("record", "--source", "bluesky", "--duration", "2", str(path), BLUESKY_JETSTREAM_URLS=server.url)

    recorded = [json.loads(text) for text in gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()]
    assert result.returncode == 0, result.stderr
    assert recorded == events
    assert "recorded 5 messages from bluesky" in result.stdout
    assert "4 cat or dog posts" in result.stdout


def test_record_x_syncs_rules_and_writes_lines(tmp_path: Path):
    path = tmp_path / "x.jsonl"
    with FakeXServer(token=TOKEN) as server:
        server.scripts.extend([[line(tweet("1")), cut(tweet("2"))], [line(tweet("2"))]])
        result = run_cli("record", "--source", "x", "--duration", "2", str(path), X_API_URL=server.url, X_BEARER_TOKEN=TOKEN)
        rules = sorted(rule.get("tag") for rule in server.rules.values())

    assert result.returncode == 0, result.stderr
    assert [json.loads(text)["data"]["id"] for text in path.read_text(encoding="utf-8").splitlines()] == ["1", "2"]
    assert rules == ["cats", "dogs"]
    assert "0 kept, 0 to delete, 2 to add" in result.stdout
    assert TOKEN not in result.stdout + result.stderr


def test_stream_dry_run_changes_no_rules():
    with FakeXServer(token=TOKEN) as server:
        stale = server.add_rule("#hamster", "hamsters")
        result = run_cli("stream", "--source", "x", "--dry-run", X_API_URL=server.url, X_BEARER_TOKEN=TOKEN)
        remaining = list(server.rules)

    assert result.returncode == 0, result.stderr
    assert remaining == [stale]
    assert "1 to delete, 2 to add" in result.stdout
    assert "  - '#hamster' tag 'hamsters'" in result.stdout


@pytest.mark.parametrize("command", ["stream", "record"])
def test_bad_token_explained_not_echoed(command: str, tmp_path: Path):
    with FakeXServer(token=TOKEN) as server:
        arguments = ["--log-level", "DEBUG", command, "--source", "x"]
        if command == "record":
            arguments.append(str(tmp_path / "x.jsonl"))
        result = run_cli(*arguments, X_API_URL=server.url, X_BEARER_TOKEN="wrong-token-77")

    assert result.returncode == 1
    assert "HTTP 401" in result.stderr
    assert "X_BEARER_TOKEN" in result.stderr
    assert "wrong-token-77" not in result.stdout + result.stderr


def test_missing_token_explained():
    result = run_cli("stream", "--source", "x", "--dry-run", X_API_URL="http://127.0.0.1:9")

    assert result.returncode == 1
    assert "no X bearer token" in result.stderr


def test_bad_endpoint_leaves_no_recording(tmp_path: Path):
    path = tmp_path / "bluesky.jsonl"

    result = run_cli("record", "--source", "bluesky", str(path), BLUESKY_JETSTREAM_URLS="ws://127.0.0.1:99999/x")

    assert result.returncode == 1
    assert "BLUESKY_JETSTREAM_URLS: 'ws://127.0.0.1:99999/x' is not a usable URL: Port out of range" in result.stderr
    assert "Traceback" not in result.stderr
    assert not path.exists()


def test_bad_aws_endpoint_named_not_traceback():
    result = run_cli("status", AWS_ENDPOINT_URL="127.0.0.1:4566")

    assert result.returncode == 1
    assert "AWS_ENDPOINT_URL='127.0.0.1:4566' is not a usable URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_record_refuses_existing_file(tmp_path: Path):
    path = tmp_path / "old.jsonl"
    path.write_text("keep\n", encoding="utf-8")

    result = run_cli("record", "--source", "bluesky", str(path), BLUESKY_JETSTREAM_URLS="ws://127.0.0.1:9/subscribe")

    assert result.returncode == 1
    assert "file exists" in result.stderr
    assert path.read_text(encoding="utf-8") == "keep\n"


def stream_during_outage(*options: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run `stream --source bluesky` on three cat posts with Firehose unreachable, and return the result and its seconds."""
    # A port that nothing listens on: every Firehose call is refused, as while LocalStack is down.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    events = [post("did:plc:a", f"r{index}", 1_000_000 + index, f"#cats {index}", tags=("cats",)) for index in range(3)]
    with FakeJetstream(events) as server:
        started = time.monotonic()
        result = run_cli(
            "stream", "--source", "bluesky", *options,
            BLUESKY_JETSTREAM_URLS=server.url,
            AWS_ENDPOINT_URL=f"http://127.0.0.1:{closed_port}",
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",
            AWS_DEFAULT_REGION="us-east-1",
        )
    return result, time.monotonic() - started


def test_stream_max_outage_ends_stream():
    # No --duration: only the outage budget ends this stream.
    result, elapsed = stream_during_outage("--max-outage", "1", "--log-interval", "0")

    assert result.returncode == 1, result.stderr
    assert "the maximum outage of 1 s" in result.stderr
    assert "pending:  3" in result.stdout
    assert elapsed < 30, f"stream took {elapsed:.1f} s to stop"


def test_stream_stops_during_firehose_outage():
    result, elapsed = stream_during_outage("--duration", "2")

    assert result.returncode == 1, result.stderr
    assert "catsvdogs stream:" in result.stderr
    # The stop at the end of --duration ends the outage wait, which would otherwise last 300 s.
    assert elapsed < 30, f"stream took {elapsed:.1f} s to stop"
