"""Live source: Bluesky posts from Jetstream over WebSocket, resumed from a cursor, with endpoint failover.

Jetstream needs no account. It has no server-side text filter, so every post
arrives and the hashtag filter runs here, with the vocabulary of the transform.

Resume: each event carries ``time_us``, the microsecond time at which the
Jetstream instance received it. After a disconnect the next connection
requests ``cursor = time_us of the last event handled - resume_overlap``.
Jetstream replays from there, so events already handled arrive again. They are
dropped by their key (a post's URI) from a window of the last
``dedupe_capacity`` keys. Nothing is dropped by its time, because an instance
whose clock lags may send events older than the cursor that were never seen.
The overlap covers instances whose clocks differ, because each instance stamps
``time_us`` on its own.

Failover and backoff: a connection that handed over a new event, or stayed
open for ``productive_after`` seconds, is reconnected at once to the same
endpoint when it drops. Every other failure moves to the next endpoint of the
list. The first such failure retries at once, then the waits are 1, 2, 4 ...
seconds, up to ``backoff_max``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect

from catsvdogs.config import url_problem
from catsvdogs.formats.jetstream import POST_COLLECTION, SOURCE_NAME, BadLine, event_key, parse_event, post_messages
from catsvdogs.records import Origin, RejectedInput, SourceItem
from catsvdogs.sources.live import Clock, LiveStats, RateLimitedLog, Sleep, build_live_record, reconnect_loop
from catsvdogs.sources.recent_keys import RecentKeys
from catsvdogs.sources.recorder import Recorder
from catsvdogs.transform.category import Vocabulary

LOG = logging.getLogger(__name__)

ENDPOINTS_VARIABLE = "BLUESKY_JETSTREAM_URLS"
DEFAULT_ENDPOINTS = (
    "wss://jetstream1.us-east.bsky.network/subscribe",
    "wss://jetstream2.us-east.bsky.network/subscribe",
    "wss://jetstream1.us-west.bsky.network/subscribe",
    "wss://jetstream2.us-west.bsky.network/subscribe",
)
DEFAULT_STALL_TIMEOUT = 60.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_PRODUCTIVE_AFTER = 30.0
DEFAULT_RESUME_OVERLAP = 5.0
DEFAULT_DEDUPE_CAPACITY = 100_000
MAX_MESSAGE_BYTES = 2 * 1024 * 1024
"""Sent as maxMessageSizeBytes, so Jetstream skips larger messages instead of sending them."""
RECEIVE_LIMIT_BYTES = 16 * 1024 * 1024
"""Largest message received, above MAX_MESSAGE_BYTES so that a server which ignores that limit does not close every
connection on the same message. Posts over Firehose's record limit are rejected by the producer."""
POLL_SECONDS = 0.25


class JetstreamConfigError(ValueError):
    """An endpoint list that cannot be used; the message names the bad entry."""


def load_endpoints(environ: Mapping[str, str] | None = None) -> list[str]:
    """Return the comma-separated ws:// or wss:// URLs of BLUESKY_JETSTREAM_URLS, or the public instances."""
    env = os.environ if environ is None else environ
    value = env.get(ENDPOINTS_VARIABLE, "").strip()
    endpoints = [url.strip() for url in value.split(",") if url.strip()] if value else list(DEFAULT_ENDPOINTS)
    for url in endpoints:
        problem = url_problem(url, ("ws", "wss"))
        if problem is not None:
            raise JetstreamConfigError(f"{ENDPOINTS_VARIABLE}: {url!r} is not a usable URL: {problem}")
    return endpoints


def subscribe_url(endpoint: str, cursor: int | None) -> str:
    """Add the post collection, the message size limit and the cursor to an endpoint's query."""
    parts = urlsplit(endpoint)
    query = [(key, value) for key, value in parse_qsl(parts.query) if key not in ("cursor", "wantedCollections")]
    query.append(("wantedCollections", POST_COLLECTION))
    if not any(key == "maxMessageSizeBytes" for key, _ in query):
        query.append(("maxMessageSizeBytes", str(MAX_MESSAGE_BYTES)))
    if cursor is not None:
        query.append(("cursor", str(cursor)))
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass
class FailoverSchedule:
    """Endpoint choice and waits between connections."""

    endpoints: Sequence[str]
    backoff_start: float = 1.0
    backoff_max: float = 30.0
    index: int = 0
    _failures: int = field(default=0, init=False)

    @property
    def endpoint(self) -> str:
        return self.endpoints[self.index]

    def after_productive_connection(self) -> float:
        """Stay on this endpoint and reconnect at once."""
        self._failures = 0
        return 0.0

    def after_failure(self) -> float:
        """Move to the next endpoint and return the wait before connecting to it."""
        self._failures += 1
        self.index = (self.index + 1) % len(self.endpoints)
        if self._failures == 1:
            return 0.0
        return min(self.backoff_start * 2 ** (self._failures - 2), self.backoff_max)


class StreamStalled(Exception):
    """No message arrived within the stall timeout."""


@dataclass
class _Connection:
    opened_at: float
    new_events: int = 0


class JetstreamSource:
    """Yields matching Bluesky posts as records until ``stop`` is set.

    With a ``recorder``, every text message is recorded as received, except
    events dropped as already handled, so replaying the recording produces the
    same tweets. Messages that are not Jetstream events are yielded as
    RejectedInput, as the replay of the recording would reject them.
    """

    def __init__(
        self,
        endpoints: Sequence[str],
        *,
        stop: threading.Event,
        vocabulary: Vocabulary,
        recorder: Recorder | None = None,
        cursor: int | None = None,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        productive_after: float = DEFAULT_PRODUCTIVE_AFTER,
        resume_overlap: float = DEFAULT_RESUME_OVERLAP,
        dedupe_capacity: int = DEFAULT_DEDUPE_CAPACITY,
        schedule: FailoverSchedule | None = None,
        sleep: Sleep | None = None,
        clock: Clock = time.monotonic,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        if not endpoints:
            raise JetstreamConfigError("no Jetstream endpoint configured")
        self.stop = stop
        self.vocabulary = vocabulary
        self.recorder = recorder
        self.last_time_us: int | None = None
        self.initial_cursor = cursor
        self.stall_timeout = stall_timeout
        self.connect_timeout = connect_timeout
        self.productive_after = productive_after
        self.resume_overlap_us = int(resume_overlap * 1_000_000)
        self.schedule = schedule or FailoverSchedule(list(endpoints))
        self.sleep: Sleep = sleep or stop.wait
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.stats = LiveStats()
        self.seen = RecentKeys(dedupe_capacity)
        self.connection_urls: list[str] = []
        self._warnings = RateLimitedLog(LOG)
        self._websocket: ClientConnection | None = None
        self._lock = threading.Lock()

    def resume_cursor(self) -> int | None:
        """Return the cursor for the next connection: the overlap before the last event handled, or the initial one."""
        if self.last_time_us is None:
            return self.initial_cursor
        return max(0, self.last_time_us - self.resume_overlap_us)

    def close(self) -> None:
        """Close the connection from another thread, so the source notices ``stop`` at once."""
        with self._lock:
            websocket = self._websocket
        if websocket is not None:
            websocket.close()

    def __iter__(self) -> Iterator[SourceItem]:
        return self.items()

    def items(self) -> Iterator[SourceItem]:
        LOG.info("Bluesky Jetstream: %d endpoint(s), first %s", len(self.schedule.endpoints), self.schedule.endpoint)
        try:
            yield from reconnect_loop(self._connect_once, stop=self.stop, sleep=self.sleep, stats=self.stats, name="Jetstream")
        finally:
            LOG.info("Bluesky Jetstream stopped: %s; last time_us %s", self.stats.describe(), self.last_time_us)

    def _connect_once(self) -> Generator[SourceItem, None, float]:
        """Run one connection and return the wait before the next one."""
        endpoint = self.schedule.endpoint
        cursor = self.resume_cursor()
        url = subscribe_url(endpoint, cursor)
        self.connection_urls.append(url)
        with contextlib.ExitStack() as cleanup:
            try:
                websocket = cleanup.enter_context(
                    connect(
                        url,
                        open_timeout=self.connect_timeout,
                        close_timeout=2,
                        max_size=RECEIVE_LIMIT_BYTES,
                        user_agent_header="catsvdogs (Jetstream client)",
                    )
                )
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as error:
                self.stats.add_failure("connect")
                delay = self.schedule.after_failure()
                LOG.warning("Connecting to %s failed: %s: %s", endpoint, type(error).__name__, error)
                return delay

            self.stats.add("connections")
            LOG.info("Connected to %s (connection %d, cursor %s)", endpoint, self.stats.connections, cursor)
            connection = _Connection(opened_at=self.clock())
            with self._lock:
                self._websocket = websocket
            try:
                yield from self._receive(websocket, connection)
                kind, reason = "closed", "stopped"
            except ConnectionClosed as error:
                kind, reason = "closed", f"connection closed: {error}"
            except StreamStalled:
                kind, reason = "stall", f"no message for {self.stall_timeout:g} s, counted as a stall"
            except OSError as error:
                kind, reason = "network", f"{type(error).__name__}: {error}"
            finally:
                with self._lock:
                    self._websocket = None

        if self.stop.is_set():
            return 0.0
        self.stats.add_failure(kind)
        productive = connection.new_events > 0 or self.clock() - connection.opened_at >= self.productive_after
        if productive:
            LOG.warning("Jetstream %s disconnected (%s); resuming at once from cursor %s", endpoint, reason, self.resume_cursor())
            return self.schedule.after_productive_connection()
        delay = self.schedule.after_failure()
        LOG.warning("Jetstream %s disconnected (%s) before sending a new event; trying %s", endpoint, reason, self.schedule.endpoint)
        return delay

    def _receive(self, websocket: ClientConnection, connection: _Connection) -> Iterator[SourceItem]:
        last_message = self.clock()
        while not self.stop.is_set():
            try:
                frame = websocket.recv(timeout=self.poll_seconds)
            except TimeoutError:
                if self.clock() - last_message >= self.stall_timeout:
                    raise StreamStalled from None
                continue
            last_message = self.clock()
            yield from self._handle_frame(frame, connection)

    def _handle_frame(self, frame: str | bytes, connection: _Connection) -> Iterator[SourceItem]:
        self.stats.add("messages")
        origin = Origin(SOURCE_NAME, 0)
        if isinstance(frame, bytes):
            self.stats.add("invalid_messages")
            self._warnings.warning("binary", "Jetstream sent a binary message of %d bytes; only JSON text is read", len(frame))
            return
        try:
            event = parse_event(frame)
        except BadLine as error:
            self.stats.add("invalid_messages")
            self._record(frame)
            yield RejectedInput(origin, str(error))
            return

        time_us = event.get("time_us")
        key = event_key(event)
        if key in self.seen:
            self.stats.add("duplicates_dropped")
            return
        if self.stop.is_set():
            return
        self.seen.add(key)
        if time_us is not None:
            # The last event, not the latest time: one event stamped in the future would skip real ones.
            self.last_time_us = time_us
        connection.new_events += 1
        self._record(frame)

        try:
            messages = post_messages(event, self.vocabulary)
        except BadLine as error:
            self.stats.add("invalid_messages")
            yield RejectedInput(origin, str(error))
            return
        if not messages:
            self.stats.add("filtered_out")
            return
        for message in messages:
            self.stats.add("posts_sent")
            yield build_live_record(message, SOURCE_NAME)

    def _record(self, frame: str) -> None:
        if self.recorder is not None:
            self.recorder.write(frame)
