"""Producer run: read source items on one thread, batch and send them to Firehose on the calling thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from catsvdogs.producer.batcher import Batch, Batcher
from catsvdogs.producer.checkpoint import CheckpointTracker
from catsvdogs.producer.counters import Counters, Summary
from catsvdogs.producer.firehose import BatchResult, ProducerError
from catsvdogs.producer.reader import EndOfItems, SourceReader
from catsvdogs.producer.rejection_log import log_rejection
from catsvdogs.producer.stop_signals import install_stop_signals
from catsvdogs.records import OutgoingRecord, RejectedInput, SourceItem

__all__ = ["BatchSender", "install_stop_signals", "run_producer"]

logger = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 10_000
DEFAULT_LOG_INTERVAL = 10.0

# Maximum wait for a queued item, so that a stop request is seen within this time
# even when the source yields nothing.
_POLL_SECONDS = 0.1


class BatchSender(Protocol):
    """Destination of batches, such as FirehoseSender."""

    stream_name: str

    def put_batch(self, records: Sequence[OutgoingRecord]) -> BatchResult: ...


ProgressCallback = Callable[[Counters], None]


def run_producer(
    items: Iterable[SourceItem],
    sender: BatchSender,
    *,
    queue_size: int = DEFAULT_QUEUE_SIZE,
    log_interval: float = DEFAULT_LOG_INTERVAL,
    stop: threading.Event | None = None,
    progress: ProgressCallback | None = None,
    batcher: Batcher | None = None,
    checkpoint: CheckpointTracker | None = None,
) -> Summary:
    """Send every record of ``items`` to ``sender`` in batches, count rejections, and return the final counts.

    A reader thread iterates ``items`` into a queue of ``queue_size`` items, so a slow
    destination blocks the source instead of filling memory. When ``stop`` is set, the
    reader takes no new item, everything already read is sent, and the function returns.
    Raises the source's exception, after sending what was read, if iterating ``items``
    failed. Raises ProducerError from the sender without sending the rest; its
    ``summary`` then contains the counts, with the records not sent as pending.
    ``checkpoint``, when given, receives every item consumed and batch done, and
    writes the replay's checkpoint after each batch.
    """
    stop = stop if stop is not None else threading.Event()
    counters = Counters()
    reader = SourceReader(items, queue_size=queue_size, stop=stop, counters=counters)
    delivery = _Delivery(sender, counters, progress, checkpoint)
    progress_log = _ProgressLog(counters, log_interval)
    logger.info("Producer started: stream %s, queue size %d", sender.stream_name, queue_size)

    reader.start()
    try:
        _consume(reader, batcher or Batcher(), delivery, progress_log, stop)
    except BaseException as error:
        reader.abandon()
        progress_log.log_now("Producer failed")
        if isinstance(error, ProducerError):
            error.summary = counters.snapshot()
        if checkpoint is not None:
            if isinstance(error, ProducerError) and error.last_batch_unconfirmed:
                checkpoint.revert_last_batch()
            checkpoint.save()
        raise

    # The reader is not joined: after a stop it may be blocked inside a live source
    # that yields nothing. It is a daemon thread, and abandon() makes it exit as soon
    # as the source yields again. It sets ``error`` before it queues END_OF_ITEMS.
    reader.abandon()
    if checkpoint is not None:
        checkpoint.finish(end_of_input=reader.error is None and not stop.is_set())
    if reader.error is not None:
        progress_log.log_now("Producer stopped because the source failed")
        reader.error.add_note("raised by the source in the producer's reader thread")
        raise reader.error

    summary = counters.snapshot()
    progress_log.log_now("Producer stopped", whole_run=True)
    if summary.pending:
        # Only a bug can leave records pending here: every item counted as read was consumed.
        logger.error("Producer stopped with %d records read but neither sent nor rejected", summary.pending)
    return summary


def _consume(
    reader: SourceReader,
    batcher: Batcher,
    delivery: _Delivery,
    progress_log: _ProgressLog,
    stop: threading.Event,
) -> None:
    consumed = 0
    stop_logged = False
    while True:
        item = reader.get(_poll_timeout(batcher))
        if isinstance(item, EndOfItems):
            break
        if item is not None:
            consumed += 1
            _handle_item(item, batcher, delivery)
        elif reader.is_drained(consumed):
            break

        if stop.is_set() and not stop_logged:
            logger.info("Stop requested: sending the records already read, then stopping")
            stop_logged = True
        if not reader.has_queued():
            # Records that queued up during the last call join the open batch first.
            # Otherwise an overdue batch would be sent with one record, and each queued record after it alone.
            due = batcher.flush_due()
            if due is not None:
                delivery.send(due)
        progress_log.log_if_due()

    last = batcher.flush()
    if last is not None:
        delivery.send(last)


def _poll_timeout(batcher: Batcher) -> float:
    until_due = batcher.seconds_until_due()
    if until_due is None:
        return _POLL_SECONDS
    return min(until_due, _POLL_SECONDS)


def _handle_item(item: SourceItem, batcher: Batcher, delivery: _Delivery) -> None:
    if isinstance(item, RejectedInput):
        delivery.reject(item)
        return

    added = batcher.add(item)
    if added.rejected is not None:
        delivery.reject(added.rejected)
    else:
        delivery.wait_for_batch(item)
    for batch in added.ready:
        delivery.send(batch)


class _Delivery:
    """Sends batches, and counts and logs what was sent and rejected."""

    def __init__(
        self,
        sender: BatchSender,
        counters: Counters,
        progress: ProgressCallback | None,
        checkpoint: CheckpointTracker | None = None,
    ) -> None:
        self._sender = sender
        self._counters = counters
        self._progress = progress
        self._checkpoint = checkpoint

    def wait_for_batch(self, record: OutgoingRecord) -> None:
        """Note a record that waits in the open batch, so the checkpoint does not pass it before its batch is done."""
        if self._checkpoint is not None:
            self._checkpoint.consumed(record.origin, done=False)

    def send(self, batch: Batch) -> None:
        result = self._sender.put_batch(batch.records)
        self._counters.add_sent(result.sent)
        self._counters.add_retried(result.resent)
        self._counters.add_undelivered(len(result.failed))
        for rejection in result.rejections():
            self._count_rejection(rejection)
        if self._checkpoint is not None:
            self._checkpoint.acknowledged(len(batch.records))
        self._report_progress()

    def reject(self, rejection: RejectedInput) -> None:
        self._count_rejection(rejection)
        if self._checkpoint is not None:
            self._checkpoint.consumed(rejection.origin, done=True)
        self._report_progress()

    def _count_rejection(self, rejection: RejectedInput) -> None:
        category_count = self._counters.add_rejected(rejection)
        log_rejection(rejection, category_count)

    def _report_progress(self) -> None:
        if self._progress is not None:
            self._progress(self._counters)


class _ProgressLog:
    """One INFO line with the counts every ``interval`` seconds; the rate covers the time since the last line."""

    def __init__(self, counters: Counters, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._counters = counters
        self._interval = interval
        self._clock = clock
        self._last_time = clock()
        self._last_sent = 0

    def log_if_due(self) -> None:
        if self._interval > 0 and self._clock() - self._last_time >= self._interval:
            self.log_now("Producer progress")

    def log_now(self, label: str, *, whole_run: bool = False) -> None:
        """Log the counts; the rate covers the time since the last line, or the whole run for the final line."""
        now = self._clock()
        summary = self._counters.snapshot()
        elapsed = now - self._last_time
        rate = (summary.sent - self._last_sent) / elapsed if elapsed > 0 else 0.0
        if whole_run:
            rate = summary.rate
        logger.info(
            "%s: read %d, sent %d, retried %d, rejected %d, pending %d, %.1f records/s",
            label,
            summary.read,
            summary.sent,
            summary.retried,
            summary.rejected,
            summary.pending,
            rate,
        )
        self._last_time = now
        self._last_sent = summary.sent
