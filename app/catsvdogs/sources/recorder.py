"""Recording of a live stream: each message as received, one a line, plain or gzip, flushed every half second."""

from __future__ import annotations

import gzip
import logging
import threading
import zlib
from pathlib import Path
from typing import BinaryIO

LOG = logging.getLogger(__name__)

FLUSH_INTERVAL_SECONDS = 0.5
"""Flush period of the background thread, so a crash loses at most this plus one write's time."""


class RecordingError(OSError):
    """A recording file that cannot be created; the message gives the reason and the fix."""


class Recorder:
    """Writes received messages to ``path``, gzip-compressed when the name ends in ``.gz``.

    Each message becomes one line. A raw CR or LF inside a message, which valid
    JSON can hold only as whitespace between tokens, is written as a space so the
    line stays one message. A background thread flushes buffered lines every
    ``flush_interval`` seconds, with a gzip sync flush, so the file can be read
    while it is written and a crash loses only the last fraction of a second.
    The file is created new: an existing file is never overwritten or appended
    to, because appending after a crash would follow a gzip stream without its end.
    Safe to call from several threads. Writes after ``close`` are dropped.
    """

    def __init__(self, path: Path, *, flush_interval: float = FLUSH_INTERVAL_SECONDS) -> None:
        self.path = path
        self.lines = 0
        self._lock = threading.Lock()
        self._dirty = False
        self._closed = threading.Event()
        self._file = self._open(path)
        self._flusher = threading.Thread(
            target=self._flush_periodically, args=(flush_interval,), name="catsvdogs-recorder-flush", daemon=True
        )
        self._flusher.start()
        LOG.info("Recording received messages to %s", path)

    @staticmethod
    def _open(path: Path) -> BinaryIO:
        try:
            raw = open(path, "xb")
        except FileExistsError as error:
            raise RecordingError(f"{path}: file exists; choose a new file name or remove the old recording") from error
        except FileNotFoundError as error:
            raise RecordingError(f"{path}: directory not found; create it first") from error
        except PermissionError as error:
            raise RecordingError(f"{path}: permission denied; check the directory's write permission") from error
        if path.name.endswith(".gz"):
            return gzip.GzipFile(filename="", mode="wb", fileobj=raw)  # type: ignore[return-value]
        return raw

    def write(self, message: bytes | str) -> None:
        """Append one message as one line."""
        data = message.encode("utf-8", "surrogatepass") if isinstance(message, str) else message
        data = data.rstrip(b"\r\n")
        if b"\n" in data or b"\r" in data:
            data = data.replace(b"\r", b" ").replace(b"\n", b" ")
        with self._lock:
            if self._closed.is_set():
                return
            self._file.write(data + b"\n")
            self.lines += 1
            self._dirty = True

    def flush(self) -> None:
        """Write buffered lines through to the operating system."""
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self._closed.is_set() or not self._dirty:
            return
        if isinstance(self._file, gzip.GzipFile):
            self._file.flush(zlib.Z_SYNC_FLUSH)
        else:
            self._file.flush()
        self._dirty = False

    def _flush_periodically(self, interval: float) -> None:
        while not self._closed.wait(interval):
            try:
                self.flush()
            except OSError as error:
                LOG.error("Flushing the recording %s failed: %s", self.path, error)

    def close(self) -> None:
        """Flush and close the file; with gzip, write its end so the file is complete."""
        with self._lock:
            if self._closed.is_set():
                return
            self._closed.set()
            try:
                if isinstance(self._file, gzip.GzipFile):
                    fileobj = self._file.fileobj
                    self._file.close()
                    if fileobj is not None:
                        fileobj.close()
                else:
                    self._file.close()
            finally:
                LOG.info("Recording %s closed after %d messages", self.path, self.lines)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
