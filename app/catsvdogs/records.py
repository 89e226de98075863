"""Items that flow from a source to the producer: records to send and inputs rejected on read."""

from __future__ import annotations

from dataclasses import dataclass, field

# Key of the provenance block that the producer adds to each stream message,
# beside X's own "data", "includes" and "matching_rules" keys.
PROVENANCE_KEY = "__catsvdogs"


@dataclass(frozen=True)
class Origin:
    """Location of a record: a file and a 1-based line, or a live source name with line 0."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class OutgoingRecord:
    """One Firehose record: UTF-8 JSON ending in a newline, and where it came from."""

    data: bytes
    origin: Origin
    read_at: float | None = field(default=None, compare=False, repr=False)
    """time.monotonic() when the source read the tweet, or None. A batch's wait for more records counts from it."""


@dataclass(frozen=True)
class RejectedInput:
    """Input that will not be sent, with the reason shown to the user."""

    origin: Origin
    reason: str


@dataclass(frozen=True)
class SkippedInput:
    """A tweet that is not sent because it was already read, such as a repeated id or an earlier edit version.

    The producer counts it as a duplicate skipped, not as read, so that
    ``read == sent + rejected + pending`` still holds.
    """

    origin: Origin
    reason: str


@dataclass(frozen=True)
class FilePosition:
    """How far into a file an earlier run got: every line before ``line``, and the first ``items`` items of ``line``.

    An item is a record or a rejection that the file's reader yielded, so a line
    that contains several tweets (a twarc2 page, a one-line JSON array) can be
    partly done. Tweets skipped as duplicates are not items.
    """

    line: int
    items: int


SourceItem = OutgoingRecord | RejectedInput | SkippedInput
