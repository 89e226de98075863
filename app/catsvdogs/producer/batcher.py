"""Packing of records into PutRecordBatch calls that respect Firehose's size limits."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from catsvdogs.producer.limits import MAX_BATCH_BYTES, MAX_BATCH_RECORDS, MAX_RECORD_BYTES
from catsvdogs.records import OutgoingRecord, RejectedInput

DEFAULT_MAX_WAIT = 0.2
"""Seconds a batch that is not full may wait for more records before it is sent."""

OVERSIZE_REASON = "record too large"
"""Start of the rejection reason for a record over the record size limit."""


@dataclass(frozen=True)
class Batch:
    """Records for one PutRecordBatch call, in the order they were added."""

    records: tuple[OutgoingRecord, ...]
    data_bytes: int


@dataclass(frozen=True)
class AddResult:
    """Outcome of adding one record: batches ready to send, and the record's rejection if it was too large."""

    ready: list[Batch] = field(default_factory=list)
    rejected: RejectedInput | None = None


def reject_oversize(record: OutgoingRecord, max_record_bytes: int = MAX_RECORD_BYTES) -> RejectedInput | None:
    """Return a rejection for a record whose data is over ``max_record_bytes``, else None."""
    size = len(record.data)
    if size <= max_record_bytes:
        return None

    reason = (
        f"{OVERSIZE_REASON}: {record.origin} has {size:,} bytes of data, over the limit of "
        f"{max_record_bytes:,} bytes. Split or shorten the tweet, because "
        f"Firehose rejects records over {MAX_RECORD_BYTES // 1024:,} KiB."
    )
    return RejectedInput(origin=record.origin, reason=reason)


class Batcher:
    """Collect records in order into batches within the record-count and byte limits.

    A batch is ready when adding the next record would break a limit, when it is full,
    or when its first record has waited ``max_wait`` seconds. The wait counts from
    the record's ``read_at`` when it has one, so time spent in the producer's queue
    counts too; ``read_at`` must then come from ``clock``. Not thread-safe: one
    thread adds, polls and flushes.
    """

    def __init__(
        self,
        *,
        max_records: int = MAX_BATCH_RECORDS,
        max_bytes: int = MAX_BATCH_BYTES,
        max_record_bytes: int = MAX_RECORD_BYTES,
        max_wait: float = DEFAULT_MAX_WAIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_records < 1:
            raise ValueError(f"max_records must be at least 1, got {max_records}")
        if max_record_bytes > max_bytes:
            raise ValueError(f"max_record_bytes ({max_record_bytes}) must not exceed max_bytes ({max_bytes})")
        if max_wait < 0:
            raise ValueError(f"max_wait must not be negative, got {max_wait}")

        self._max_records = max_records
        self._max_bytes = max_bytes
        self._max_record_bytes = max_record_bytes
        self._max_wait = max_wait
        self._clock = clock
        self._records: list[OutgoingRecord] = []
        self._bytes = 0
        self._started_at: float | None = None

    @property
    def pending_records(self) -> int:
        return len(self._records)

    def add(self, record: OutgoingRecord) -> AddResult:
        """Add ``record`` to the open batch, or reject it when its data is over the record limit."""
        rejection = reject_oversize(record, self._max_record_bytes)
        if rejection is not None:
            return AddResult(rejected=rejection)

        ready: list[Batch] = []
        size = len(record.data)
        if self._records and self._bytes + size > self._max_bytes:
            ready.append(self._take())

        if not self._records:
            self._started_at = record.read_at if record.read_at is not None else self._clock()
        self._records.append(record)
        self._bytes += size

        if len(self._records) >= self._max_records or self._bytes >= self._max_bytes:
            ready.append(self._take())
        return AddResult(ready=ready)

    def seconds_until_due(self) -> float | None:
        """Return the seconds until the open batch is due by time, 0 if overdue, or None if it is empty."""
        if self._started_at is None:
            return None
        waited = self._clock() - self._started_at
        return max(0.0, self._max_wait - waited)

    def flush_due(self) -> Batch | None:
        """Take the open batch if it has waited ``max_wait`` seconds, else return None."""
        remaining = self.seconds_until_due()
        if remaining is None or remaining > 0:
            return None
        return self._take()

    def flush(self) -> Batch | None:
        """Take the open batch whatever its age, or return None if it is empty."""
        if not self._records:
            return None
        return self._take()

    def _take(self) -> Batch:
        batch = Batch(records=tuple(self._records), data_bytes=self._bytes)
        self._records = []
        self._bytes = 0
        self._started_at = None
        return batch
