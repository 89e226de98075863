"""Exit statuses of `catsvdogs replay` and `catsvdogs inspect`: 1 when every input was rejected, 0 otherwise.

The replay runs in this process with AWS_ENDPOINT_URL pointed at port 9 on 127.0.0.1, where nothing normally
listens. Its inputs are all rejected, so it makes no call, and a call made by mistake fails locally.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from catsvdogs.cli import build_parser
from catsvdogs.commands import inspect, replay
from catsvdogs.inspection import Counts
from catsvdogs.producer.counters import Summary

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "stream_v2_minimal.jsonl"


def summary(sent: int, rejected: int) -> Summary:
    return Summary(
        read=sent + rejected,
        sent=sent,
        rejected=rejected,
        pending=0,
        retried=0,
        elapsed_seconds=1.0,
        rejected_by_category={},
        rejection_samples=(),
    )


@pytest.mark.parametrize(
    ("sent", "rejected", "status"),
    [(1, 0, 0), (1, 5, 0), (0, 0, 0), (0, 1, 1)],
)
def test_replay_exit_status(sent: int, rejected: int, status: int) -> None:
    assert replay.exit_status(summary(sent, rejected)) == status


@pytest.mark.parametrize(
    ("tweets", "rejected", "status"),
    [(1, 0, 0), (1, 5, 0), (0, 0, 0), (0, 1, 1)],
)
def test_inspect_exit_status(tweets: int, rejected: int, status: int) -> None:
    counts = Counts(tweets=tweets, rejected=Counter({"invalid JSON": rejected}))

    assert inspect.exit_status(counts) == status


def test_replay_missing_file_exits_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    arguments = ["replay", "--no-progress", "--checkpoint", str(tmp_path / "checkpoint.json"), str(tmp_path / "missing.jsonl")]
    args = build_parser().parse_args(arguments)

    status = args.run(args)

    assert status == 1
    assert "file not found" in capsys.readouterr().out


def test_inspect_missing_file_exits_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["inspect", str(tmp_path / "missing.jsonl")])

    assert args.run(args) == 1
    assert "no tweet found" in capsys.readouterr().err


def test_inspect_one_file_found_exits_zero(tmp_path: Path) -> None:
    args = build_parser().parse_args(["inspect", str(FIXTURE), str(tmp_path / "missing.jsonl")])

    assert args.run(args) == 0


@pytest.mark.parametrize("command", ["replay", "inspect"])
def test_help_documents_exit_status(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])

    assert "Exit status: 0 when at least one tweet was" in " ".join(capsys.readouterr().out.split())
