"""Recording of live messages: one per line, gzip by name, readable within a second while still open."""

from __future__ import annotations

import gzip
import time
import zlib
from pathlib import Path

import pytest

from catsvdogs.sources.recorder import Recorder, RecordingError


def readable_text(path: Path) -> str:
    """Return what a reader sees in ``path`` now, decompressing a gzip file that has no end yet."""
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = zlib.decompressobj(wbits=31).decompress(data)
    return data.decode("utf-8")


def test_plain_file_one_message_per_line(tmp_path: Path):
    path = tmp_path / "live.jsonl"

    with Recorder(path) as recorder:
        recorder.write('{"a": 1}')
        recorder.write(b'{"b": 2}\r\n')
        recorder.write('{\n"c":\r3}')

    assert path.read_text(encoding="utf-8") == '{"a": 1}\n{"b": 2}\n{ "c": 3}\n'
    assert recorder.lines == 3


def test_gzip_by_file_name(tmp_path: Path):
    path = tmp_path / "live.jsonl.gz"

    with Recorder(path) as recorder:
        recorder.write('{"a": "é"}')

    assert gzip.decompress(path.read_bytes()).decode("utf-8") == '{"a": "é"}\n'


@pytest.mark.parametrize("name", ["live.jsonl", "live.jsonl.gz"])
def test_open_file_flushed_within_second(tmp_path: Path, name: str):
    path = tmp_path / name
    recorder = Recorder(path)
    try:
        recorder.write('{"first": 1}')
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and '{"first": 1}\n' not in readable_text(path):
            time.sleep(0.05)

        assert readable_text(path) == '{"first": 1}\n'
    finally:
        recorder.close()


def test_existing_file_not_overwritten(tmp_path: Path):
    path = tmp_path / "old.jsonl"
    path.write_text("keep me\n", encoding="utf-8")

    with pytest.raises(RecordingError, match="file exists"):
        Recorder(path)

    assert path.read_text(encoding="utf-8") == "keep me\n"


def test_missing_directory_reported(tmp_path: Path):
    with pytest.raises(RecordingError, match="directory not found"):
        Recorder(tmp_path / "missing" / "live.jsonl")


def test_writes_after_close_dropped(tmp_path: Path):
    path = tmp_path / "live.jsonl"
    recorder = Recorder(path)
    recorder.write("one")
    recorder.close()

    recorder.write("two")
    recorder.close()

    assert path.read_text(encoding="utf-8") == "one\n"
    assert recorder.lines == 1
