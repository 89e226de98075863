"""Reader thread that moves source items into a bounded queue, so a slow Firehose slows the source down."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable

from catsvdogs.producer.counters import Counters
from catsvdogs.records import OutgoingRecord, SkippedInput, SourceItem

logger = logging.getLogger(__name__)

_PUT_POLL_SECONDS = 0.1


class EndOfItems:
    """Marker put into the queue after the last item, or after the reader failed or stopped."""


END_OF_ITEMS = EndOfItems()


class SourceReader:
    """Thread that iterates a source into a bounded queue and counts each item it takes as read.

    The reader checks ``stop`` before it takes each item, so an item that a live source
    yields after the stop request is dropped without being counted. Every counted item
    reaches the queue, even after a stop, because the consumer keeps draining it.
    An exception raised by the source is kept in ``error`` for the consumer to re-raise.
    """

    def __init__(self, items: Iterable[SourceItem], *, queue_size: int, stop: threading.Event, counters: Counters):
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        self._items = items
        self._stop = stop
        self._counters = counters
        self._queue: queue.Queue[SourceItem | EndOfItems] = queue.Queue(maxsize=queue_size)
        # Taking an item and counting it happen under this lock, so is_drained() cannot
        # run between the two and miss an item that was taken.
        self._lock = threading.Lock()
        self._items_taken = 0
        self._abandoned = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="catsvdogs-source-reader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def get(self, timeout: float) -> SourceItem | EndOfItems | None:
        """Return the next queued item, END_OF_ITEMS after the last one, or None if none came within ``timeout``."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def has_queued(self) -> bool:
        """Return True when an item is waiting in the queue, so that get() returns it at once."""
        return not self._queue.empty()

    def is_drained(self, consumed: int) -> bool:
        """Return True when a stop was requested and the consumer has received all ``consumed`` items the reader counted."""
        with self._lock:
            return self._stop.is_set() and self._items_taken == consumed

    def abandon(self) -> None:
        """Make the reader drop what it holds and exit at its next step, because the consumer no longer drains the queue."""
        self._abandoned.set()

    def _run(self) -> None:
        logger.debug("Source reader started")
        try:
            for item in self._items:
                with self._lock:
                    if self._stop.is_set() or self._abandoned.is_set():
                        logger.info("Source reader stopped on request after %d items", self._items_taken)
                        break
                    if isinstance(item, SkippedInput):
                        # A duplicate is counted on its own and never queued, so it is not "read".
                        self._counters.add_duplicate_skipped()
                        continue
                    self._items_taken += 1
                    self._counters.add_read(tweets=int(isinstance(item, OutgoingRecord)))
                if not self._put(item):
                    break
            else:
                logger.info("Source reader reached the end of the input after %d items", self._items_taken)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer thread, which re-raises it
            logger.error("Source reader failed after %d items: %s: %s", self._items_taken, type(error).__name__, error)
            self.error = error
        finally:
            self._put(END_OF_ITEMS)

    def _put(self, item: SourceItem | EndOfItems) -> bool:
        while not self._abandoned.is_set():
            try:
                self._queue.put(item, timeout=_PUT_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False
