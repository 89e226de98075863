"""Lines of recorded files, plain or gzip, streamed without loading a whole file."""

from __future__ import annotations

import gzip
import logging
import os
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

LOG = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Line:
    """One line of a file: its 1-based number, its text, and whether it lacked the final newline."""

    number: int
    text: str | None
    cut_off: bool
    error: str | None = None


class UnreadableFile(OSError):
    """A file that cannot be opened or decompressed; the message gives the cause and the fix."""


def open_binary(path: Path) -> BinaryIO:
    """Open ``path`` for reading, decompressing gzip by its magic bytes, whatever the file name."""
    try:
        raw = open(path, "rb")
    except FileNotFoundError as error:
        raise UnreadableFile(f"{path}: file not found; check the path") from error
    except IsADirectoryError as error:
        raise UnreadableFile(f"{path}: is a directory; pass the files inside it") from error
    except PermissionError as error:
        raise UnreadableFile(f"{path}: permission denied; check the file's read permission") from error
    if not stat.S_ISREG(os.fstat(raw.fileno()).st_mode):
        raw.close()
        raise UnreadableFile(
            f"{path}: not a regular file (a pipe or a device); a replay reads each file more than once, "
            "so save the input to a file and pass that"
        )
    if raw.read(2) == GZIP_MAGIC:
        # Reopen by name, because a GzipFile closes only a file that it opened itself and wrapping raw would leak it.
        raw.close()
        return gzip.open(path, "rb")  # type: ignore[return-value]
    raw.seek(0)
    return raw


def read_lines(path: Path) -> Iterator[Line]:
    """Yield the lines of ``path``; a line that is not UTF-8 comes with an error instead of text."""
    with open_binary(path) as stream:
        number = 0
        try:
            for raw in stream:
                number += 1
                cut_off = not raw.endswith(b"\n")
                try:
                    text = raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as error:
                    yield Line(number, None, cut_off, f"invalid UTF-8 at byte {error.start} of the line")
                    continue
                yield Line(number, text, cut_off)
        except (EOFError, gzip.BadGzipFile, zlib.error) as error:
            raise UnreadableFile(
                f"{path}: gzip data is corrupt or truncated at line {number + 1} ({error}); lines before it were read"
            ) from error
