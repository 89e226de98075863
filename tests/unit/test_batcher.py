"""Unit tests of the batcher: record-count, byte and record-size limits, order, and flushing by time."""

from __future__ import annotations

import random

import pytest

from catsvdogs.producer.batcher import Batch, Batcher, reject_oversize
from catsvdogs.producer.limits import MAX_BATCH_BYTES, MAX_BATCH_RECORDS, MAX_RECORD_BYTES
from catsvdogs.records import Origin, OutgoingRecord


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_record(line: int, size: int = 10) -> OutgoingRecord:
    return OutgoingRecord(data=b"x" * size, origin=Origin("tweets.jsonl", line))


def add_all(batcher: Batcher, records: list[OutgoingRecord]) -> list[Batch]:
    batches: list[Batch] = []
    for record in records:
        result = batcher.add(record)
        assert result.rejected is None
        batches.extend(result.ready)
    last = batcher.flush()
    if last is not None:
        batches.append(last)
    return batches


def test_limits_match_aws_documentation() -> None:
    assert MAX_BATCH_RECORDS == 500
    assert MAX_BATCH_BYTES == 4 * 1024 * 1024
    assert MAX_RECORD_BYTES == 1000 * 1024


def test_batcher_splits_at_500_records() -> None:
    records = [make_record(line) for line in range(1, 1202)]

    batches = add_all(Batcher(), records)

    assert [len(batch.records) for batch in batches] == [500, 500, 201]
    assert [record for batch in batches for record in batch.records] == records


def test_batcher_returns_full_batch_at_once() -> None:
    batcher = Batcher()
    ready: list[Batch] = []
    for line in range(1, 501):
        ready.extend(batcher.add(make_record(line)).ready)

    assert len(ready) == 1
    assert len(ready[0].records) == 500
    assert batcher.pending_records == 0
    assert batcher.flush() is None


def test_batcher_splits_by_bytes_with_varied_sizes() -> None:
    generator = random.Random(7)
    sizes = [generator.choice([200, 5_000, 80_000, 400_000, MAX_RECORD_BYTES]) for _ in range(300)]
    records = [make_record(line, size) for line, size in enumerate(sizes, start=1)]

    batches = add_all(Batcher(), records)

    assert [record for batch in batches for record in batch.records] == records
    for batch in batches:
        assert batch.data_bytes == sum(len(record.data) for record in batch.records)
        assert batch.data_bytes <= MAX_BATCH_BYTES
        assert len(batch.records) <= MAX_BATCH_RECORDS
    # Each batch but the last is closed only because the next record would not fit.
    for batch, following in zip(batches, batches[1:]):
        assert batch.data_bytes + len(following.records[0].data) > MAX_BATCH_BYTES


def test_batcher_emits_batch_filled_to_exact_byte_limit() -> None:
    batcher = Batcher(max_bytes=100, max_record_bytes=50)

    first = batcher.add(make_record(1, 50))
    second = batcher.add(make_record(2, 50))

    assert first.ready == []
    assert len(second.ready) == 1
    assert second.ready[0].data_bytes == 100
    assert batcher.pending_records == 0


def test_batcher_splits_before_overflowing_record() -> None:
    batcher = Batcher(max_bytes=100, max_record_bytes=60)
    batcher.add(make_record(1, 60))

    result = batcher.add(make_record(2, 60))

    assert len(result.ready) == 1
    assert [record.origin.line for record in result.ready[0].records] == [1]
    assert batcher.pending_records == 1


def test_batcher_rejects_oversize_record() -> None:
    batcher = Batcher()
    big = OutgoingRecord(data=b"y" * (MAX_RECORD_BYTES + 1), origin=Origin("big.jsonl", 42))

    result = batcher.add(big)

    assert result.ready == []
    assert result.rejected is not None
    assert result.rejected.origin == big.origin
    reason = result.rejected.reason
    assert "1,024,001 bytes" in reason
    assert "1,024,000 bytes" in reason
    assert "big.jsonl:42" in reason
    assert "Split or shorten the tweet" in reason
    assert "1,000 KiB" in reason
    assert batcher.pending_records == 0


def test_batcher_keeps_record_at_exact_size_limit() -> None:
    record = make_record(1, MAX_RECORD_BYTES)

    assert reject_oversize(record) is None
    assert Batcher().add(record).rejected is None


def test_rejected_record_leaves_open_batch_alone() -> None:
    batcher = Batcher()
    batcher.add(make_record(1))

    batcher.add(make_record(2, MAX_RECORD_BYTES + 1))
    batcher.add(make_record(3))

    last = batcher.flush()
    assert last is not None
    assert [record.origin.line for record in last.records] == [1, 3]


def test_batcher_flushes_by_time() -> None:
    # Steps are binary fractions so that the clock sums are exact.
    clock = FakeClock()
    batcher = Batcher(max_wait=0.25, clock=clock)
    assert batcher.seconds_until_due() is None
    assert batcher.flush_due() is None

    batcher.add(make_record(1))
    clock.now += 0.125
    batcher.add(make_record(2))

    assert batcher.seconds_until_due() == 0.125
    assert batcher.flush_due() is None

    clock.now += 0.125
    due = batcher.flush_due()
    assert due is not None
    assert len(due.records) == 2
    assert batcher.seconds_until_due() is None


def test_batcher_timer_starts_with_first_record_of_batch() -> None:
    clock = FakeClock()
    batcher = Batcher(max_records=2, max_wait=0.25, clock=clock)
    batcher.add(make_record(1))
    clock.now += 0.125
    batcher.add(make_record(2))

    batcher.add(make_record(3))
    clock.now += 0.125

    assert batcher.flush_due() is None
    assert batcher.seconds_until_due() == 0.125


def test_batcher_wait_counts_from_read_time() -> None:
    clock = FakeClock()
    batcher = Batcher(max_wait=0.25, clock=clock)
    read_earlier = OutgoingRecord(data=b"x", origin=Origin("tweets.jsonl", 1), read_at=clock.now - 0.125)
    batcher.add(read_earlier)

    assert batcher.seconds_until_due() == 0.125

    clock.now += 0.125
    due = batcher.flush_due()
    assert due is not None
    assert due.records == (read_earlier,)


def test_batcher_rejects_invalid_settings() -> None:
    with pytest.raises(ValueError, match="max_records"):
        Batcher(max_records=0)
    with pytest.raises(ValueError, match="max_record_bytes"):
        Batcher(max_bytes=10, max_record_bytes=11)
    with pytest.raises(ValueError, match="max_wait"):
        Batcher(max_wait=-1)
