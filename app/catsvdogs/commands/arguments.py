"""Parsing of numeric command-line options, with messages that name the option, the value and what is accepted."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

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
