"""Unit tests of reading recorded files line by line, plain or gzip."""

from __future__ import annotations

import gc
import gzip
import os
import warnings
from pathlib import Path

import pytest

from catsvdogs.sources.files import Line, UnreadableFile, read_lines

TWO_LINES = b'{"n": 1}\n{"n": 2}\n'


def numbered_lines(count: int) -> bytes:
    return b"".join(b'{"n": %d}\n' % number for number in range(1, count + 1))


def write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def test_plain_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "tweets.jsonl", TWO_LINES)

    lines = list(read_lines(path))

    assert lines == [Line(1, '{"n": 1}', False), Line(2, '{"n": 2}', False)]


def test_gzip_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "tweets.jsonl.gz", gzip.compress(TWO_LINES))

    lines = list(read_lines(path))

    assert lines == [Line(1, '{"n": 1}', False), Line(2, '{"n": 2}', False)]


def test_gzip_detected_without_suffix(tmp_path: Path) -> None:
    path = write(tmp_path / "tweets.jsonl", gzip.compress(TWO_LINES))

    texts = [line.text for line in read_lines(path)]

    assert texts == ['{"n": 1}', '{"n": 2}']


def test_plain_file_named_gz_read_as_text(tmp_path: Path) -> None:
    path = write(tmp_path / "tweets.jsonl.gz", TWO_LINES)

    texts = [line.text for line in read_lines(path)]

    assert texts == ['{"n": 1}', '{"n": 2}']


def test_crlf_line_endings_stripped(tmp_path: Path) -> None:
    path = write(tmp_path / "tweets.jsonl", b'{"n": 1}\r\n{"n": 2}\r\n')

    lines = list(read_lines(path))

    assert lines == [Line(1, '{"n": 1}', False), Line(2, '{"n": 2}', False)]


def test_blank_lines_kept_and_counted(tmp_path: Path) -> None:
    path = write(tmp_path / "tweets.jsonl", b'{"n": 1}\n\r\n\n{"n": 2}\n')

    lines = list(read_lines(path))

    assert [line.number for line in lines] == [1, 2, 3, 4]
    assert [line.text for line in lines] == ['{"n": 1}', "", "", '{"n": 2}']


def test_invalid_utf8_line_has_error(tmp_path: Path) -> None:
    path = write(tmp_path / "tweets.jsonl", b'{"n": 1}\n{"t": "ab\xffc"}\n{"n": 3}\n')

    lines = list(read_lines(path))

    assert lines[1] == Line(2, None, False, "invalid UTF-8 at byte 9 of the line")


def test_invalid_utf8_leaves_other_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "tweets.jsonl", b'{"n": 1}\n{"t": "ab\xffc"}\n{"n": 3}\n')

    lines = list(read_lines(path))

    assert lines[0] == Line(1, '{"n": 1}', False)
    assert lines[2] == Line(3, '{"n": 3}', False)


def test_multibyte_utf8_decoded(tmp_path: Path) -> None:
    path = write(tmp_path / "tweets.jsonl", '{"t": "chat 🐱 café"}\n'.encode())

    lines = list(read_lines(path))

    assert lines == [Line(1, '{"t": "chat 🐱 café"}', False)]


def test_last_line_without_newline_cut_off(tmp_path: Path) -> None:
    path = write(tmp_path / "tweets.jsonl", b'{"n": 1}\n{"n": 2')

    lines = list(read_lines(path))

    assert lines == [Line(1, '{"n": 1}', False), Line(2, '{"n": 2', True)]


def test_gzip_last_line_without_newline_cut_off(tmp_path: Path) -> None:
    path = write(tmp_path / "tweets.jsonl.gz", gzip.compress(b'{"n": 1}\n{"n": 2'))

    lines = list(read_lines(path))

    assert lines[-1] == Line(2, '{"n": 2', True)


def test_fixture_cut_off_line_flagged() -> None:
    path = Path(__file__).resolve().parents[1] / "fixtures" / "twarc2_stream_cutoff.jsonl"

    lines = list(read_lines(path))

    assert len(lines) == 8
    assert [line.cut_off for line in lines] == [False] * 7 + [True]


def test_empty_file_yields_nothing(tmp_path: Path) -> None:
    path = write(tmp_path / "tweets.jsonl", b"")

    assert list(read_lines(path)) == []


def test_empty_gzip_yields_nothing(tmp_path: Path) -> None:
    path = write(tmp_path / "tweets.jsonl.gz", gzip.compress(b""))

    assert list(read_lines(path)) == []


def test_one_byte_file(tmp_path: Path) -> None:
    path = write(tmp_path / "tweets.jsonl", b"\x1f")

    lines = list(read_lines(path))

    assert lines == [Line(1, "\x1f", True)]


def test_missing_file_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "missing.jsonl"

    with pytest.raises(UnreadableFile) as caught:
        list(read_lines(path))

    assert str(caught.value) == f"{path}: file not found; check the path"


def test_directory_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile) as caught:
        list(read_lines(tmp_path))

    assert str(caught.value) == f"{tmp_path}: is a directory; pass the files inside it"


def test_pipe_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "tweets.fifo"
    os.mkfifo(path)
    # Opening a FIFO for reading blocks until it has a writer, so the test opens one first.
    writer = os.open(path, os.O_RDWR)
    try:
        with pytest.raises(UnreadableFile) as caught:
            list(read_lines(path))
    finally:
        os.close(writer)

    assert str(caught.value).startswith(f"{path}: not a regular file (a pipe or a device); ")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode, so chmod 000 cannot deny access")
def test_unreadable_permission(tmp_path: Path) -> None:
    path = write(tmp_path / "tweets.jsonl", TWO_LINES)
    path.chmod(0)

    with pytest.raises(UnreadableFile) as caught:
        list(read_lines(path))

    assert str(caught.value) == f"{path}: permission denied; check the file's read permission"


def test_unreadable_file_is_os_error() -> None:
    assert issubclass(UnreadableFile, OSError)


def test_truncated_gzip_yields_lines_before(tmp_path: Path) -> None:
    compressed = gzip.compress(numbered_lines(2000))
    path = write(tmp_path / "tweets.jsonl.gz", compressed[: len(compressed) // 2])
    read: list[Line] = []

    with pytest.raises(UnreadableFile):
        for line in read_lines(path):
            read.append(line)

    assert len(read) > 0
    assert [line.number for line in read] == list(range(1, len(read) + 1))
    assert all(not line.cut_off for line in read)


def test_truncated_gzip_error_names_path_and_line(tmp_path: Path) -> None:
    compressed = gzip.compress(numbered_lines(2000))
    path = write(tmp_path / "tweets.jsonl.gz", compressed[: len(compressed) // 2])
    count = 0

    with pytest.raises(UnreadableFile) as caught:
        for _ in read_lines(path):
            count += 1

    message = str(caught.value)
    assert message.startswith(f"{path}: gzip data is corrupt or truncated at line {count + 1} (")
    assert message.endswith("; lines before it were read")


def test_corrupt_gzip_unreadable(tmp_path: Path) -> None:
    compressed = bytearray(gzip.compress(numbered_lines(200)))
    compressed[20:40] = b"\xff" * 20
    path = write(tmp_path / "tweets.jsonl.gz", bytes(compressed))

    with pytest.raises(UnreadableFile) as caught:
        list(read_lines(path))

    assert "gzip data is corrupt or truncated" in str(caught.value)


def test_gzip_magic_only_unreadable(tmp_path: Path) -> None:
    path = write(tmp_path / "tweets.jsonl.gz", b"\x1f\x8b")

    with pytest.raises(UnreadableFile) as caught:
        list(read_lines(path))

    assert str(caught.value).startswith(f"{path}: gzip data is corrupt or truncated at line 1")


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_file_closed_after_reading(tmp_path: Path, compressed: bool) -> None:
    content = gzip.compress(TWO_LINES) if compressed else TWO_LINES
    path = write(tmp_path / "tweets.jsonl", content)
    gc.collect()  # so files leaked by earlier tests warn now, not inside the block below

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        list(read_lines(path))
        gc.collect()

    assert [str(warning.message) for warning in caught if warning.category is ResourceWarning] == []

