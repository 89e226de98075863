"""Replay checkpoints: positions as batches finish, the file on disk, and --resume against a fake Firehose.

A run that dies with a batch in flight is simulated by a sender that delivers the
batch to the fake Firehose and then raises. The batch reached Firehose but its
acknowledgement never reached the producer, which is the worst case of a SIGKILL.
"""

from __future__ import annotations

import gzip
import itertools
import json
import logging
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from catsvdogs.producer.batcher import Batcher
from catsvdogs.producer.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointTracker,
    default_checkpoint_path,
    load_checkpoint,
    write_checkpoint,
)
from catsvdogs.producer.counters import Summary, format_summary
from catsvdogs.producer.firehose import BatchResult, FirehoseSender, ProducerError, create_firehose_client
from catsvdogs.producer.pipeline import run_producer
from catsvdogs.records import FilePosition, Origin, OutgoingRecord
from catsvdogs.sources.replay import ReplayOptions, new_run_id, replay

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fake_firehose import FakeFirehose, FirehoseScript  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
STREAM = "test-stream"
BATCH = 50


def tracker_for(tmp_path: Path, files: Sequence[str], written: list[dict] | None = None) -> CheckpointTracker:
    checkpoint = Checkpoint(stream=STREAM, files=list(files), paths=[f"/data/{name}" for name in files])

    def write(path: Path, value: Checkpoint) -> None:
        if written is not None:
            written.append(value.to_json())

    return CheckpointTracker(tmp_path / "checkpoint.json", checkpoint, write=write)


# --- CheckpointTracker: positions ---


def test_tracker_waits_for_batch_acknowledgement(tmp_path: Path) -> None:
    tracker = tracker_for(tmp_path, ["a"])
    for line in (1, 2, 3):
        tracker.consumed(Origin("a", line), done=False)

    assert tracker.positions == {}

    tracker.acknowledged(2)

    assert tracker.positions == {"a": FilePosition(2, 1)}


def test_tracker_rejection_waits_behind_records(tmp_path: Path) -> None:
    tracker = tracker_for(tmp_path, ["a"])
    tracker.consumed(Origin("a", 1), done=False)
    tracker.consumed(Origin("a", 2), done=True)

    assert tracker.positions == {}

    tracker.acknowledged(1)

    assert tracker.positions == {"a": FilePosition(2, 1)}


def test_tracker_counts_items_of_one_line(tmp_path: Path) -> None:
    tracker = tracker_for(tmp_path, ["a"])
    for _ in range(3):
        tracker.consumed(Origin("a", 7), done=False)
    tracker.acknowledged(2)

    assert tracker.positions == {"a": FilePosition(7, 2)}


def test_tracker_keeps_each_file(tmp_path: Path) -> None:
    tracker = tracker_for(tmp_path, ["a", "b"])
    tracker.consumed(Origin("a", 4), done=False)
    tracker.consumed(Origin("b", 1), done=False)
    tracker.acknowledged(2)

    assert tracker.positions == {"a": FilePosition(4, 1), "b": FilePosition(1, 1)}


def test_tracker_new_loop_pass_clears_positions(tmp_path: Path) -> None:
    tracker = tracker_for(tmp_path, ["a", "b"])
    for origin in (Origin("a", 5), Origin("b", 3), Origin("a", 1)):
        tracker.consumed(origin, done=True)

    assert tracker.positions == {"a": FilePosition(1, 1)}


def test_tracker_ignores_file_level_rejections(tmp_path: Path) -> None:
    tracker = tracker_for(tmp_path, ["a"])
    tracker.consumed(Origin("a", 0), done=True)

    assert tracker.positions == {}


def test_tracker_writes_after_each_batch(tmp_path: Path) -> None:
    written: list[dict] = []
    tracker = tracker_for(tmp_path, ["a"], written)
    tracker.consumed(Origin("a", 1), done=False)
    tracker.consumed(Origin("a", 2), done=False)
    tracker.acknowledged(1)
    tracker.acknowledged(1)
    tracker.finish(end_of_input=True)

    assert [entry["files"][0]["line"] for entry in written] == [1, 2, 2]
    assert [entry["finished"] for entry in written] == [False, False, True]


def test_tracker_logs_write_failure_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    def failing_write(path: Path, value: Checkpoint) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    checkpoint = Checkpoint(stream=STREAM, files=["a"], paths=["/data/a"])
    tracker = CheckpointTracker(tmp_path / "checkpoint.json", checkpoint, write=failing_write)

    with caplog.at_level(logging.ERROR, logger="catsvdogs.producer.checkpoint"):
        for line in (1, 2, 3):
            tracker.consumed(Origin("a", line), done=False)
            tracker.acknowledged(1)

    assert tracker.write_failed
    assert len(caplog.records) == 1
    assert "Cannot write the checkpoint" in caplog.records[0].getMessage()


# --- the checkpoint file ---


def test_write_checkpoint_replaces_file(tmp_path: Path) -> None:
    path = tmp_path / "state" / "checkpoint.json"
    checkpoint = Checkpoint(stream=STREAM, files=["a"], paths=[str(tmp_path / "a")], positions={"a": FilePosition(9, 1)})

    write_checkpoint(path, checkpoint)
    checkpoint.positions["a"] = FilePosition(12, 2)
    write_checkpoint(path, checkpoint)

    data = json.loads(path.read_text())
    assert data["files"] == [{"file": "a", "path": str(tmp_path / "a"), "line": 12, "items_on_line": 2}]
    assert [entry.name for entry in path.parent.iterdir()] == ["checkpoint.json"]


def test_load_checkpoint_round_trip(tmp_path: Path) -> None:
    files = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    path = default_checkpoint_path(files, STREAM, tmp_path)
    checkpoint = Checkpoint(
        stream=STREAM,
        files=[str(file) for file in files],
        paths=[str(file) for file in files],
        positions={str(files[0]): FilePosition(30, 1)},
    )
    write_checkpoint(path, checkpoint)

    loaded = load_checkpoint(path, files, STREAM)

    assert loaded is not None
    assert loaded.positions_for(files) == {str(files[0]): FilePosition(30, 1)}
    assert not loaded.finished


def started_checkpoint(tmp_path: Path, text: str) -> tuple[Path, Path]:
    """Write ``text`` to a recording and a checkpoint of a run that reached its line 2, and return both paths."""
    recording = tmp_path / "tweets.jsonl"
    recording.write_text(text, encoding="utf-8")
    path = tmp_path / "checkpoint.json"
    tracker = CheckpointTracker.start(path, STREAM, [recording], "run-1")
    tracker.consumed(Origin(str(recording), 2), done=True)
    tracker.save()
    return recording, path


def test_load_checkpoint_accepts_grown_file(tmp_path: Path) -> None:
    recording, path = started_checkpoint(tmp_path, "one\ntwo\n")
    with open(recording, "a", encoding="utf-8") as target:
        target.write("three\n")

    loaded = load_checkpoint(path, [recording], STREAM)

    assert loaded is not None
    assert loaded.positions_for([recording]) == {str(recording): FilePosition(2, 1)}


@pytest.mark.parametrize(
    ("new_text", "change"),
    [
        ("one\n", "it is shorter: 4 bytes, 8 when the checkpoint was written"),
        ("ONE\nTWO\nthree\n", "its first bytes differ from those the checkpoint recorded"),
    ],
)
def test_load_checkpoint_rejects_changed_file(tmp_path: Path, new_text: str, change: str) -> None:
    recording, path = started_checkpoint(tmp_path, "one\ntwo\n")
    recording.write_text(new_text, encoding="utf-8")

    with pytest.raises(CheckpointError) as raised:
        load_checkpoint(path, [recording], STREAM)

    assert str(raised.value).startswith(f"{recording} changed since checkpoint {path} was written: {change}. ")
    assert "line 2" in str(raised.value)
    assert "run without --resume" in str(raised.value)


def test_load_checkpoint_without_fingerprint_accepted(tmp_path: Path) -> None:
    recording, path = started_checkpoint(tmp_path, "one\ntwo\n")
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["files"][0]["fingerprint"]
    path.write_text(json.dumps(data), encoding="utf-8")
    recording.write_text("other\n", encoding="utf-8")

    assert load_checkpoint(path, [recording], STREAM) is not None


def test_load_checkpoint_missing_returns_none(tmp_path: Path) -> None:
    assert load_checkpoint(tmp_path / "none.json", [tmp_path / "a"], STREAM) is None


@pytest.mark.parametrize(
    ("stream", "files", "expected"),
    [("other-stream", ["a.jsonl"], "delivery stream 'test-stream'"), (STREAM, ["b.jsonl"], "is for the files")],
)
def test_load_checkpoint_rejects_other_run(tmp_path: Path, stream: str, files: list[str], expected: str) -> None:
    path = tmp_path / "checkpoint.json"
    write_checkpoint(path, Checkpoint(stream=STREAM, files=["a.jsonl"], paths=[str(tmp_path / "a.jsonl")]))

    with pytest.raises(CheckpointError, match=expected):
        load_checkpoint(path, [tmp_path / name for name in files], stream)


def test_load_checkpoint_rejects_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.json"
    path.write_text("{not json")

    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(path, [tmp_path / "a"], STREAM)


def test_default_path_depends_on_files_and_stream(tmp_path: Path) -> None:
    first = default_checkpoint_path([tmp_path / "a"], STREAM, tmp_path)

    assert default_checkpoint_path([tmp_path / "a"], STREAM, tmp_path) == first
    assert default_checkpoint_path([tmp_path / "b"], STREAM, tmp_path) != first
    assert default_checkpoint_path([tmp_path / "a"], "other", tmp_path) != first


# --- replay, kill, resume against the fake Firehose ---


class DiesAfter:
    """A sender that delivers batches, then raises on batch ``fatal`` after delivering it."""

    def __init__(self, sender: FirehoseSender, fatal: int) -> None:
        self.stream_name = sender.stream_name
        self._sender = sender
        self._fatal = fatal
        self._batches = 0

    def put_batch(self, records: Sequence[OutgoingRecord]) -> BatchResult:
        result = self._sender.put_batch(records)
        self._batches += 1
        if self._batches == self._fatal:
            raise ProducerError("simulated kill after delivery")
        return result


@pytest.fixture
def fake():
    with FakeFirehose(FirehoseScript(streams={STREAM})) as server:
        yield server


def make_sender(fake: FakeFirehose) -> FirehoseSender:
    client = create_firehose_client(
        region_name="us-east-1", endpoint_url=fake.endpoint_url, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    return FirehoseSender(client, STREAM, sleep=lambda seconds: None)


def recording_lines(count: int) -> list[str]:
    with gzip.open(ROOT / "replay_data" / "cats_v_dogs.jsonl.gz", "rt", encoding="utf-8") as source:
        return [line.rstrip("\n") for line in itertools.islice(source, count)]


def run_replay(files: list[Path], sender, checkpoint_path: Path, *, resume: bool) -> Summary:
    resumed = load_checkpoint(checkpoint_path, files, STREAM) if resume else None
    tracker = CheckpointTracker.start(checkpoint_path, STREAM, files, new_run_id(), resumed)
    return run_producer(
        replay(
            files,
            ReplayOptions(),
            threading.Event(),
            resume_from=tracker.positions,
            run_id=tracker.run_id,
            first_pass=tracker.pass_number,
        ),
        sender,
        stop=threading.Event(),
        batcher=Batcher(max_records=BATCH),
        checkpoint=tracker,
        log_interval=0,
    )


def accepted_ids(fake: FakeFirehose) -> Counter[str]:
    return Counter(json.loads(data)["data"]["id"] for data in fake.accepted)


def test_resume_after_kill_resends_at_most_one_batch(fake: FakeFirehose, tmp_path: Path) -> None:
    lines = recording_lines(400)
    lines.insert(100, "not json")
    path = tmp_path / "tweets.jsonl"
    path.write_text("\n".join(lines) + "\n")
    checkpoint_path = tmp_path / "checkpoint.json"
    expected = {json.loads(line)["data"]["id"] for line in lines if line != "not json"}

    with pytest.raises(ProducerError) as raised:
        run_replay([path], DiesAfter(make_sender(fake), fatal=4), checkpoint_path, resume=False)
    killed = raised.value.summary
    position = json.loads(checkpoint_path.read_text())["files"][0]
    resumed = run_replay([path], make_sender(fake), checkpoint_path, resume=True)

    counts = accepted_ids(fake)
    assert killed is not None and killed.pending > 0
    assert position["line"] == 3 * BATCH + 1  # three batches and the bad line before them were done
    assert set(counts) == expected
    assert sum(counts.values()) - len(expected) == BATCH
    assert resumed.read == len(lines) - position["line"]
    assert resumed.rejected == 0
    final = json.loads(checkpoint_path.read_text())
    assert final["finished"] is True
    assert final["files"][0]["line"] == len(lines)


def test_resume_after_finished_replay_sends_nothing(fake: FakeFirehose, tmp_path: Path) -> None:
    path = tmp_path / "tweets.jsonl"
    path.write_text("\n".join(recording_lines(60)) + "\n")
    checkpoint_path = tmp_path / "checkpoint.json"

    run_replay([path], make_sender(fake), checkpoint_path, resume=False)
    resumed = run_replay([path], make_sender(fake), checkpoint_path, resume=True)

    assert resumed.read == 0
    assert sum(accepted_ids(fake).values()) == 60


def test_resume_keeps_duplicate_filter(fake: FakeFirehose, tmp_path: Path) -> None:
    lines = recording_lines(120)
    lines.append(lines[10])  # a repeat of a tweet that the first run sends
    path = tmp_path / "tweets.jsonl"
    path.write_text("\n".join(lines) + "\n")
    checkpoint_path = tmp_path / "checkpoint.json"

    with pytest.raises(ProducerError):
        run_replay([path], DiesAfter(make_sender(fake), fatal=1), checkpoint_path, resume=False)
    resumed = run_replay([path], make_sender(fake), checkpoint_path, resume=True)

    assert resumed.duplicates_skipped == 1
    assert set(accepted_ids(fake)) == {json.loads(line)["data"]["id"] for line in lines}


def test_resume_inside_multi_tweet_line(fake: FakeFirehose, tmp_path: Path) -> None:
    messages = [json.loads(line) for line in recording_lines(150)]
    pages = []
    for start in range(0, 150, 30):
        chunk = messages[start : start + 30]
        users = [user for message in chunk for user in message["includes"]["users"]]
        pages.append(json.dumps({"data": [m["data"] for m in chunk], "includes": {"users": users}, "meta": {}}))
    path = tmp_path / "pages.jsonl"
    path.write_text("\n".join(pages) + "\n")
    checkpoint_path = tmp_path / "checkpoint.json"

    with pytest.raises(ProducerError):
        run_replay([path], DiesAfter(make_sender(fake), fatal=2), checkpoint_path, resume=False)
    position = json.loads(checkpoint_path.read_text())["files"][0]
    resumed = run_replay([path], make_sender(fake), checkpoint_path, resume=True)

    counts = accepted_ids(fake)
    assert (position["line"], position["items_on_line"]) == (2, 20)  # 50 tweets: page 1 and 20 of page 2
    assert resumed.read == 100
    assert set(counts) == {message["data"]["id"] for message in messages}
    assert sum(counts.values()) == 150 + BATCH


# --- the summary ---


def test_summary_reports_undelivered_with_reindex_hint() -> None:
    summary = Summary(
        read=10,
        sent=4,
        rejected=6,
        pending=0,
        retried=30,
        elapsed_seconds=1.0,
        rejected_by_category={"InternalError": 6},
        rejection_samples=(),
        tweets=10,
        undelivered=6,
    )

    text = format_summary(summary, stream_name=STREAM)

    assert "  not delivered: 6 " in text
    assert "catsvdogs reindex" in text


def test_tracker_reverts_last_batch(tmp_path: Path) -> None:
    written: list[dict] = []
    tracker = tracker_for(tmp_path, ["a"], written)
    for line in (1, 2, 3, 4):
        tracker.consumed(Origin("a", line), done=False)
    tracker.acknowledged(2)
    tracker.acknowledged(2)

    tracker.revert_last_batch()
    tracker.save()

    assert tracker.positions == {"a": FilePosition(2, 1)}
    assert [entry["files"][0]["line"] for entry in written] == [2, 4, 2]
