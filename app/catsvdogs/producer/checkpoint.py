"""Checkpoint of a replay: how far into each file every record was sent or rejected, for ``replay --resume``.

The producer consumes items in file order and sends batches in that order, so
the items that are done (acknowledged by Firehose, or rejected) form a prefix
of what it consumed. The checkpoint stores the end of that prefix for each
file as a FilePosition. It is written again after each batch: a temporary
file is written and renamed over the old one, so a crash of the producer leaves
either the old or the new checkpoint, never a mix. The file is not synced to
disk, which would cost milliseconds per batch, so a crash of the whole machine
can lose the last writes.

After SIGKILL, the records that a resumed run sends again are those of the
batch that was in flight, at most one batch. Their first copy may have reached
Firehose, so they can be indexed twice; ``catsvdogs reindex`` removes such
duplicates.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from catsvdogs.records import FilePosition, Origin

logger = logging.getLogger(__name__)

CHECKPOINT_VERSION = 1

# Bytes at the start of a file whose hash the checkpoint keeps, to notice a replaced file on --resume.
FINGERPRINT_BYTES = 65_536


def default_checkpoint_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Return $XDG_STATE_HOME/catsvdogs/checkpoints, with XDG's default ~/.local/state when it is unset."""
    env = os.environ if environ is None else environ
    state_home = env.get("XDG_STATE_HOME", "").strip()
    base = Path(state_home) if state_home else Path.home() / ".local" / "state"
    return base / "catsvdogs" / "checkpoints"


def file_fingerprint(path: Path, head_bytes: int = FINGERPRINT_BYTES) -> dict[str, Any] | None:
    """Return the size of ``path`` and a hash of its first ``head_bytes`` bytes, or None when it cannot be read.

    A file that grew keeps its first bytes, so a recording that is still being
    written can be resumed. A replaced file passes only if its first bytes are the same.
    """
    try:
        with open(path, "rb") as source:
            head = source.read(head_bytes)
            size = os.fstat(source.fileno()).st_size
    except OSError:
        return None
    return {"size": size, "head_bytes": len(head), "head_sha256": hashlib.sha256(head).hexdigest()}


def describe_change(path: Path, stored: Mapping[str, Any]) -> str | None:
    """Return how ``path`` changed since its ``stored`` fingerprint, or None if it only grew, is the same or is unreadable."""
    current = file_fingerprint(path, stored["head_bytes"])
    if current is None:
        return None
    if current["size"] < stored["size"]:
        return f"it is shorter: {current['size']:,} bytes, {stored['size']:,} when the checkpoint was written"
    if current["head_sha256"] != stored["head_sha256"]:
        return "its first bytes differ from those the checkpoint recorded"
    return None


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be read, or belongs to other files or another stream; the message names it."""


@dataclass
class Checkpoint:
    """Progress of one replay: the files in order, the position reached in each, and whether the input ended."""

    stream: str
    files: list[str]
    """File names as given on the command line, the names that origins and positions use."""
    paths: list[str]
    """Absolute paths of ``files``, in the same order, to match a checkpoint when the names differ."""
    run_id: str = ""
    """Run id that the records carry; a resumed run keeps it."""
    pass_number: int = 1
    """Pass of a --loop replay that the positions belong to."""
    positions: dict[str, FilePosition] = field(default_factory=dict)
    finished: bool = False
    updated_at: str | None = None
    fingerprints: list[dict[str, Any] | None] = field(default_factory=list)
    """file_fingerprint of each of ``files`` when the run started, or None where the checkpoint has none."""

    def __post_init__(self) -> None:
        if not self.fingerprints:
            self.fingerprints = [None] * len(self.files)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": CHECKPOINT_VERSION,
            "stream": self.stream,
            "run_id": self.run_id,
            "pass_number": self.pass_number,
            "finished": self.finished,
            "updated_at": self.updated_at,
            "files": [
                {
                    "file": name,
                    "path": path,
                    **(
                        {"line": self.positions[name].line, "items_on_line": self.positions[name].items}
                        if name in self.positions
                        else {"line": 0, "items_on_line": 0}
                    ),
                    **({"fingerprint": fingerprint} if fingerprint is not None else {}),
                }
                for name, path, fingerprint in zip(self.files, self.paths, self.fingerprints, strict=True)
            ],
        }

    @classmethod
    def from_json(cls, data: Any, source: Path) -> Checkpoint:
        """Build a checkpoint from its JSON form, raising CheckpointError that names ``source`` if it is invalid."""
        try:
            if data["version"] != CHECKPOINT_VERSION:
                raise CheckpointError(f"checkpoint {source} has version {data['version']}, expected {CHECKPOINT_VERSION}")
            entries = data["files"]
            positions = {
                entry["file"]: FilePosition(int(entry["line"]), int(entry["items_on_line"]))
                for entry in entries
                if int(entry["line"]) > 0
            }
            return cls(
                stream=str(data["stream"]),
                files=[str(entry["file"]) for entry in entries],
                paths=[str(entry["path"]) for entry in entries],
                run_id=str(data["run_id"]),
                pass_number=int(data["pass_number"]),
                positions=positions,
                finished=bool(data["finished"]),
                updated_at=data.get("updated_at"),
                fingerprints=[_fingerprint_of(entry) for entry in entries],
            )
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"checkpoint {source} is not a valid checkpoint file ({type(error).__name__}: {error})") from error

    def positions_for(self, files: Sequence[Path]) -> dict[str, FilePosition]:
        """Return the positions keyed by the names in ``files``, matched by absolute path."""
        by_path = {path: self.positions[name] for name, path in zip(self.files, self.paths, strict=True) if name in self.positions}
        return {str(file): by_path[absolute(file)] for file in files if absolute(file) in by_path}


def _fingerprint_of(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    fingerprint = entry.get("fingerprint")
    if fingerprint is None:
        return None
    return {
        "size": int(fingerprint["size"]),
        "head_bytes": int(fingerprint["head_bytes"]),
        "head_sha256": str(fingerprint["head_sha256"]),
    }


def absolute(path: Path) -> str:
    return str(Path(path).expanduser().resolve())


def default_checkpoint_path(files: Sequence[Path], stream: str, directory: Path | None = None) -> Path:
    """Name the checkpoint of a replay after a hash of its stream and the absolute paths of its files, in order."""
    identity = json.dumps({"stream": stream, "files": [absolute(file) for file in files]})
    return (directory or default_checkpoint_dir()) / f"{hashlib.sha256(identity.encode()).hexdigest()[:16]}.json"


def load_checkpoint(path: Path, files: Sequence[Path], stream: str) -> Checkpoint | None:
    """Read the checkpoint at ``path``, or return None when there is none.

    Raises CheckpointError when the file is unreadable or invalid, or when it
    was written for other files or another delivery stream.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {error.strerror or error}") from error
    try:
        data = json.loads(text)
    except ValueError as error:
        raise CheckpointError(f"checkpoint {path} is not valid JSON ({error})") from error

    checkpoint = Checkpoint.from_json(data, path)
    if checkpoint.stream != stream:
        raise CheckpointError(
            f"checkpoint {path} is for delivery stream '{checkpoint.stream}', not '{stream}'; "
            "pass another --checkpoint, or run without --resume to start from the beginning"
        )
    expected = [absolute(file) for file in files]
    if checkpoint.paths != expected:
        raise CheckpointError(
            f"checkpoint {path} is for the files {', '.join(checkpoint.paths)}, not {', '.join(expected)}; "
            "resume with the same files in the same order, or run without --resume to start from the beginning"
        )
    check_files_unchanged(path, checkpoint)
    return checkpoint


def check_files_unchanged(path: Path, checkpoint: Checkpoint) -> None:
    """Raise CheckpointError when a file with a position was replaced or cut since ``checkpoint`` was written."""
    for name, file_path, fingerprint in zip(checkpoint.files, checkpoint.paths, checkpoint.fingerprints, strict=True):
        position = checkpoint.positions.get(name)
        if position is None or fingerprint is None:
            continue
        change = describe_change(Path(file_path), fingerprint)
        if change is not None:
            raise CheckpointError(
                f"{name} changed since checkpoint {path} was written: {change}. Its position there, line "
                f"{position.line}, may no longer point at the same tweets. Restore the file, or run without "
                "--resume to replay the files from the beginning"
            )


def write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` to ``path`` atomically for other processes: a temporary file in the same folder, renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as target:
        json.dump(checkpoint.to_json(), target, indent=2)
        target.write("\n")
    os.replace(temporary, path)


@dataclass
class _Item:
    """One consumed item, in consumption order, and whether it is sent or rejected yet."""

    file: str
    line: int
    done: bool


class CheckpointTracker:
    """Follows the items the producer consumes until they are done, and writes the checkpoint as the done prefix grows.

    Not thread-safe: the producer's consuming thread makes every call.
    """

    def __init__(
        self,
        path: Path,
        checkpoint: Checkpoint,
        *,
        write: Callable[[Path, Checkpoint], None] = write_checkpoint,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self.path = path
        self._checkpoint = checkpoint
        self._checkpoint.finished = False
        self._write = write
        self._clock = clock
        self._file_order = {name: index for index, name in enumerate(checkpoint.files)}
        self._items: deque[_Item] = deque()
        self._outstanding: deque[_Item] = deque()
        self._last_done: tuple[int, int] | None = None
        self._before_last_batch: tuple[dict[str, FilePosition], int] | None = None
        self._changed = False
        self.write_failed = False

    @classmethod
    def start(
        cls, path: Path, stream: str, files: Sequence[Path], run_id: str, resumed: Checkpoint | None = None
    ) -> CheckpointTracker:
        """Track a new replay run ``run_id`` of ``files``, or continue the run, pass and positions of ``resumed``."""
        checkpoint = Checkpoint(
            stream=stream,
            files=[str(file) for file in files],
            paths=[absolute(file) for file in files],
            run_id=run_id,
            fingerprints=[file_fingerprint(file) for file in files],
        )
        if resumed is not None:
            checkpoint.run_id = resumed.run_id
            checkpoint.pass_number = resumed.pass_number
            checkpoint.positions = resumed.positions_for(files)
        return cls(path, checkpoint)

    @property
    def run_id(self) -> str:
        return self._checkpoint.run_id

    @property
    def pass_number(self) -> int:
        return self._checkpoint.pass_number

    @property
    def positions(self) -> Mapping[str, FilePosition]:
        return dict(self._checkpoint.positions)

    def consumed(self, origin: Origin, *, done: bool) -> None:
        """Record the next consumed item: ``done`` for a rejection, not done for a record waiting in a batch."""
        item = _Item(origin.file, origin.line, done)
        self._items.append(item)
        if not done:
            self._outstanding.append(item)
        self._advance()

    def acknowledged(self, count: int) -> None:
        """Mark the oldest ``count`` waiting records as done, because their batch was sent or rejected, and write."""
        self._before_last_batch = (dict(self._checkpoint.positions), self._checkpoint.pass_number)
        for _ in range(count):
            self._outstanding.popleft().done = True
        self._advance()
        self.save()

    def revert_last_batch(self) -> None:
        """Move the positions back to before the last acknowledged batch, so that a resumed run sends it again.

        The producer calls this when Firehose may not have delivered that batch
        after all, because an outage followed it. Call ``save`` afterwards.
        """
        if self._before_last_batch is None:
            return
        positions, pass_number = self._before_last_batch
        self._checkpoint.positions = dict(positions)
        self._checkpoint.pass_number = pass_number
        self._before_last_batch = None
        self._changed = True
        logger.warning("The checkpoint moves back before the last batch, because an outage followed it")

    def finish(self, *, end_of_input: bool) -> None:
        """Write the final checkpoint; ``end_of_input`` marks the replay as finished, so a resume has nothing to send."""
        self._advance()
        if end_of_input and not self._items:
            self._checkpoint.finished = True
            self._changed = True
        self.save()

    def save(self) -> None:
        """Write the checkpoint if it changed. A failed write is logged and does not stop the replay."""
        if not self._changed:
            return
        self._checkpoint.updated_at = self._clock().isoformat(timespec="milliseconds").replace("+00:00", "Z")
        try:
            self._write(self.path, self._checkpoint)
        except OSError as error:
            if not self.write_failed:
                logger.error(
                    "Cannot write the checkpoint %s: %s. The replay goes on, but --resume will start from an older "
                    "position or from the beginning",
                    self.path,
                    error,
                )
            self.write_failed = True
            return
        self._changed = False

    def _advance(self) -> None:
        """Move the positions past every done item at the front of the consumption order."""
        positions = self._checkpoint.positions
        while self._items and self._items[0].done:
            item = self._items.popleft()
            if not item.line or item.file not in self._file_order:
                continue  # a file-level rejection such as "file not found", or an item of no replayed file
            order = (self._file_order[item.file], item.line)
            if self._last_done is not None and order < self._last_done:
                # With --loop, a new pass starts again at the first file: the positions describe the new pass.
                positions.clear()
                self._checkpoint.pass_number += 1
            self._last_done = order
            known = positions.get(item.file)
            if known is not None and known.line == item.line:
                positions[item.file] = FilePosition(item.line, known.items + 1)
            else:
                positions[item.file] = FilePosition(item.line, 1)
            self._changed = True
