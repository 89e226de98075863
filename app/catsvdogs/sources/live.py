"""Parts shared by the live sources: records with provenance, the duplicate window, counts and waits."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from catsvdogs.records import PROVENANCE_KEY, Origin, OutgoingRecord, SourceItem
from catsvdogs.transform.timestamps import format_timestamp

LOG = logging.getLogger(__name__)

Sleep = Callable[[float], object]
"""Waits the given seconds; a live source's default returns early when a stop is requested."""

Clock = Callable[[], float]


def build_live_record(message: dict[str, Any], source: str) -> OutgoingRecord:
    """Serialise a v2 stream message with a provenance block naming the live source, as one JSON line."""
    message[PROVENANCE_KEY] = {"source": source, "read_at": format_timestamp(datetime.now(UTC))}
    data = (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    return OutgoingRecord(data, Origin(source, 0), read_at=time.monotonic())


@dataclass
class LiveStats:
    """Counts of one live source run, logged when it stops and shown in the command's summary."""

    connections: int = 0
    reconnects: int = 0
    messages: int = 0
    keep_alives: int = 0
    posts_sent: int = 0
    duplicates_dropped: int = 0
    filtered_out: int = 0
    invalid_messages: int = 0
    error_messages: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, count: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + count)

    def add_error_message(self, title: str) -> None:
        with self._lock:
            self.error_messages[title] += 1

    def add_failure(self, kind: str) -> None:
        with self._lock:
            self.failures[kind] += 1

    def describe(self) -> str:
        """Format the counts as one line for the log and the summary."""
        with self._lock:
            parts = [
                f"connections {self.connections}",
                f"reconnects {self.reconnects}",
                f"messages {self.messages}",
                f"keep-alives {self.keep_alives}",
                f"posts handed to the producer {self.posts_sent}",
                f"duplicates dropped {self.duplicates_dropped}",
                f"filtered out {self.filtered_out}",
                f"invalid {self.invalid_messages}",
            ]
            if self.error_messages:
                listed = ", ".join(f"{title} x{count}" for title, count in sorted(self.error_messages.items()))
                parts.append(f"error messages: {listed}")
            if self.failures:
                listed = ", ".join(f"{kind} x{count}" for kind, count in sorted(self.failures.items()))
                parts.append(f"connection failures: {listed}")
        return ", ".join(parts)


def reconnect_loop(
    connect_once: Callable[[], Generator[SourceItem, None, float]],
    *,
    stop: threading.Event,
    sleep: Sleep,
    stats: LiveStats,
    name: str,
) -> Iterator[SourceItem]:
    """Yield the items of one connection after another until ``stop`` is set.

    Each connection returns the seconds to wait before the next one, and a
    stop request during that wait ends the loop.
    """
    delay: float | None = None
    while not stop.is_set():
        if delay is not None:
            stats.add("reconnects")
            if delay > 0:
                LOG.info("Reconnecting to %s in %.2f s", name, delay)
                sleep(delay)
                if stop.is_set():
                    break
        delay = yield from connect_once()


class RateLimitedLog:
    """Logs the first ``first`` messages of each kind, then one in ``every``, so a bad stream does not flood the log."""

    def __init__(self, logger: logging.Logger, first: int = 20, every: int = 1000) -> None:
        self._logger = logger
        self._first = first
        self._every = every
        self._counts: Counter[str] = Counter()

    def warning(self, kind: str, message: str, *args: object) -> None:
        self._counts[kind] += 1
        count = self._counts[kind]
        if count <= self._first or count % self._every == 0:
            suffix = f" ({count} of this kind so far)" if count > self._first else ""
            self._logger.warning(message + suffix, *args)

