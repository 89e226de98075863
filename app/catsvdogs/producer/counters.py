"""Thread-safe counts of a producer run and the summary printed at its end."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from catsvdogs.records import RejectedInput

DEFAULT_SAMPLE_LIMIT = 100
"""Number of rejections of each category kept with their origin; later ones are only counted."""


def rejection_category(reason: str) -> str:
    """Return the part of a rejection reason before its first colon, used to group and rate-limit rejections.

    Reasons read "category: details", such as "record too large: tweets.jsonl:7 has ...".
    A reason without a colon is its own category.
    """
    category, _, _ = reason.partition(":")
    return category.strip() or reason


@dataclass(frozen=True)
class Summary:
    """Counts of a producer run at one moment; ``read == sent + rejected + pending`` always holds.

    ``tweets`` counts the records read that are tweets to send, so it excludes
    inputs rejected on read. ``duplicates_skipped`` counts tweets that were not
    read because the same tweet (or a later version of it) was read already.
    """

    read: int
    sent: int
    rejected: int
    pending: int
    retried: int
    """Record-level resends to Firehose, not records: one record resent three times counts 3."""
    elapsed_seconds: float
    rejected_by_category: dict[str, int]
    rejection_samples: tuple[RejectedInput, ...]
    tweets: int = 0
    duplicates_skipped: int = 0
    undelivered: int = 0
    """Records that Firehose failed on every attempt, counted in ``rejected`` too. Some may have reached
    the S3 backup or the index before the failure (see ``catsvdogs reindex``)."""

    def __post_init__(self) -> None:
        if self.pending < 0:
            raise ValueError(
                f"counts are inconsistent: sent ({self.sent}) + rejected ({self.rejected}) exceeds read ({self.read})"
            )
        if self.read != self.sent + self.rejected + self.pending:
            raise ValueError(
                f"counts are inconsistent: read {self.read} != sent {self.sent} "
                f"+ rejected {self.rejected} + pending {self.pending}"
            )

    @property
    def rate(self) -> float:
        """Records sent per second over the whole run."""
        return self.sent / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0


class Counters:
    """Counts of records read, sent, resent and rejected, safe to update from several threads."""

    def __init__(
        self,
        *,
        sample_limit: int = DEFAULT_SAMPLE_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._started_at = clock()
        self._sample_limit = sample_limit
        self._read = 0
        self._sent = 0
        self._retried = 0
        self._rejected = 0
        self._tweets = 0
        self._duplicates_skipped = 0
        self._undelivered = 0
        self._rejected_by_category: Counter[str] = Counter()
        self._samples: list[RejectedInput] = []

    @property
    def read(self) -> int:
        return self._read

    @property
    def sent(self) -> int:
        return self._sent

    @property
    def retried(self) -> int:
        return self._retried

    @property
    def rejected(self) -> int:
        return self._rejected

    @property
    def tweets(self) -> int:
        return self._tweets

    @property
    def duplicates_skipped(self) -> int:
        return self._duplicates_skipped

    def add_read(self, count: int = 1, *, tweets: int = 0) -> None:
        """Count ``count`` items read, ``tweets`` of them records to send."""
        with self._lock:
            self._read += count
            self._tweets += tweets

    def add_duplicate_skipped(self, count: int = 1) -> None:
        with self._lock:
            self._duplicates_skipped += count

    def add_undelivered(self, count: int) -> None:
        """Count records that Firehose failed on every attempt; each is also counted once by ``add_rejected``."""
        with self._lock:
            self._undelivered += count

    def add_sent(self, count: int) -> None:
        with self._lock:
            self._sent += count

    def add_retried(self, count: int) -> None:
        with self._lock:
            self._retried += count

    def add_rejected(self, rejection: RejectedInput) -> int:
        """Count ``rejection`` and return how many rejections of its category were counted so far."""
        category = rejection_category(rejection.reason)
        with self._lock:
            self._rejected += 1
            self._rejected_by_category[category] += 1
            # Per category, so a flood of one kind cannot hide where the first of another kind was.
            if self._rejected_by_category[category] <= self._sample_limit:
                self._samples.append(rejection)
            return self._rejected_by_category[category]

    def snapshot(self) -> Summary:
        """Return a consistent copy of all counts."""
        with self._lock:
            return Summary(
                read=self._read,
                sent=self._sent,
                rejected=self._rejected,
                pending=self._read - self._sent - self._rejected,
                retried=self._retried,
                elapsed_seconds=self._clock() - self._started_at,
                rejected_by_category=dict(self._rejected_by_category),
                rejection_samples=tuple(self._samples),
                tweets=self._tweets,
                duplicates_skipped=self._duplicates_skipped,
                undelivered=self._undelivered,
            )


UNDELIVERED_HINT = (
    "Records not delivered: Firehose answered with an error for them on every attempt, for example because the",
    "search server was down or rejected documents. Firehose writes each batch to the S3 backup before it indexes",
    "it, so they are probably in the backup, and some may be indexed already. When the search server works again,",
    "'catsvdogs reindex' indexes the backed-up records that the index lacks and removes duplicate documents.",
)


RETRIED_HINT = (
    "Records were sent again after errors. A call that failed part way may have indexed some of them already,",
    "so the index can hold copies: 'catsvdogs reindex' removes duplicate documents.",
)


def format_summary(summary: Summary, *, stream_name: str | None = None, max_origins: int = 5) -> str:
    """Format ``summary`` as multi-line text for the end of a run, with rejections grouped by category."""
    target = f" to Firehose delivery stream '{stream_name}'" if stream_name else " to Firehose"
    lines = [
        f"Sent {summary.sent:,} of {summary.read:,} records read{target} "
        f"in {summary.elapsed_seconds:.1f} s ({summary.rate:,.1f} records/s).",
        f"  read:     {summary.read:,}",
        f"  tweets:   {summary.tweets:,}",
        f"  duplicates skipped: {summary.duplicates_skipped:,}",
        f"  sent:     {summary.sent:,}",
        f"  rejected: {summary.rejected:,}",
        f"  pending:  {summary.pending:,}",
        f"  retried:  {summary.retried:,} record resends",
    ]
    if summary.undelivered:
        lines.append(f"  not delivered: {summary.undelivered:,} (Firehose failed them on every attempt; counted in rejected)")
    if summary.rejected:
        lines.append("Rejected inputs by reason:")
        lines.extend(_format_rejection_groups(summary, max_origins))
    if summary.undelivered:
        lines.extend(UNDELIVERED_HINT)
    elif summary.retried:
        lines.extend(RETRIED_HINT)
    return "\n".join(lines)


def _format_rejection_groups(summary: Summary, max_origins: int) -> list[str]:
    lines: list[str] = []
    ordered = sorted(summary.rejected_by_category.items(), key=lambda item: (-item[1], item[0]))
    for category, count in ordered:
        samples = [s for s in summary.rejection_samples if rejection_category(s.reason) == category]
        lines.append(f"  {count:,} x {category}")
        if not samples:
            continue

        lines.append(f"      first: {samples[0].reason}")
        origins = ", ".join(str(sample.origin) for sample in samples[:max_origins])
        not_listed = count - min(len(samples), max_origins)
        more = f" and {not_listed:,} more" if not_listed else ""
        lines.append(f"      at {origins}{more}")
    return lines
