"""Incremental reading of a file that is one JSON array, or several JSON values, over many lines.

This reads X archives (``window.YTD.tweets.part0 = [ {...}, ... ]``), JSON
arrays of tweets and pretty-printed JSON objects one value at a time with
``json.JSONDecoder.raw_decode`` over a text buffer, so memory contains a few
chunks and the value being decoded, never the whole file.
"""

from __future__ import annotations

import codecs
import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catsvdogs.formats.model import nested_too_deeply
from catsvdogs.sources.files import UnreadableFile, open_binary

CHUNK_BYTES = 1 << 16
# A value still undecoded after this many characters is reported as invalid instead of buffered further.
MAX_VALUE_CHARS = 64 << 20

_WHITESPACE = " \t\r\n\ufeff"
# Maximum length of a literal or number that a chunk boundary may cut. A decode error this close to the end of the
# text may only mean that the value continues in the next chunk.
_MAX_TOKEN_CHARS = 64


@dataclass(frozen=True)
class JsonValue:
    """One decoded value and the 1-based line where it starts, or an error that ends the file."""

    line: int
    value: Any = None
    error: str | None = None


class _Buffer:
    """Decoded text of a binary stream, consumed from the front, with the line number of each position."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._bytes_read = 0
        self.text = ""
        self.pos = 0
        self.eof = False
        self._line = 1  # line number at self._counted
        self._counted = 0

    def fill(self) -> None:
        """Drop the consumed text and append the next chunk; sets ``eof`` at the end of the stream."""
        self.line_at(self.pos)
        self.text = self.text[self.pos :]
        self._counted -= self.pos
        self.pos = 0
        chunk = self._stream.read(CHUNK_BYTES)
        try:
            self.text += self._decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as error:
            offset = self._bytes_read + error.start
            raise _StopFile(f"invalid UTF-8: byte {offset} of the file is not valid UTF-8; the rest was not read")
        self._bytes_read += len(chunk)
        if not chunk:
            self.eof = True

    def line_at(self, position: int) -> int:
        """Return the line number of ``position``, which must not be before the last one asked for."""
        self._line += self.text.count("\n", self._counted, position)
        self._counted = position
        return self._line

    def skip(self, characters: str) -> str | None:
        """Move past ``characters``, reading more as needed; return the next character, or None at the end."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in characters:
                self.pos += 1
            if self.pos < len(self.text):
                return self.text[self.pos]
            if self.eof:
                return None
            self.fill()


class _StopFile(Exception):
    """An error after which the rest of the file cannot be read."""


def _skip_assignment(buffer: _Buffer) -> None:
    """Move past ``window.YTD.tweets.part0 =``, the JavaScript prefix of an X archive file."""
    while "=" not in buffer.text[buffer.pos : buffer.pos + 4096] and not buffer.eof:
        buffer.fill()
    equals = buffer.text.find("=", buffer.pos)
    if equals < 0:
        raise _StopFile("unknown format: the file starts with 'window.' but has no '=' assignment")
    buffer.pos = equals + 1


def _decode(buffer: _Buffer, decode: Any) -> tuple[Any, int]:
    """Decode the value at ``buffer.pos``, reading more text while the value is incomplete."""
    while True:
        try:
            value, end = decode(buffer.text, buffer.pos)
        except json.JSONDecodeError as error:
            # The decoder stops where the text ends, or at the start of a cut-off string, literal or number.
            incomplete = error.pos >= len(buffer.text) - _MAX_TOKEN_CHARS or error.msg.startswith("Unterminated string")
            if incomplete and not buffer.eof and len(buffer.text) - buffer.pos < MAX_VALUE_CHARS:
                buffer.fill()
                continue
            line = buffer.line_at(buffer.pos)
            if incomplete and buffer.eof:
                raise _StopFile(f"file cut off: the file ends inside the JSON value that starts at line {line}")
            where = buffer.line_at(max(error.pos, buffer.pos))
            raise _StopFile(f"invalid JSON: {error.msg} at line {where}; the rest of the file was not read")
        except RecursionError:
            line = buffer.line_at(buffer.pos)
            raise _StopFile(f"{nested_too_deeply(f' in the value at line {line}')}; the rest of the file was not read")
        # A number or literal that ends the buffer may continue in the next chunk.
        if end == len(buffer.text) and not buffer.eof and not isinstance(value, (dict, list, str)):
            buffer.fill()
            continue
        return value, end


def read_json_values(path: Path) -> Iterator[JsonValue]:
    """Yield the values of a JSON array file (optionally an X archive assignment) or of concatenated JSON values.

    Values of an array may be separated by commas, values outside one by
    whitespace. An error that makes the rest unreadable (invalid JSON, a cut-off
    value, an array that is not closed, invalid UTF-8) comes last, as a
    JsonValue with ``error``. Raises UnreadableFile if the file cannot be opened.
    """
    decode = json.JSONDecoder().raw_decode
    with open_binary(path) as stream:
        buffer = _Buffer(stream)
        values = 0
        line = 1
        try:
            first = buffer.skip(_WHITESPACE)
            if first == "w":
                _skip_assignment(buffer)
                first = buffer.skip(_WHITESPACE)
                if first != "[":
                    raise _StopFile("unknown format: an X archive assignment must be followed by a JSON array '['")
            in_array = first == "["
            if in_array:
                buffer.pos += 1
            while True:
                following = buffer.skip(_WHITESPACE + ("," if in_array else ""))
                if following is None:
                    if in_array:
                        raise _StopFile(f"file cut off: the JSON array is not closed after {values} values")
                    return
                if in_array and following == "]":
                    buffer.pos += 1
                    trailing = buffer.skip(_WHITESPACE + ";")
                    if trailing is not None:
                        line = buffer.line_at(buffer.pos)
                        raise _StopFile(f"invalid JSON: unexpected text after the closing ']' at line {line}")
                    return
                line = buffer.line_at(buffer.pos)
                value, buffer.pos = _decode(buffer, decode)
                values += 1
                yield JsonValue(line, value)
        except _StopFile as error:
            yield JsonValue(line, error=str(error))
        except (EOFError, gzip.BadGzipFile, zlib.error) as error:
            raise UnreadableFile(
                f"{path}: gzip data is corrupt or truncated after line {line} ({error}); values before it were read"
            ) from error
