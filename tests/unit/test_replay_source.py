"""Unit tests of the replay source: records, rejections, provenance, timestamp shifting, pacing and looping."""

from __future__ import annotations

import gzip
import itertools
import json
import logging
import re
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from catsvdogs.records import PROVENANCE_KEY, Origin, OutgoingRecord, RejectedInput, SkippedInput, SourceItem
from catsvdogs.sources.replay import (
    Pacer,
    ReplayOptions,
    format_timestamp,
    parse_timestamp,
    replay,
    replay_file,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MINIMAL = FIXTURES / "stream_v2_minimal.jsonl"
CUTOFF = FIXTURES / "twarc2_stream_cutoff.jsonl"

# The created_at values of the six tweets in stream_v2_minimal.jsonl, as offsets from the first one in seconds.
MINIMAL_OFFSETS = [0, 7, 19, 33, 48, 62]
PASS_START = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
READ_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class FakeClock:
    """A wall clock that advances only when a test or a recorded wait moves it."""

    def __init__(self, start: datetime = PASS_START) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now


class RecordingStop(threading.Event):
    """A stop event whose waits return at once, record their timeout and advance the fake clock by it."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waits.append(timeout)
        self.clock.now += timeout
        return self.is_set()


class StopOnWait(threading.Event):
    """A stop event that is set, as by Ctrl-C, as soon as the pacer starts waiting on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waits = 0

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1
        self.set()
        return True


def tweet_line(tweet_id: str, created_at: str | None = None) -> str:
    data: dict[str, Any] = {"id": tweet_id, "text": f"tweet {tweet_id} #cats"}
    if created_at is not None:
        data["created_at"] = created_at
    return json.dumps({"data": data, "matching_rules": [{"id": "1", "tag": "cats"}]})


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def tweets_file(path: Path, seconds: Iterable[int], first_id: int = 1) -> Path:
    """Write one tweet for each offset in ``seconds`` after 2025-03-14T16:00:00Z, with ids from ``first_id`` up."""
    start = datetime(2025, 3, 14, 16, 0, 0, tzinfo=timezone.utc)
    lines = []
    for index, offset in enumerate(seconds):
        lines.append(tweet_line(str(first_id + index), format_timestamp(start + timedelta(seconds=offset))))
    return write_lines(path, lines)


def records(items: Iterable[SourceItem]) -> list[OutgoingRecord]:
    return [item for item in items if isinstance(item, OutgoingRecord)]


def rejections(items: Iterable[SourceItem]) -> list[RejectedInput]:
    return [item for item in items if isinstance(item, RejectedInput)]


def decode(record: OutgoingRecord) -> dict[str, Any]:
    return json.loads(record.data.decode("utf-8"))


def paced_items(path: Path, options: ReplayOptions) -> tuple[list[SourceItem], RecordingStop]:
    """Replay one file with a fake clock that starts at PASS_START and advances only by the pacer's waits."""
    clock = FakeClock()
    stop = RecordingStop(clock)
    pacer = Pacer(options, stop, clock=clock)
    pacer.start_pass()
    return list(replay_file(path, pacer)), stop


def replay_all(paths: list[Path], options: ReplayOptions | None = None) -> list[SourceItem]:
    return list(replay(paths, options or ReplayOptions(), threading.Event()))


def test_fixture_tweets_become_records() -> None:
    items = replay_all([MINIMAL])

    assert [record.origin for record in records(items)] == [Origin(str(MINIMAL), line) for line in (1, 2, 3, 5, 6, 7)]


def test_fixture_error_message_rejected() -> None:
    items = replay_all([MINIMAL])

    assert [rejection.origin for rejection in rejections(items)] == [Origin(str(MINIMAL), 8)]
    assert rejections(items)[0].reason.startswith("stream error message, no tweet: operational-disconnect")


def test_fixture_items_in_file_order() -> None:
    items = replay_all([MINIMAL])

    assert [item.origin.line for item in items] == [1, 2, 3, 5, 6, 7, 8]


def test_keep_alive_lines_skipped_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_lines(tmp_path / "tweets.jsonl", ["", tweet_line("1"), "  ", "\r", tweet_line("2")])

    with caplog.at_level(logging.INFO, logger="catsvdogs.sources.replay"):
        items = replay_all([path])

    assert [item.origin.line for item in items] == [2, 5]
    assert f"{path}: skipped 3 blank keep-alive lines" in caplog.messages


def test_twarc_cut_off_line_rejected() -> None:
    items = replay_all([CUTOFF])

    assert len(records(items)) == 7
    assert rejections(items) == [
        RejectedInput(Origin(str(CUTOFF), 8), "line cut off: the file ends mid-JSON after 44 characters")
    ]


def test_invalid_json_rejected_with_location(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "tweets.jsonl", [tweet_line("1"), "{not json", tweet_line("3")])

    items = replay_all([path])

    reason = "invalid JSON: Expecting property name enclosed in double quotes at column 2"
    assert rejections(items) == [RejectedInput(Origin(str(path), 2), reason)]
    assert [record.origin.line for record in records(items)] == [1, 3]


def test_unterminated_string_reason_reads_once(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "tweets.jsonl", ['{"data": {"id": "1", "text": "no end'])

    items = replay_all([path])

    assert [item.reason for item in rejections(items)] == ["invalid JSON: Unterminated string starting at column 30"]


def test_invalid_utf8_rejected_with_location(tmp_path: Path) -> None:
    path = tmp_path / "tweets.jsonl"
    path.write_bytes(tweet_line("1").encode() + b"\n\xff\xfe\n" + tweet_line("3").encode() + b"\n")

    items = replay_all([path])

    assert [rejection.origin for rejection in rejections(items)] == [Origin(str(path), 2)]
    assert rejections(items)[0].reason.startswith("invalid UTF-8")
    assert rejections(items)[0].reason.endswith("at byte 0 of the line")


def test_invalid_created_at_rejected(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "tweets.jsonl", [tweet_line("1", "yesterday")])

    items = replay_all([path])

    assert len(rejections(items)) == 1
    assert rejections(items)[0].reason.startswith("invalid created_at 'yesterday': ")


def test_far_future_created_at_rejected(tmp_path: Path) -> None:
    lines = [tweet_line("1", "2026-01-02T03:04:05.000Z"), tweet_line("2", "9999-12-31T23:59:59.000Z"), tweet_line("3")]
    path = write_lines(tmp_path / "tweets.jsonl", lines)

    items = replay_all([path])

    assert len(records(items)) == 2
    assert len(rejections(items)) == 1
    assert rejections(items)[0].origin == Origin(str(path), 2)
    assert rejections(items)[0].reason.startswith("created_at out of range: 9999-12-31T23:59:59.000Z is so far after")
    assert "--keep-timestamps" in rejections(items)[0].reason


def test_rejected_copy_keeps_valid_copy(tmp_path: Path) -> None:
    bad = json.loads(tweet_line("5", "2026-01-02T03:04:05.000Z"))
    bad["data"]["public_metrics"] = {"like_count": "many"}
    first = write_lines(tmp_path / "bad.jsonl", [json.dumps(bad)])
    second = write_lines(tmp_path / "good.jsonl", [tweet_line("5", "2026-01-02T03:04:05.000Z"), tweet_line("5")])

    items = replay_all([first, second])

    assert [item.origin for item in rejections(items)] == [Origin(str(first), 1)]
    assert [item.origin for item in records(items)] == [Origin(str(second), 1)]
    # The valid copy is sent, so the copy after it is the duplicate.
    assert [item.origin for item in items if isinstance(item, SkippedInput)] == [Origin(str(second), 2)]


def test_record_is_one_json_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "tweets.jsonl", [tweet_line("1", "2025-03-14T16:00:00.000Z")])

    record = records(replay_all([path]))[0]

    assert record.data.endswith(b"\n")
    assert record.data.count(b"\n") == 1
    assert decode(record)["data"]["id"] == "1"


def test_record_keeps_message_keys(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "tweets.jsonl", [tweet_line("1", "2025-03-14T16:00:00.000Z")])

    message = decode(records(replay_all([path]))[0])

    assert message["matching_rules"] == [{"id": "1", "tag": "cats"}]
    assert set(message) == {"data", "matching_rules", PROVENANCE_KEY}


def test_record_keeps_non_ascii_text() -> None:
    record = records(replay_all([MINIMAL]))[2]

    assert "🐱".encode() in record.data
    assert decode(record)["data"]["text"].endswith("🐱🐶")


def test_provenance_block(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "tweets.jsonl", [tweet_line("1"), tweet_line("2")])

    provenance = decode(records(replay_all([path]))[1])[PROVENANCE_KEY]

    assert set(provenance) == {"source", "file", "line", "read_at", "run_id", "pass_number"}
    assert provenance["source"] == "replay"
    assert provenance["file"] == str(path)
    assert provenance["line"] == 2
    assert len(provenance["run_id"]) == 12
    assert provenance["pass_number"] == 1


def test_provenance_read_at_is_now(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "tweets.jsonl", [tweet_line("1")])
    before = datetime.now(timezone.utc) - timedelta(seconds=1)

    read_at = decode(records(replay_all([path]))[0])[PROVENANCE_KEY]["read_at"]

    assert READ_AT.match(read_at)
    assert before <= parse_timestamp(read_at) <= datetime.now(timezone.utc) + timedelta(seconds=1)


def test_first_tweet_shifted_to_pass_start() -> None:
    items, _ = paced_items(MINIMAL, ReplayOptions())

    assert decode(records(items)[0])["data"]["created_at"] == format_timestamp(PASS_START)


def test_shift_preserves_gaps_at_max_speed() -> None:
    items, _ = paced_items(MINIMAL, ReplayOptions())

    shifted = [parse_timestamp(decode(record)["data"]["created_at"]) for record in records(items)]

    assert [(moment - PASS_START).total_seconds() for moment in shifted] == MINIMAL_OFFSETS


def test_shift_divides_gaps_by_speed() -> None:
    items, _ = paced_items(MINIMAL, ReplayOptions(speed=10))

    shifted = [parse_timestamp(decode(record)["data"]["created_at"]) for record in records(items)]

    assert [(moment - PASS_START).total_seconds() for moment in shifted] == pytest.approx(
        [offset / 10 for offset in MINIMAL_OFFSETS], abs=0.001
    )


def test_keep_timestamps_leaves_created_at() -> None:
    lines = MINIMAL.read_text(encoding="utf-8").splitlines()
    original = [json.loads(line)["data"]["created_at"] for line in lines if line.startswith('{"data"')]

    items, _ = paced_items(MINIMAL, ReplayOptions(speed=10, keep_timestamps=True))

    assert [decode(record)["data"]["created_at"] for record in records(items)] == original


def test_missing_created_at_kept_missing(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "tweets.jsonl", [tweet_line("1")])

    items, stop = paced_items(path, ReplayOptions(speed=10))

    assert "created_at" not in decode(records(items)[0])["data"]
    assert stop.waits == []


def test_earlier_tweet_shifted_to_start(tmp_path: Path) -> None:
    path = tweets_file(tmp_path / "tweets.jsonl", [60, 0])

    items, stop = paced_items(path, ReplayOptions(speed=10))

    created = [decode(record)["data"]["created_at"] for record in records(items)]
    assert created == [format_timestamp(PASS_START)] * 2
    assert stop.waits == []


def test_pacing_waits_gap_over_speed() -> None:
    _, stop = paced_items(MINIMAL, ReplayOptions(speed=10))

    gaps = [later - earlier for earlier, later in zip(MINIMAL_OFFSETS, MINIMAL_OFFSETS[1:])]
    assert stop.waits == pytest.approx([gap / 10 for gap in gaps])


def test_pacing_at_real_time() -> None:
    _, stop = paced_items(MINIMAL, ReplayOptions(speed=1))

    assert sum(stop.waits) == pytest.approx(MINIMAL_OFFSETS[-1])


def test_max_speed_never_waits() -> None:
    _, stop = paced_items(MINIMAL, ReplayOptions())

    assert stop.waits == []


def test_pacing_skips_wait_when_behind(tmp_path: Path) -> None:
    path = tweets_file(tmp_path / "tweets.jsonl", [0, 1, 2])
    clock = FakeClock()
    stop = RecordingStop(clock)
    pacer = Pacer(ReplayOptions(speed=1), stop, clock=clock)
    pacer.start_pass()
    clock.now += 5

    list(replay_file(path, pacer))

    assert stop.waits == []


def test_real_pacing_takes_recorded_time(tmp_path: Path) -> None:
    path = tweets_file(tmp_path / "tweets.jsonl", [0, 1, 2])
    started = time.monotonic()

    items = replay_all([path], ReplayOptions(speed=10))

    assert len(records(items)) == 3
    # Two seconds of recorded gaps at speed 10 take 0.2 s. The bound is lower because timers may wake a little early.
    assert time.monotonic() - started >= 0.15


def test_stop_set_before_start_yields_nothing() -> None:
    stop = threading.Event()
    stop.set()

    items = list(replay([MINIMAL], ReplayOptions(loop=True), stop))

    assert items == []


def test_stop_ends_replay_mid_file() -> None:
    stop = threading.Event()
    iterator = replay([MINIMAL], ReplayOptions(), stop)

    first = next(iterator)
    stop.set()
    rest = list(iterator)

    assert first.origin.line == 1
    assert rest == []


def test_stop_ends_loop() -> None:
    stop = threading.Event()
    iterator = replay([MINIMAL], ReplayOptions(loop=True), stop)
    seen = []

    for item in iterator:
        seen.append(item)
        if len(seen) == 10:
            stop.set()

    assert len(seen) == 10


def test_stop_during_pacing_wait_ends_replay(tmp_path: Path) -> None:
    path = tweets_file(tmp_path / "tweets.jsonl", [0, 3600, 7200])
    stop = StopOnWait()

    items = list(replay([path], ReplayOptions(speed=1, loop=True), stop))

    assert stop.waits == 1
    assert [item.origin.line for item in items] == [1, 2]


def test_loop_repeats_files_in_order(tmp_path: Path) -> None:
    path = tweets_file(tmp_path / "tweets.jsonl", [0, 1])
    stop = threading.Event()
    lines = []

    for item in replay([path], ReplayOptions(loop=True), stop):
        lines.append(item.origin.line)
        if len(lines) == 5:
            stop.set()

    assert lines == [1, 2, 1, 2, 1]


def test_loop_shifts_each_pass_to_now(tmp_path: Path) -> None:
    path = tweets_file(tmp_path / "tweets.jsonl", [0, 3600])
    stop = threading.Event()
    created = []
    before = datetime.now(timezone.utc) - timedelta(seconds=1)

    for item in replay([path], ReplayOptions(loop=True), stop):
        created.append(parse_timestamp(decode(item)["data"]["created_at"]))
        if len(created) == 3:
            stop.set()

    assert created[1] - created[0] == timedelta(hours=1)
    assert before <= created[2] < created[1]


def test_loop_logs_pass_every_ten_seconds(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tweets_file(tmp_path / "tweets.jsonl", [0])
    stop = threading.Event()
    calls = itertools.count()
    sent = 0

    with caplog.at_level(logging.DEBUG, logger="catsvdogs.sources.replay"):
        # The clock advances 10 ms a pass, so 1,000 passes take 10 seconds.
        for _ in replay([path], ReplayOptions(loop=True), stop, clock=lambda: next(calls) * 0.01):
            sent += 1
            if sent == 3000:
                stop.set()

    pass_lines = [record for record in caplog.records if record.getMessage().startswith("Replay pass ")]
    info_lines = [record.getMessage() for record in pass_lines if record.levelno == logging.INFO]
    file_lines = [record for record in caplog.records if " records as x-v2-stream" in record.getMessage()]
    assert len(pass_lines) == 3000
    assert [line.split(" over ")[0] for line in info_lines] == ["Replay pass 1", "Replay pass 1001", "Replay pass 2001"]
    assert info_lines[1].endswith("999 passes logged at DEBUG since the last one)")
    assert len(file_lines) == 3000
    assert sum(record.levelno == logging.INFO for record in file_lines) == 3


def test_loop_stops_all_files_missing(tmp_path: Path) -> None:
    missing = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]

    items = replay_all(missing, ReplayOptions(loop=True))

    assert items == [
        RejectedInput(Origin(str(missing[0]), 0), "file not found; check the path"),
        RejectedInput(Origin(str(missing[1]), 0), "file not found; check the path"),
    ]


def test_loop_stops_without_tweets(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_lines(tmp_path / "tweets.jsonl", ["{}", "[]"])

    with caplog.at_level(logging.ERROR, logger="catsvdogs.sources.replay"):
        items = replay_all([path], ReplayOptions(loop=True))

    assert len(rejections(items)) == 2
    assert "Replay pass 1 sent no record; stopping the loop instead of repeating it" in caplog.messages


def test_missing_file_among_others(tmp_path: Path) -> None:
    first = tweets_file(tmp_path / "first.jsonl", [0, 1])
    missing = tmp_path / "missing.jsonl"
    last = tweets_file(tmp_path / "last.jsonl", [2], first_id=3)

    items = replay_all([first, missing, last])

    assert rejections(items) == [RejectedInput(Origin(str(missing), 0), "file not found; check the path")]
    assert [record.origin for record in records(items)] == [
        Origin(str(first), 1),
        Origin(str(first), 2),
        Origin(str(last), 1),
    ]


def test_missing_file_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    missing = tmp_path / "missing.jsonl"

    with caplog.at_level(logging.ERROR, logger="catsvdogs.sources.replay"):
        replay_all([missing])

    assert f"{missing}: file not found; check the path" in caplog.messages


def test_directory_rejected(tmp_path: Path) -> None:
    items = replay_all([tmp_path])

    assert items == [RejectedInput(Origin(str(tmp_path), 0), "is a directory; pass the files inside it")]


def test_gzip_file_replayed(tmp_path: Path) -> None:
    path = tmp_path / "tweets.jsonl.gz"
    path.write_bytes(gzip.compress(MINIMAL.read_bytes()))

    items = replay_all([path])

    assert len(records(items)) == 6
    assert len(rejections(items)) == 1


def test_truncated_gzip_rejected_after_records(tmp_path: Path) -> None:
    lines = [tweet_line(str(number), "2025-03-14T16:00:00.000Z") for number in range(1, 2001)]
    compressed = gzip.compress("".join(line + "\n" for line in lines).encode())
    path = tmp_path / "tweets.jsonl.gz"
    path.write_bytes(compressed[: len(compressed) // 2])

    items = replay_all([path])

    sent = records(items)
    assert len(sent) > 0
    assert rejections(items) == [items[-1]]
    assert items[-1].origin == Origin(str(path), 0)
    assert items[-1].reason.startswith(f"gzip data is corrupt or truncated at line {len(sent) + 1} (")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-14T16:02:11.000Z", datetime(2025, 3, 14, 16, 2, 11, tzinfo=timezone.utc)),
        ("2025-03-14T16:02:11Z", datetime(2025, 3, 14, 16, 2, 11, tzinfo=timezone.utc)),
        ("2025-03-14T18:02:11.500+02:00", datetime(2025, 3, 14, 16, 2, 11, 500000, tzinfo=timezone.utc)),
        ("2025-03-14T16:02:11", datetime(2025, 3, 14, 16, 2, 11, tzinfo=timezone.utc)),
    ],
)
def test_parse_timestamp_to_utc(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)

    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


def test_format_timestamp_milliseconds() -> None:
    moment = datetime(2025, 3, 14, 18, 2, 11, 987654, tzinfo=timezone(timedelta(hours=2)))

    assert format_timestamp(moment) == "2025-03-14T16:02:11.987Z"


def test_timestamp_round_trip() -> None:
    text = "2025-03-14T16:02:11.042Z"

    assert format_timestamp(parse_timestamp(text)) == text


def test_replay_options_default_max_speed() -> None:
    options = ReplayOptions()

    assert options.speed is None
    assert not options.loop
    assert not options.keep_timestamps


def test_provenance_run_and_pass_numbers(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "tweets.jsonl", [tweet_line("1")])
    stop = threading.Event()
    items = replay([path], ReplayOptions(loop=True), stop, run_id="run-1", first_pass=4)

    blocks = [json.loads(next(items).data)[PROVENANCE_KEY] for _ in range(2)]
    stop.set()

    assert [(block["run_id"], block["pass_number"]) for block in blocks] == [("run-1", 4), ("run-1", 5)]
