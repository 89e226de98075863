"""Parsing of numeric command-line options, with messages that name the option, the value and what is accepted."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

from catsvdogs.producer.backoff import DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_OUTAGE
from catsvdogs.producer.pipeline import DEFAULT_LOG_INTERVAL, DEFAULT_QUEUE_SIZE

Number = TypeVar("Number", int, float)


def parse_number(
    value: str,
    convert: Callable[[str], Number],
    name: str,
    *,
    accepted: Callable[[Number], bool],
    not_a_number: str,
    out_of_range: str,
) -> Number:
    """Convert ``value`` with ``convert``, check it with ``accepted``, and raise ArgumentTypeError when either fails.

    The message is "invalid NAME 'VALUE': " followed by ``not_a_number`` or
    ``out_of_range``. A float that is not finite (float() accepts "nan" and
    "inf") is out of range.
    """
    try:
        number = convert(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid {name} '{value}': {not_a_number}") from None
    if (isinstance(number, float) and not math.isfinite(number)) or not accepted(number):
        raise argparse.ArgumentTypeError(f"invalid {name} '{value}': {out_of_range}")
    return number


def parse_queue_size(value: str) -> int:
    """Parse --queue-size: a whole number of records, at least 1."""
    return parse_number(
        value, int, "queue size",
        accepted=lambda size: size >= 1,
        not_a_number="use a whole number such as 10000",
        out_of_range="it must be at least 1",
    )


def parse_seconds(value: str) -> float:
    """Parse a number of seconds, 0 or more."""
    return parse_number(
        value, float, "number of seconds",
        accepted=lambda seconds: seconds >= 0,
        not_a_number="use a number such as 300",
        out_of_range="it must be 0 or more",
    )


def parse_positive_seconds(value: str) -> float:
    """Parse a number of seconds greater than 0."""
    return parse_number(
        value, float, "number of seconds",
        accepted=lambda seconds: seconds > 0,
        not_a_number="use a number such as 60",
        out_of_range="it must be greater than 0",
    )


def parse_attempts(value: str) -> int:
    """Parse --max-attempts: a whole number, at least 1."""
    return parse_number(
        value, int, "number of attempts",
        accepted=lambda attempts: attempts >= 1,
        not_a_number="use a whole number such as 8",
        out_of_range="it must be at least 1",
    )


def add_producer_arguments(parser: argparse.ArgumentParser, reader: str) -> None:
    """Add the producer options that replay and stream share: queue size, log interval, outage budget and attempts.

    ``reader`` names what fills the queue in the help, such as "file reader".
    """
    parser.add_argument(
        "--queue-size",
        type=parse_queue_size,
        default=DEFAULT_QUEUE_SIZE,
        metavar="RECORDS",
        help=f"maximum records held between the {reader} and the sender (default: {DEFAULT_QUEUE_SIZE})",
    )
    parser.add_argument(
        "--log-interval",
        type=parse_seconds,
        default=DEFAULT_LOG_INTERVAL,
        metavar="SECONDS",
        help=f"seconds between progress log lines; 0 turns them off (default: {DEFAULT_LOG_INTERVAL:g})",
    )
    parser.add_argument(
        "--max-outage",
        type=parse_seconds,
        default=DEFAULT_MAX_OUTAGE,
        metavar="SECONDS",
        help="while Firehose refuses connections (LocalStack stopped, say), keep the batch and retry for up to this "
        f"many seconds, then stop with the records not sent reported as pending (default: {DEFAULT_MAX_OUTAGE:g})",
    )
    parser.add_argument(
        "--max-attempts",
        type=parse_attempts,
        default=DEFAULT_MAX_ATTEMPTS,
        metavar="N",
        help="calls per batch for errors that Firehose returns; records still failing are reported as rejected "
        f"(default: {DEFAULT_MAX_ATTEMPTS})",
    )
