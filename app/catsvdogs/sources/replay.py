"""Replay of recorded tweet files of any supported format: pacing by the original gaps, timestamp shifting, provenance.

Pacing: a tweet recorded ``d`` seconds after the first one of a pass is sent
``d / speed`` seconds after the pass started. With no speed (``--speed max``)
nothing waits. Unless timestamps are kept, ``created_at`` is moved so the
first tweet of each pass is "now" and the others follow at the paced gaps,
so a dashboard of recent minutes fills as the replay runs.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from catsvdogs.producer.batcher import reject_oversize
from catsvdogs.records import PROVENANCE_KEY, FilePosition, Origin, OutgoingRecord, RejectedInput, SkippedInput, SourceItem
from catsvdogs.sources.recorded import FileReport, TweetFilter, TweetMessage, find_latest_versions, read_file
from catsvdogs.transform.tweet import NotATweet, check_message

LOG = logging.getLogger(__name__)

SOURCE_NAME = "replay"

PASS_LOG_SECONDS = 10.0
"""Minimum seconds between the INFO lines of --loop passes. The passes in between log at DEBUG."""


@dataclass(frozen=True)
class ReplayOptions:
    """How to replay: ``speed`` None means as fast as possible; ``format`` None means detect it per file."""

    speed: float | None = None
    loop: bool = False
    keep_timestamps: bool = False
    format: str | None = None
    allow_duplicates: bool = False


@dataclass(frozen=True)
class RunTag:
    """The replay run and pass that send a record, written into its provenance.

    ``--resume`` continues the run id and pass of the checkpoint, so a record that
    a resumed run sends again has the same tag as its first copy. ``catsvdogs
    reindex`` then recognises the two documents as one record.
    """

    run_id: str
    pass_number: int


def new_run_id() -> str:
    """Return a random run id of 12 hex digits."""
    return uuid.uuid4().hex[:12]


def parse_timestamp(value: str) -> datetime:
    """Parse an X API timestamp such as 2025-03-14T16:02:11.000Z into an aware UTC datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def format_timestamp(value: datetime) -> str:
    """Format a datetime as ISO 8601 UTC with milliseconds and a Z, as the X API does."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class Pacer:
    """Maps recorded times to send times and shifted timestamps for one pass over the files."""

    def __init__(self, options: ReplayOptions, stop: threading.Event, clock: Callable[[], float] = time.time) -> None:
        self.options = options
        self.stop = stop
        self.clock = clock
        self.first_recorded: datetime | None = None
        self.pass_started = 0.0

    def start_pass(self) -> None:
        self.first_recorded = None
        self.pass_started = self.clock()

    def place(self, recorded: datetime | None) -> datetime | None:
        """Wait until ``recorded`` is due, then return the timestamp the tweet should carry (None: keep it)."""
        if recorded is None:
            return None
        if self.first_recorded is None:
            self.first_recorded = recorded
        offset = max(0.0, (recorded - self.first_recorded).total_seconds())
        if self.options.speed:
            offset /= self.options.speed
            delay = self.pass_started + offset - self.clock()
            if delay > 0:
                self.stop.wait(delay)
        if self.options.keep_timestamps:
            return None
        return datetime.fromtimestamp(self.pass_started, timezone.utc) + timedelta(seconds=offset)


def build_record(message: dict[str, Any], origin: Origin, shifted: datetime | None, run: RunTag | None = None) -> bytes:
    """Serialise a message with its provenance block, as one JSON line for Firehose."""
    if shifted is not None:
        message["data"]["created_at"] = format_timestamp(shifted)
    message[PROVENANCE_KEY] = {
        "source": SOURCE_NAME,
        "file": origin.file,
        "line": origin.line,
        "read_at": format_timestamp(datetime.now(timezone.utc)),
    }
    if run is not None:
        message[PROVENANCE_KEY]["run_id"] = run.run_id
        message[PROVENANCE_KEY]["pass_number"] = run.pass_number
    return (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def replay_file(
    path: Path,
    pacer: Pacer,
    *,
    forced_format: str | None = None,
    tweet_filter: TweetFilter | None = None,
    resume_from: FilePosition | None = None,
    run: RunTag | None = None,
    log_level: int = logging.INFO,
) -> Iterator[SourceItem]:
    """Yield a record, a rejection or a skipped duplicate for each tweet or bad record of one file.

    The format is detected from the content unless ``forced_format`` names one.
    ``resume_from`` is where an earlier run stopped (``--resume``): the items
    before it are not yielded again. Their tweets still go through
    ``tweet_filter``, so that a repeat of one of them later in the input is
    skipped as it was in the earlier run. ``log_level`` is the level of the
    file's summary lines. Below INFO, it is also the level of the error of a
    file that cannot be read, which is otherwise ERROR.
    """
    name = str(path)
    # A quiet --loop pass logs a missing or unreadable file at DEBUG, because an earlier pass logged it at ERROR.
    error_level = logging.ERROR if log_level >= logging.INFO else log_level
    report = FileReport(name)
    done_line, done_items = (resume_from.line, resume_from.items) if resume_from else (0, 0)
    if resume_from:
        LOG.info(
            "%s: skipping what the checkpoint marks as sent or rejected: the lines before line %d and %d items of it",
            name,
            done_line,
            done_items,
        )
    for item in read_file(path, forced_format, report):
        if pacer.stop.is_set():
            return
        line = item.origin.line
        if 0 < line < done_line or (line == done_line and done_items > 0):
            skipped_as_duplicate = filter_done_item(item, tweet_filter)
            if line == done_line and not skipped_as_duplicate:
                done_items -= 1
            continue
        if isinstance(item, RejectedInput):
            if item.origin.line == 0:
                LOG.log(error_level, "%s: %s", name, item.reason)
            yield item
            continue
        reason = tweet_filter.skip_reason(item.message) if tweet_filter is not None else None
        if reason is not None:
            yield SkippedInput(item.origin, reason)
            continue
        record = outgoing_record(item, pacer, run)
        if tweet_filter is not None and isinstance(record, OutgoingRecord) and reject_oversize(record) is None:
            tweet_filter.remember(item.message)
        yield record
    if report.blank_lines:
        LOG.log(log_level, "%s: skipped %d blank keep-alive lines", name, report.blank_lines)
    LOG.log(
        log_level,
        "%s: read %d records as %s: %d tweets, %d rejected",
        name,
        report.records,
        report.format or "an unknown format",
        report.tweets,
        sum(report.rejected.values()),
    )


def filter_done_item(item: SourceItem, tweet_filter: TweetFilter | None) -> bool:
    """Pass an item that an earlier run already handled through ``tweet_filter``, and return True for a skipped repeat.

    A tweet that the earlier run sent is remembered, so that its repeats later
    in the input are skipped as they were in that run.
    """
    if not isinstance(item, TweetMessage) or tweet_filter is None:
        return False
    if tweet_filter.skip_reason(item.message) is not None:
        return True
    # NOTE: a tweet that the earlier run rejected for its encoding or size counts as sent here.
    if passes_transform_checks(item.message):
        tweet_filter.remember(item.message)
    return False


def passes_transform_checks(message: dict[str, Any]) -> bool:
    """Return True if the transform would index ``message`` rather than turn it into an error document."""
    try:
        check_message(message)
    except NotATweet:
        return False
    return True


def outgoing_record(item: TweetMessage, pacer: Pacer, run: RunTag | None) -> OutgoingRecord | RejectedInput:
    """Build the record of one tweet, or reject a tweet that the transform would turn into an error document."""
    try:
        check_message(item.message)
    except NotATweet as error:
        return RejectedInput(item.origin, f"rejected by the transform: {error.reason}")
    try:
        data = build_record(item.message, item.origin, pacer.place(item.created_at), run)
    except OverflowError:
        return RejectedInput(
            item.origin,
            f"created_at out of range: {format_timestamp(item.created_at)} is so far after the first tweet's "
            "that the replay's shifted timestamp would pass the year 9999; correct the date, or replay with "
            "--keep-timestamps to keep every date as recorded",
        )
    except UnicodeEncodeError as error:
        # JSON allows an escaped lone surrogate such as \ud83d, which no UTF-8 record can carry.
        character = error.object[error.start : error.end] if isinstance(error.object, str) else ""
        escapes = "".join(f"\\u{ord(char):04x}" for char in character)
        return RejectedInput(item.origin, f"invalid Unicode: an unpaired UTF-16 surrogate {escapes} cannot be encoded as UTF-8")
    return OutgoingRecord(data, item.origin, read_at=time.monotonic())


def replay(
    paths: Sequence[Path],
    options: ReplayOptions,
    stop: threading.Event,
    *,
    resume_from: Mapping[str, FilePosition] | None = None,
    run_id: str | None = None,
    first_pass: int = 1,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[SourceItem]:
    """Yield the items of every file in order; with ``loop``, start again until ``stop`` is set.

    A first pass over the files finds the latest version of each edited tweet,
    so that earlier versions are skipped. Repeated tweet ids are skipped within
    each pass unless ``options.allow_duplicates`` is set. ``resume_from`` maps
    a file, named as in ``paths``, to the position an earlier run reached; the
    first pass starts each file there. Every record carries ``run_id`` (a new
    one when None) and its pass number, counted from ``first_pass``.

    The first pass logs its start and file summaries at INFO. Later passes do
    so only once ``PASS_LOG_SECONDS`` of ``clock`` have gone by since the last
    INFO pass, and otherwise at DEBUG, so that looping over a small file at
    full speed does not flood the log.
    """
    if stop.is_set():
        return
    latest_versions = find_latest_versions(paths, options.format)
    if latest_versions:
        LOG.info("Found %d edited tweets; only their latest versions will be sent", len(latest_versions))
    tweet_filter = TweetFilter(latest_versions, allow_duplicates=options.allow_duplicates)
    pacer = Pacer(options, stop)
    run_id = run_id or new_run_id()
    passes = 0
    last_info_at: float | None = None
    quiet_passes = 0
    while not stop.is_set():
        passes += 1
        run = RunTag(run_id, first_pass + passes - 1)
        now = clock()
        if last_info_at is None or now - last_info_at >= PASS_LOG_SECONDS:
            log_level = logging.INFO
            since = f", {quiet_passes} passes logged at DEBUG since the last one" if quiet_passes else ""
            last_info_at, quiet_passes = now, 0
        else:
            log_level = logging.DEBUG
            since = ""
            quiet_passes += 1
        LOG.log(log_level, "Replay pass %d over %d file(s) started (run %s%s)", run.pass_number, len(paths), run_id, since)
        pacer.start_pass()
        tweet_filter.reset()
        records = 0
        for path in paths:
            start = resume_from.get(str(path)) if resume_from and passes == 1 else None
            items = replay_file(
                path,
                pacer,
                forced_format=options.format,
                tweet_filter=tweet_filter,
                resume_from=start,
                run=run,
                log_level=log_level,
            )
            for item in items:
                records += isinstance(item, OutgoingRecord)
                yield item
            if stop.is_set():
                break
        if not options.loop:
            break
        if records == 0 and not (passes == 1 and resume_from):
            LOG.error("Replay pass %d sent no record; stopping the loop instead of repeating it", passes)
            break
    LOG.info("Replay stopped after %d pass(es)", passes)
