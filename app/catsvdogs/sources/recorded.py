"""Recorded tweet files of any supported format, read as v2 stream messages with their file:line.

``read_file`` detects each file's framing and format from its content (see
``catsvdogs.formats.detect``), or takes the format that ``--format`` forces,
and yields one TweetMessage per tweet and one RejectedInput per unusable
record. Nothing stops a file early except an error after which the rest of it
cannot be read (a missing file, corrupt gzip data, invalid JSON inside an
archive array), and that error is yielded as a rejection too.

``TweetFilter`` drops what must not be counted twice within one run: a tweet
id read before (unless duplicates are allowed) and a version of an edited
tweet older than the latest version in the input. ``find_latest_versions``
finds those latest versions in a first, cheap pass over the files.

Blank lines are the stream's keep-alives. They are counted in the file report
but are neither tweets nor rejections.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from contextlib import closing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from catsvdogs.formats import detect
from catsvdogs.formats.model import BadRecord, loads_line
from catsvdogs.formats.registry import FORMATS, RecordFormat
from catsvdogs.formats.v2_stream import FORMAT_NAME as V2_STREAM
from catsvdogs.formats.x_archive import FORMAT_NAME as X_ARCHIVE
from catsvdogs.records import Origin, RejectedInput
from catsvdogs.sources.files import UnreadableFile, read_lines
from catsvdogs.sources.json_values import read_json_values
from catsvdogs.sources.recent_keys import RecentKeys

# Non-blank lines kept in memory while the format of a file is still unknown.
_MAX_SNIFF_LINES = 1000

# An edit-history array with at least two ids, in v2 ("edit_history_tweet_ids"),
# v1.1 and activity streams ("edit_tweet_ids") or X archives ("editTweetIds").
EDITED_PATTERN = re.compile(r'(?:edit_history_tweet_ids|edit_tweet_ids|editTweetIds)"\s*:\s*\[[^\]]*,')


@dataclass(slots=True)
class TweetMessage:
    """One tweet as a v2 stream message, where it was read, and its ``created_at`` (None when the record has none)."""

    origin: Origin
    message: dict[str, Any]
    created_at: datetime | None


@dataclass
class FileReport:
    """Counts of reading one file: ``records`` are non-blank lines or array values, ``tweets`` the messages yielded."""

    path: str
    framing: str | None = None
    format: str | None = None
    records: int = 0
    blank_lines: int = 0
    tweets: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


def parse_created_at(value: str) -> datetime:
    """Parse an ISO 8601 ``created_at`` such as 2025-03-14T16:02:11.000Z into an aware UTC datetime."""
    parsed = datetime.fromisoformat(value)  # Python 3.11 and later accept the "Z" suffix
    if parsed.tzinfo is timezone.utc:
        return parsed
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def rejection_category(reason: str) -> str:
    category, _, _ = reason.partition(":")
    return category.strip() or reason


class _FileReader:
    """The state of reading one file: its format once known, and the report."""

    def __init__(self, path: Path, forced: RecordFormat | None, report: FileReport) -> None:
        self.path = path
        self.name = str(path)
        self.format = forced
        self.unknown = False
        self.report = report

    def reject(self, line: int, reason: str) -> RejectedInput:
        self.report.rejected[rejection_category(reason)] += 1
        return RejectedInput(Origin(self.name, line), reason)

    def convert(self, line: int, record: Any) -> list[TweetMessage | RejectedInput]:
        """Convert one decoded record with the file's format, or reject it with the reason."""
        if self.unknown:
            if detect.is_neutral(record):
                return self._convert_with(FORMATS[V2_STREAM], line, record)
            return [self.reject(line, f"unknown format: the record is {detect.describe(record)}; no known format matched")]
        assert self.format is not None
        return self._convert_with(self.format, line, record)

    def _convert_with(self, record_format: RecordFormat, line: int, record: Any) -> list[TweetMessage | RejectedInput]:
        # A list, not a generator: this runs once a record and generators cost more on this hot path.
        try:
            results = record_format.convert(record)
        except BadRecord as error:
            return [self.reject(line, self._reason(record_format, record, error))]
        items: list[TweetMessage | RejectedInput] = []
        for result in results:
            if isinstance(result, BadRecord):
                items.append(self.reject(line, str(result)))
                continue
            created_at = result["data"].get("created_at")
            try:
                recorded = parse_created_at(created_at) if created_at else None
            except ValueError as error:
                items.append(self.reject(line, f"invalid created_at {created_at!r}: {error}"))
                continue
            self.report.tweets += 1
            items.append(TweetMessage(Origin(self.name, line), result, recorded))
        return items

    @staticmethod
    def _reason(record_format: RecordFormat, record: Any, error: BadRecord) -> str:
        """Explain a rejection, naming the other format when the record belongs to one."""
        other = detect.classify(record)
        if other is not None and other != record_format.name and not detect.is_neutral(record):
            return f"mixed formats: this record is {other}, but the file is {record_format.name} ({error})"
        return str(error)

    def decide(self, records: list[Any]) -> None:
        """Set the format from sniffed records: the first that classify recognises wins."""
        for record in records:
            name = detect.classify(record)
            if name is not None and not detect.is_neutral(record):
                self.format = FORMATS[name]
                return
        if any(not detect.is_neutral(record) for record in records):
            self.unknown = True
        else:
            self.format = FORMATS[V2_STREAM]  # only error or control messages: read them as stream messages


def read_file(
    path: Path,
    forced_format: str | None = None,
    report: FileReport | None = None,
    line_filter: Callable[[str], Any] | None = None,
) -> Iterator[TweetMessage | RejectedInput]:
    """Yield the tweets and rejections of one file, in file order.

    ``forced_format`` is a name from ``FORMATS`` that replaces detection.
    ``line_filter`` applies to JSON Lines files only. A line for which it
    returns a false value is skipped before decoding and is not counted.
    ``report``, when given, receives the counts.
    """
    report = report if report is not None else FileReport(str(path))
    reader = _FileReader(path, FORMATS[forced_format] if forced_format else None, report)
    try:
        if _first_line_framing(path) == detect.JSON_SEQUENCE:
            report.framing = detect.JSON_SEQUENCE
            yield from _read_json_sequence(reader)
        else:
            report.framing = detect.LINES
            yield from _read_json_lines(reader, line_filter)
    except UnreadableFile as error:
        # A file cut off part way still has the format of the records read before the cut.
        if reader.format is not None:
            report.format = reader.format.name
        yield reader.reject(0, str(error).removeprefix(f"{path}: "))
        return
    if reader.format is not None:
        report.format = reader.format.name
    if report.records == 0:
        blank = f", only {report.blank_lines} blank lines" if report.blank_lines else ""
        yield reader.reject(0, f"empty file: no records{blank}")


def _first_line(path: Path) -> str:
    """Return the first non-blank line of ``path``, or "" if there is none or it is not UTF-8."""
    with closing(read_lines(path)) as lines:
        for line in lines:
            if line.text is None:
                return ""
            if line.text.strip():
                return line.text
    return ""


def _first_line_framing(path: Path) -> str:
    return detect.detect_framing(_first_line(path))


def _read_json_lines(reader: _FileReader, line_filter: Callable[[str], Any] | None) -> Iterator[TweetMessage | RejectedInput]:
    report = reader.report
    sniffed: list[tuple[int, Any]] = []  # (line, decoded record or BadRecord) while the format is unknown
    decoded = 0
    for line in read_lines(reader.path):
        text = line.text
        if text is None:
            report.records += 1
            reason = line.error or "invalid UTF-8"
            if not reason.startswith("invalid UTF-8:"):
                reason = "invalid UTF-8: " + reason.removeprefix("invalid UTF-8").strip()
            item: Any = BadRecord(reason)
        elif not text or text.isspace():
            report.blank_lines += 1
            continue
        elif line_filter is not None and not line_filter(text):
            continue
        else:
            report.records += 1
            try:
                item = json.loads(text)
            except (ValueError, RecursionError):  # including a UTF-8 byte order mark before the first line
                try:
                    item = loads_line(text.lstrip("\ufeff") if line.number == 1 else text, cut_off=line.cut_off)
                except BadRecord as error:
                    item = error

        if reader.format is None and not reader.unknown:
            sniffed.append((line.number, item))
            if not isinstance(item, BadRecord):
                decoded += 1
                undecided = detect.classify(item) is None or detect.is_neutral(item)
                if undecided and decoded < detect.SNIFF_RECORDS and len(sniffed) < _MAX_SNIFF_LINES:
                    continue
            elif len(sniffed) < _MAX_SNIFF_LINES:
                continue
            reader.decide([record for _, record in sniffed if not isinstance(record, BadRecord)])
            yield from _flush(reader, sniffed)
            sniffed = []
            continue
        yield from _one(reader, line.number, item)

    if sniffed:
        reader.decide([record for _, record in sniffed if not isinstance(record, BadRecord)])
        yield from _flush(reader, sniffed)


def _flush(reader: _FileReader, sniffed: list[tuple[int, Any]]) -> Iterator[TweetMessage | RejectedInput]:
    for number, item in sniffed:
        yield from _one(reader, number, item)


def _one(reader: _FileReader, number: int, item: Any) -> list[TweetMessage | RejectedInput]:
    if isinstance(item, BadRecord):
        return [reader.reject(number, str(item))]
    return reader.convert(number, item)


def _read_json_sequence(reader: _FileReader) -> Iterator[TweetMessage | RejectedInput]:
    report = reader.report
    sniffed: list[tuple[int, Any]] = []
    if reader.format is None and _starts_with_archive_assignment(reader.path):
        reader.format = FORMATS[X_ARCHIVE]
    for value in read_json_values(reader.path):
        if value.error is not None:
            report.records += 1
            yield from _flush_sequence(reader, sniffed)
            sniffed = []
            yield reader.reject(value.line, value.error)
            continue
        report.records += 1
        if reader.format is None and not reader.unknown:
            sniffed.append((value.line, value.value))
            undecided = detect.classify(value.value) is None or detect.is_neutral(value.value)
            if undecided and len(sniffed) < detect.SNIFF_RECORDS:
                continue
            yield from _flush_sequence(reader, sniffed)
            sniffed = []
            continue
        yield from reader.convert(value.line, value.value)
    yield from _flush_sequence(reader, sniffed)


def _flush_sequence(reader: _FileReader, sniffed: list[tuple[int, Any]]) -> Iterator[TweetMessage | RejectedInput]:
    if not sniffed:
        return
    if reader.format is None and not reader.unknown:
        reader.decide([record for _, record in sniffed])
    for number, record in sniffed:
        yield from reader.convert(number, record)


def _starts_with_archive_assignment(path: Path) -> bool:
    return detect.is_archive_assignment(_first_line(path))


def _edit_chain(data: dict[str, Any]) -> tuple[int | str, int | str]:
    """Return (first id of the edit chain, own id), as integers when they are numeric so that they compare by age."""
    tweet_id = data["id"]
    history = data.get("edit_history_tweet_ids")
    first = history[0] if isinstance(history, list) and history and isinstance(history[0], str) else tweet_id
    return (int(first) if first.isdigit() else first), (int(tweet_id) if tweet_id.isdigit() else tweet_id)


def find_latest_versions(paths: Iterable[Path], forced_format: str | None = None) -> dict[int | str, int | str]:
    """Map the first id of each edit chain in the files to the id of its latest version found there.

    Tweet ids are snowflakes that grow with time, so the latest version has the
    largest id. Only lines with an edit history of two or more ids are decoded,
    which keeps this pass much cheaper than reading the files. Files that
    cannot be read are skipped here; ``read_file`` reports them.
    """
    latest: dict[int | str, int | str] = {}
    for path in paths:
        for item in read_file(path, forced_format, line_filter=EDITED_PATTERN.search):
            if not isinstance(item, TweetMessage):
                continue
            history = item.message["data"].get("edit_history_tweet_ids")
            if not isinstance(history, list) or len(history) < 2:
                continue
            chain, tweet_id = _edit_chain(item.message["data"])
            known = latest.get(chain)
            if known is None or (type(known) is type(tweet_id) and tweet_id > known):  # type: ignore[operator]
                latest[chain] = tweet_id
    return latest


# Number of recent tweet ids remembered to recognise a repeat. A bounded window
# keeps memory flat on files of any size; 100,000 ids take about 13 MiB (see
# RecentKeys). A tweet repeated more than this many distinct tweets later is
# sent again.
DUPLICATE_WINDOW = 100_000


class TweetFilter:
    """Decides which tweets of one run are skipped: repeated ids and superseded edit versions.

    Repeats are recognised among the last ``window`` distinct tweet ids read.
    """

    def __init__(
        self,
        latest_versions: dict[int | str, int | str],
        *,
        allow_duplicates: bool = False,
        window: int = DUPLICATE_WINDOW,
    ) -> None:
        self.latest_versions = latest_versions
        self.allow_duplicates = allow_duplicates
        self.window = window
        self.seen = RecentKeys(window)

    def reset(self) -> None:
        """Forget the ids read, as at the start of a new replay pass."""
        self.seen = RecentKeys(self.window)

    def skip_reason(self, message: dict[str, Any]) -> str | None:
        """Return why the tweet of ``message`` is skipped, or None if it is to be sent and counted.

        Only ``remember`` marks a tweet as read, so that a copy that is rejected
        does not hide a later copy of the same tweet that is valid.
        """
        chain, tweet_id = _edit_chain(message["data"])
        latest = self.latest_versions.get(chain)
        if latest is not None and latest != tweet_id and type(latest) is type(tweet_id) and tweet_id < latest:  # type: ignore[operator]
            return f"earlier edit version: tweet {tweet_id} was edited, and version {latest} is in the input"
        if self.allow_duplicates:
            return None
        if tweet_id in self.seen:
            return f"duplicate tweet: tweet {tweet_id} was already read"
        return None

    def remember(self, message: dict[str, Any]) -> None:
        """Mark the tweet of ``message`` as sent, so that its repeats are skipped."""
        if not self.allow_duplicates:
            self.seen.add(_edit_chain(message["data"])[1])
