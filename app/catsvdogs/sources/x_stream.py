"""Live source: the X API v2 filtered stream, with stall detection, X's reconnect backoff and duplicate dropping.

Reconnect schedule, as X's guide to handling disconnections recommends:

- after a connection that delivered a new post, or stayed open for
  ``productive_after`` seconds, drops: reconnect at once;
- network errors (refused, reset, cut mid-message, closed by the server, or no
  bytes for ``stall_timeout`` seconds): wait 0.25 s more on each consecutive
  failure, up to 16 s;
- HTTP errors: wait 5 s, doubling on each consecutive one, up to 320 s;
- HTTP 429 and 420: wait 60 s, doubling, up to 960 s, and at least until the
  ``x-rate-limit-reset`` time when it is sooner than that maximum;
- HTTP 400, 401, 403 and 404: stop with an error that says what to do.

The filtered stream has no cursor on the pay-per-use plan, so posts published
while disconnected are missed. Tweet ids of the last ``dedupe_capacity``
posts are kept, so a post that X sends again (with ``backfill_minutes``, on the
plans that have it) is dropped instead of sent twice.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field

import requests
import urllib3

from catsvdogs.formats.v2_stream import BadLine, parse_message
from catsvdogs.records import Origin, RejectedInput, SourceItem
from catsvdogs.sources.live import Clock, LiveStats, RateLimitedLog, Sleep, build_live_record, reconnect_loop
from catsvdogs.sources.recent_keys import RecentKeys
from catsvdogs.sources.recorder import Recorder
from catsvdogs.sources.x_client import MAX_ERROR_BODY_BYTES, XApiClient, describe_http_error, redact, summarize_error_body

LOG = logging.getLogger(__name__)

SOURCE_NAME = "x"
DEFAULT_STALL_TIMEOUT = 90.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_PRODUCTIVE_AFTER = 30.0
DEFAULT_DEDUPE_CAPACITY = 100_000
READ_SIZE = 64 * 1024
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Maximum bytes of a line kept while waiting for its end.

Stream messages are far smaller, so a longer line means a broken stream.
"""

FATAL_STATUSES = frozenset({400, 401, 403, 404})
RATE_LIMIT_STATUSES = frozenset({420, 429})


class MessageTooLong(OSError):
    """A line grew past the size limit without a newline; the connection is dropped like a broken one."""


class XStreamError(Exception):
    """The stream cannot continue, for example because the token was rejected; the message gives the fix."""


@dataclass
class ReconnectSchedule:
    """Waits before reconnecting, by the kind of the last failure, as X's guide to disconnections describes."""

    network_step: float = 0.25
    network_max: float = 16.0
    http_start: float = 5.0
    http_max: float = 320.0
    rate_limit_start: float = 60.0
    rate_limit_max: float = 960.0
    _network_failures: int = field(default=0, init=False)
    _http_failures: int = field(default=0, init=False)
    _rate_limit_failures: int = field(default=0, init=False)

    def after_productive_connection(self) -> float:
        """Reset every backoff; the next connection is attempted at once."""
        self._network_failures = self._http_failures = self._rate_limit_failures = 0
        return 0.0

    def after_connected(self) -> None:
        """Reset the HTTP backoffs, because the server accepted a connection again."""
        self._http_failures = self._rate_limit_failures = 0

    def after_network_error(self) -> float:
        self._network_failures += 1
        return min(self.network_step * self._network_failures, self.network_max)

    def after_http_error(self) -> float:
        self._http_failures += 1
        return min(self.http_start * 2 ** (self._http_failures - 1), self.http_max)

    def after_rate_limit(self, seconds_until_reset: float | None = None) -> float:
        self._rate_limit_failures += 1
        wait = min(self.rate_limit_start * 2 ** (self._rate_limit_failures - 1), self.rate_limit_max)
        if seconds_until_reset is not None and seconds_until_reset > wait:
            wait = min(seconds_until_reset, self.rate_limit_max)
        return wait


@dataclass
class _Connection:
    """State of one connection: when it opened and how many new posts it delivered."""

    opened_at: float
    new_posts: int = 0


class XStream:
    """Yields the posts of the filtered stream as records until ``stop`` is set or an unrecoverable error.

    Error-only messages and lines that are not tweets are yielded as
    RejectedInput, so the producer counts and logs them like bad replay lines.
    With a ``recorder``, every complete message line is recorded before its
    record is yielded, except posts dropped as duplicates, so replaying the
    recording produces the same tweets.
    """

    def __init__(
        self,
        client: XApiClient,
        *,
        stop: threading.Event,
        params: Mapping[str, str],
        recorder: Recorder | None = None,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        productive_after: float = DEFAULT_PRODUCTIVE_AFTER,
        dedupe_capacity: int = DEFAULT_DEDUPE_CAPACITY,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        schedule: ReconnectSchedule | None = None,
        sleep: Sleep | None = None,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
    ) -> None:
        self.client = client
        self.stop = stop
        self.params = dict(params)
        self.recorder = recorder
        self.stall_timeout = stall_timeout
        self.connect_timeout = connect_timeout
        self.productive_after = productive_after
        self.max_message_bytes = max_message_bytes
        self.schedule = schedule or ReconnectSchedule()
        self.sleep: Sleep = sleep or stop.wait
        self.clock = clock
        self.wall_clock = wall_clock
        self.stats = LiveStats()
        self.seen_ids = RecentKeys(dedupe_capacity)
        self._warnings = RateLimitedLog(LOG)
        self._response: requests.Response | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Interrupt a blocking read from another thread, so the source notices ``stop`` at once."""
        with self._lock:
            response = self._response
        if response is None:
            return
        shutdown = getattr(response.raw, "shutdown", None)  # urllib3 2.3 and later
        try:
            if shutdown is not None:
                shutdown()
            else:
                response.close()
        except (OSError, ValueError, RuntimeError) as error:
            LOG.debug("Closing the X stream connection: %s", error)

    def __iter__(self) -> Iterator[SourceItem]:
        return self.items()

    def items(self) -> Iterator[SourceItem]:
        LOG.info("X filtered stream: connecting to %s", self.client.stream_url())
        try:
            yield from reconnect_loop(self._connect_once, stop=self.stop, sleep=self.sleep, stats=self.stats, name="the X stream")
        finally:
            LOG.info("X filtered stream stopped: %s", self.stats.describe())

    def _connect_once(self) -> Generator[SourceItem, None, float]:
        """Run one connection and return the wait before the next one."""
        try:
            response = self.client.open_stream(
                self.params, connect_timeout=self.connect_timeout, stall_timeout=self.stall_timeout
            )
        except requests.RequestException as error:
            return self._network_failure("connect", error)

        with response:
            if response.status_code != 200:
                return self._http_failure(response)
            self.schedule.after_connected()
            self.stats.add("connections")
            LOG.info("Connected to the X filtered stream (connection %d)", self.stats.connections)
            connection = _Connection(opened_at=self.clock())
            with self._lock:
                self._response = response
            try:
                yield from self._read(response, connection)
                kind, reason = "closed", "the server ended the stream"
            except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as error:
                if self.stop.is_set():
                    return 0.0
                kind, reason = classify_network_error(error, self.stall_timeout)
            finally:
                with self._lock:
                    self._response = None
                # Never reuse a stream connection: the server may be closing it.
                response.raw.close()

        if self.stop.is_set():
            return 0.0
        productive = connection.new_posts > 0 or self.clock() - connection.opened_at >= self.productive_after
        self.stats.add_failure(kind)
        if productive:
            LOG.warning("X stream disconnected (%s); reconnecting at once", reason)
            return self.schedule.after_productive_connection()
        delay = self.schedule.after_network_error()
        LOG.warning("X stream disconnected (%s) before delivering a new post", reason)
        return delay

    def _network_failure(self, stage: str, error: Exception) -> float:
        self.stats.add_failure("network")
        message = redact(f"{type(error).__name__}: {error}", self.client.bearer_token)
        LOG.warning("X stream %s failed: %s", stage, message)
        return self.schedule.after_network_error()

    def _http_failure(self, response: requests.Response) -> float:
        status = response.status_code
        body = redact(_read_error_body(response), self.client.bearer_token)
        self.stats.add_failure(f"HTTP {status}")
        if status in FATAL_STATUSES:
            raise XStreamError(describe_http_error(status, body, "connecting to the X filtered stream"))
        summary = summarize_error_body(body)
        if status in RATE_LIMIT_STATUSES:
            delay = self.schedule.after_rate_limit(self._seconds_until_reset(response))
        else:
            delay = self.schedule.after_http_error()
        LOG.error("X stream connection failed: HTTP %d %s%s", status, response.reason, f": {summary}" if summary else "")
        return delay

    def _seconds_until_reset(self, response: requests.Response) -> float | None:
        header = response.headers.get("x-rate-limit-reset", "")
        try:
            return float(int(header)) - self.wall_clock()
        except ValueError:
            return None

    def _read(self, response: requests.Response, connection: _Connection) -> Iterator[SourceItem]:
        buffer = b""
        while not self.stop.is_set():
            chunk = response.raw.read1(READ_SIZE, decode_content=True)
            if not chunk:
                break
            buffer += chunk
            while True:
                end = buffer.find(b"\n")
                if end < 0:
                    break
                line, buffer = buffer[:end].rstrip(b"\r"), buffer[end + 1 :]
                if self.stop.is_set():
                    return
                yield from self._handle_line(line, connection)
            if len(buffer) > self.max_message_bytes:
                self.stats.add("invalid_messages")
                raise MessageTooLong(f"a line longer than {self.max_message_bytes} bytes without an end")
        if buffer.strip():
            self.stats.add("invalid_messages")
            self._warnings.warning(
                "cut off", "X stream ended mid-message: dropped the %d bytes received of the last message", len(buffer)
            )

    def _handle_line(self, line: bytes, connection: _Connection) -> Iterator[SourceItem]:
        if not line.strip():
            self.stats.add("keep_alives")
            return
        self.stats.add("messages")
        origin = Origin(SOURCE_NAME, 0)
        try:
            message = parse_message(line.decode("utf-8"))
        except UnicodeDecodeError as error:
            self.stats.add("invalid_messages")
            self._record(line)
            yield RejectedInput(origin, f"invalid UTF-8 at byte {error.start} of the message")
            return
        except BadLine as error:
            self._count_error_message(line)
            self._record(line)
            yield RejectedInput(origin, str(error))
            return

        tweet_id = message["data"]["id"]
        if self.stop.is_set():
            return
        if tweet_id in self.seen_ids:
            self.stats.add("duplicates_dropped")
            LOG.debug("Dropped tweet %s: already sent", tweet_id)
            return
        self.seen_ids.add(tweet_id)
        connection.new_posts += 1
        self._record(line)
        self.stats.add("posts_sent")
        yield build_live_record(message, SOURCE_NAME)

    def _count_error_message(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            message = None
        errors = message.get("errors") if isinstance(message, dict) and "data" not in message else None
        if not isinstance(errors, list):
            self.stats.add("invalid_messages")
            return
        for error in errors:
            title = str(error.get("title") or error.get("type") or "error") if isinstance(error, dict) else "error"
            self.stats.add_error_message(title)
            detail = error.get("detail", "") if isinstance(error, dict) else ""
            self._warnings.warning(f"error message {title}", "X stream sent an error message: %s: %s", title, detail)

    def _record(self, line: bytes) -> None:
        if self.recorder is not None:
            self.recorder.write(line)


def _read_error_body(response: requests.Response) -> str:
    try:
        return response.raw.read(MAX_ERROR_BODY_BYTES, decode_content=True).decode("utf-8", "replace")
    except (urllib3.exceptions.HTTPError, requests.RequestException, OSError):
        return ""


def classify_network_error(error: BaseException, stall_timeout: float) -> tuple[str, str]:
    """Return the kind of a read failure (stall, cut or network) and a description in plain words."""
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, (urllib3.exceptions.ReadTimeoutError, requests.Timeout, TimeoutError)):
        return "stall", f"no data for {stall_timeout:g} s, counted as a stall"
    if isinstance(error, (urllib3.exceptions.ProtocolError, requests.exceptions.ChunkedEncodingError)):
        return "cut", f"connection cut mid-response: {text}"
    return "network", text
