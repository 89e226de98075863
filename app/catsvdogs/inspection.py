"""Counts of recorded tweet files without sending anything: what ``catsvdogs inspect`` reports.

The counts follow the replay exactly: the same readers, the same filter of
repeated ids and superseded edit versions across all files, and the
transform's own category and tweet-type rules. Like the producer, inspect
rejects a record that cannot be encoded or is over Firehose's record size
limit. So the category counts equal the documents that a replay of the same
files puts into OpenSearch.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from catsvdogs.producer.batcher import reject_oversize
from catsvdogs.records import RejectedInput
from catsvdogs.sources.recorded import FileReport, TweetFilter, TweetMessage, find_latest_versions, read_file, rejection_category
from catsvdogs.sources.replay import Pacer, ReplayOptions, RunTag, new_run_id, outgoing_record
from catsvdogs.transform.category import Vocabulary, classify
from catsvdogs.transform.fields import NotATweet
from catsvdogs.transform.timestamps import format_timestamp
from catsvdogs.transform.tweet import check_message, read_hashtags, read_rule_tags, read_tweet_type

CATEGORIES = ("cat", "dog", "both", "none")
TWEET_TYPES = ("original", "retweet", "quote", "reply")
# Rejection samples kept per file, with their file:line.
MAX_SAMPLES = 5


@dataclass
class Counts:
    """Counts of one file or of all files together."""

    records: int = 0
    blank_lines: int = 0
    tweets: int = 0
    duplicates_skipped: int = 0
    categories: Counter[str] = field(default_factory=Counter)
    tweet_types: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    first_created_at: datetime | None = None
    last_created_at: datetime | None = None

    def add_time(self, moment: datetime | None) -> None:
        if moment is None:
            return
        if self.first_created_at is None or moment < self.first_created_at:
            self.first_created_at = moment
        if self.last_created_at is None or moment > self.last_created_at:
            self.last_created_at = moment

    def merge(self, other: Counts) -> None:
        self.records += other.records
        self.blank_lines += other.blank_lines
        self.tweets += other.tweets
        self.duplicates_skipped += other.duplicates_skipped
        self.categories.update(other.categories)
        self.tweet_types.update(other.tweet_types)
        self.rejected.update(other.rejected)
        self.add_time(other.first_created_at)
        self.add_time(other.last_created_at)

    def as_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "blank_lines": self.blank_lines,
            "tweets": self.tweets,
            "duplicates_skipped": self.duplicates_skipped,
            "rejected": sum(self.rejected.values()),
            "rejected_by_reason": dict(sorted(self.rejected.items())),
            "categories": {name: self.categories[name] for name in CATEGORIES},
            "tweet_types": {name: self.tweet_types[name] for name in TWEET_TYPES},
            "first_created_at": _format(self.first_created_at),
            "last_created_at": _format(self.last_created_at),
        }


@dataclass
class FileInspection:
    """One file: its detected framing and format, counts, and the first rejections with file:line."""

    path: str
    framing: str | None
    format: str | None
    counts: Counts
    samples: list[RejectedInput]

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "framing": self.framing,
            "format": self.format,
            **self.counts.as_json(),
            "rejection_samples": [{"origin": str(sample.origin), "reason": sample.reason} for sample in self.samples],
        }


def _format(moment: datetime | None) -> str | None:
    return None if moment is None else format_timestamp(moment)


def inspect_files(
    paths: Sequence[Path],
    vocabulary: Vocabulary,
    *,
    forced_format: str | None = None,
    allow_duplicates: bool = False,
) -> tuple[list[FileInspection], Counts]:
    """Read every file as a replay would and return the counts per file and in total."""
    tweet_filter = TweetFilter(find_latest_versions(paths, forced_format), allow_duplicates=allow_duplicates)
    # A pass of a replay at --speed max, which never waits, builds the records to check their size.
    # NOTE: the size can differ by a few bytes from a replay with --keep-timestamps or a pass number of --loop over 9.
    pacer = Pacer(ReplayOptions(), threading.Event())
    pacer.start_pass()
    run = RunTag(new_run_id(), 1)
    files = []
    total = Counts()
    for path in paths:
        inspection = _inspect_file(path, vocabulary, forced_format, tweet_filter, pacer, run)
        files.append(inspection)
        total.merge(inspection.counts)
    return files, total


def _inspect_file(
    path: Path,
    vocabulary: Vocabulary,
    forced_format: str | None,
    tweet_filter: TweetFilter,
    pacer: Pacer,
    run: RunTag,
) -> FileInspection:
    report = FileReport(str(path))
    counts = Counts()
    samples: list[RejectedInput] = []

    def reject(rejection: RejectedInput) -> None:
        counts.rejected[rejection_category(rejection.reason)] += 1
        if len(samples) < MAX_SAMPLES:
            samples.append(rejection)

    for item in read_file(path, forced_format, report):
        if isinstance(item, RejectedInput):
            reject(item)
            continue
        if tweet_filter.skip_reason(item.message) is not None:
            counts.duplicates_skipped += 1
            continue
        try:
            check_message(item.message)
            category, tweet_type = _classify(item, vocabulary)
        except NotATweet as error:
            reject(RejectedInput(item.origin, f"rejected by the transform: {error.reason}"))
            continue
        # Build the record that replay would send, so that the rejections of its encoding and size are the same.
        record = outgoing_record(item, pacer, run)
        if isinstance(record, RejectedInput):
            reject(record)
            continue
        oversize = reject_oversize(record)
        if oversize is not None:
            reject(oversize)
            continue
        tweet_filter.remember(item.message)
        counts.tweets += 1
        counts.categories[category] += 1
        counts.tweet_types[tweet_type] += 1
        counts.add_time(item.created_at)

    counts.records = report.records
    counts.blank_lines = report.blank_lines
    return FileInspection(str(path), report.framing, report.format, counts, samples)


def _classify(item: TweetMessage, vocabulary: Vocabulary) -> tuple[str, str]:
    """Apply the transform's rules; raises NotATweet where the transform would fail the record."""
    data = item.message["data"]
    category = classify(read_hashtags(data), read_rule_tags(item.message), vocabulary)
    tweet_type, _ = read_tweet_type(data)
    return category, tweet_type

