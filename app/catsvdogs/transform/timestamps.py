"""ISO 8601 timestamps as the index stores them: UTC, millisecond precision, suffix "Z".

OpenSearch's default ``date`` format (``strict_date_optional_time||epoch_millis``)
parses this form. One normalized form keeps range queries and sorting consistent
across the X API timestamps, the producer's ``read_at`` and Firehose arrival times.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def format_timestamp(moment: datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC."""
    utc = moment.astimezone(UTC)
    # An f-string and not strftime, because glibc's %Y does not zero-pad years before 1000.
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def normalize_timestamp(value: str) -> str:
    """Parse an ISO 8601 timestamp and format it in UTC with millisecond precision.

    A timestamp without a UTC offset is taken as UTC, as OpenSearch does.
    Raises ValueError if ``value`` is not an ISO 8601 timestamp that
    ``datetime.fromisoformat`` accepts, or if it falls outside the years 1 to
    9999 once converted to UTC.
    """
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return format_timestamp(moment)
    except OverflowError as error:
        raise ValueError(f"{value!r} is out of range in UTC") from error


def timestamp_from_epoch_ms(epoch_ms: int) -> str:
    """Format milliseconds since the Unix epoch, the unit of Firehose arrival times.

    Raises OverflowError if the time is outside the years 1 to 9999.
    """
    return format_timestamp(_EPOCH + timedelta(milliseconds=epoch_ms))
