"""Parts of `catsvdogs reindex` that need no server: splitting backup objects, record keys, document ids, the report."""

from __future__ import annotations

import json

from catsvdogs.recovery.backup import split_records
from catsvdogs.recovery.reindex import ReindexReport, document_id, record_key


def test_split_records_one_per_line() -> None:
    body = b'{"a": 1}\n{"b": 2}\n\n'

    assert split_records(body) == [b'{"a": 1}', b'{"b": 2}']


def test_split_records_concatenated_values() -> None:
    body = b'{"a": 1}{"b": 2} {"c": 3}\n'

    assert split_records(body) == [b'{"a": 1}', b'{"b": 2}', b'{"c": 3}']


def test_split_records_keeps_invalid_line_whole() -> None:
    body = b'this is not a tweet\n\xff\xfe\n{"a": 1}\n'

    assert split_records(body) == [b"this is not a tweet", b"\xff\xfe", b'{"a": 1}']


def test_record_key_separates_runs_and_passes() -> None:
    base = {"tweet_id": "1", "source": "replay", "read_at": "2026-01-01T00:00:00.000Z"}
    first = dict(base, origin={"file": "a.jsonl", "line": 3, "run_id": "r1", "pass_number": 1})
    resent = dict(first, read_at="2026-01-01T00:00:09.000Z")
    next_pass = dict(base, origin={"file": "a.jsonl", "line": 3, "run_id": "r1", "pass_number": 2})
    other_run = dict(base, origin={"file": "a.jsonl", "line": 3, "run_id": "r2", "pass_number": 1})

    assert record_key(first) == record_key(resent)
    assert record_key(first) != record_key(next_pass)
    assert record_key(first) != record_key(other_run)


def test_record_key_of_live_post_is_tweet_and_source() -> None:
    assert record_key({"tweet_id": "at://did/app.bsky.feed.post/1", "source": "bluesky"})[:2] == (
        "at://did/app.bsky.feed.post/1",
        "bluesky",
    )


def test_document_id_is_stable() -> None:
    key = ("1", "replay", "a.jsonl", 3, "r1", 1)

    assert document_id(key) == document_id(tuple(json.loads(json.dumps(key))))
    assert document_id(key).startswith("reindex-")
    assert document_id(key) != document_id(("2", *key[1:]))


def test_report_dry_run_projects_counts() -> None:
    report = ReindexReport(bucket="b", prefix="raw/", index="tweets", dry_run=True, documents_before=10, duplicates_found=2, indexed=5)

    text = report.format()

    assert report.documents_after == 13
    assert "2 found, 2 to delete" in text
    assert "5 to index" in text
    assert "Dry run" in text


def test_split_records_keeps_deep_line() -> None:
    deep = b"[" * 5000 + b"]" * 5000

    assert split_records(b'{"a": 1}\n' + deep + b"\n") == [b'{"a": 1}', deep]
