"""Replay rejects, at their file and line, the tweets that the transform would turn into error documents."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from catsvdogs.inspection import inspect_files
from catsvdogs.producer.batcher import OVERSIZE_REASON, reject_oversize
from catsvdogs.producer.limits import MAX_RECORD_BYTES
from catsvdogs.records import OutgoingRecord, RejectedInput
from catsvdogs.sources.replay import ReplayOptions, replay
from catsvdogs.transform.category import Vocabulary
from catsvdogs.transform.fields import NotATweet
from catsvdogs.transform.tweet import check_message

GOOD = {"data": {"id": "100", "text": "a #cat", "public_metrics": {"like_count": 3}}}


def with_data(**fields: object) -> dict:
    """A copy of GOOD with another tweet id and the given fields replaced."""
    return {"data": {**GOOD["data"], "id": "101", **fields}}


BAD_MESSAGES = [
    (with_data(public_metrics={"like_count": "12"}), "rejected by the transform: data.public_metrics.like_count"),
    (with_data(lang=7), "rejected by the transform: data.lang must be a string"),
    (with_data(entities={"hashtags": [{"tag": 5}]}), "rejected by the transform: data.entities.hashtags[0].tag"),
    (with_data(public_metrics={"retweet_count": -1}), "rejected by the transform: data.public_metrics.retweet_count"),
]


def replayed(tmp_path: Path, lines: list[str]) -> list:
    path = tmp_path / "tweets.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return list(replay([path], ReplayOptions(), threading.Event()))


@pytest.mark.parametrize(("message", "reason"), BAD_MESSAGES)
def test_wrong_type_rejected_at_its_line(tmp_path: Path, message: dict, reason: str) -> None:
    items = replayed(tmp_path, [json.dumps(GOOD), json.dumps(message)])

    assert isinstance(items[0], OutgoingRecord)
    assert isinstance(items[1], RejectedInput)
    assert items[1].origin.line == 2
    assert items[1].reason.startswith(reason)


def test_lone_surrogate_rejected_not_raised(tmp_path: Path) -> None:
    line = json.dumps(with_data(text="x")).replace('"x"', '"cat \\ud83d"')

    items = replayed(tmp_path, [line, json.dumps(GOOD)])

    assert isinstance(items[0], RejectedInput)
    assert items[0].reason.startswith("invalid Unicode: an unpaired UTF-16 surrogate \\ud83d")
    assert isinstance(items[1], OutgoingRecord)


def test_deep_nesting_rejected_not_raised(tmp_path: Path) -> None:
    deep = '{"data": ' + "[" * 5000 + "]" * 5000 + "}"

    items = replayed(tmp_path, [deep, json.dumps(GOOD)])

    assert isinstance(items[0], RejectedInput)
    assert items[0].origin.line == 1
    assert items[0].reason.startswith("invalid JSON: nested too deeply")
    assert isinstance(items[1], OutgoingRecord)


def test_surrogate_pair_escape_is_sent(tmp_path: Path) -> None:
    line = json.dumps(with_data(text="x")).replace('"x"', '"cat \\ud83d\\udc31"')

    items = replayed(tmp_path, [line])

    assert isinstance(items[0], OutgoingRecord)
    assert "🐱" in json.loads(items[0].data)["data"]["text"]


def test_check_message_matches_build_document() -> None:
    for message, _ in BAD_MESSAGES:
        with pytest.raises(NotATweet):
            check_message(message)
    check_message(GOOD)


def test_inspect_rejects_what_replay_rejects(tmp_path: Path) -> None:
    surrogate = json.dumps(with_data(id="200", text="x")).replace('"x"', '"\\udc31"')
    lines = [json.dumps(GOOD)] + [json.dumps(message) for message, _ in BAD_MESSAGES] + [surrogate]
    path = tmp_path / "tweets.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    _, total = inspect_files([path], Vocabulary(frozenset({"cat"}), frozenset()), allow_duplicates=True)
    items = list(replay([path], ReplayOptions(allow_duplicates=True), threading.Event()))

    assert total.tweets == sum(isinstance(item, OutgoingRecord) for item in items) == 1
    assert sum(total.rejected.values()) == sum(isinstance(item, RejectedInput) for item in items) == 5


def sent_by_replay(path: Path) -> list[OutgoingRecord]:
    """Return the records of ``path`` that replay yields and the batcher accepts."""
    items = replay([path], ReplayOptions(), threading.Event())
    return [item for item in items if isinstance(item, OutgoingRecord) and reject_oversize(item) is None]


def test_inspect_rejects_oversize_record(tmp_path: Path) -> None:
    path = tmp_path / "tweets.jsonl"
    huge = with_data(text="#cat " + "x" * 2_000_000, entities={"hashtags": [{"tag": "cat"}]})
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps(huge) + "\n", encoding="utf-8")

    files, total = inspect_files([path], Vocabulary(frozenset({"cat"}), frozenset()))

    assert total.tweets == len(sent_by_replay(path)) == 1
    assert total.categories["cat"] == 0
    assert dict(total.rejected) == {OVERSIZE_REASON: 1}
    assert str(files[0].samples[0].origin) == f"{path}:2"


def test_inspect_counts_provenance_in_size(tmp_path: Path) -> None:
    # The message alone fits the limit, but the record that replay sends adds the provenance block and does not.
    path = tmp_path / "tweets.jsonl"
    message = with_data(text="")
    filler = MAX_RECORD_BYTES - len(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()) - 20
    path.write_text(json.dumps(with_data(text="x" * filler)) + "\n", encoding="utf-8")

    _, total = inspect_files([path], Vocabulary(frozenset({"cat"}), frozenset()))

    assert total.tweets == len(sent_by_replay(path)) == 0
    assert dict(total.rejected) == {OVERSIZE_REASON: 1}
