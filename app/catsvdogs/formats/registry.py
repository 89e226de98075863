"""The recorded-tweet formats that catsvdogs reads, by the name that ``--format`` takes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from catsvdogs.formats import activity_streams, jetstream, twarc2_flat, twarc2_pages, v1_original, v2_stream, x_archive
from catsvdogs.formats.model import BadRecord

Converter = Callable[[Any], "list[dict[str, Any] | BadRecord]"]


@dataclass(frozen=True)
class RecordFormat:
    """One format: its name, a one-line description, and the function that turns a decoded record into messages."""

    name: str
    description: str
    convert: Converter


def _from_module(module: ModuleType) -> RecordFormat:
    return RecordFormat(module.FORMAT_NAME, module.DESCRIPTION, module.convert)


FORMATS: dict[str, RecordFormat] = {
    record_format.name: record_format
    for record_format in map(
        _from_module, (v2_stream, twarc2_pages, twarc2_flat, v1_original, activity_streams, x_archive, jetstream)
    )
}


def get_format(name: str) -> RecordFormat:
    """Return the format called ``name``, raising KeyError with the known names otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        raise KeyError(f"unknown format {name!r}; known formats: {', '.join(FORMATS)}") from None
