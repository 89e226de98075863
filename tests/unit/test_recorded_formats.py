"""Unit tests of the recorded-format readers on the real-format samples, hand-written cases and bad input.

The expected counts per sample follow the documented rules: only the top-level
tweet of a record counts (never the tweets of a page's ``includes`` or a
tweet's embedded retweeted or quoted tweet), a retweet counts as a retweet
with the category of its own hashtags, an edited tweet counts once as its
latest version in the input, and a repeated tweet id counts once.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from catsvdogs.formats import detect
from catsvdogs.formats.model import BadRecord, v1_timestamp_to_iso
from catsvdogs.inspection import inspect_files
from catsvdogs.records import Origin, RejectedInput
from catsvdogs.sources import json_values
from catsvdogs.sources.recorded import FileReport, TweetFilter, TweetMessage, find_latest_versions, read_file
from catsvdogs.transform.category import load_vocabulary
from catsvdogs.transform.tweet import build_document

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HAND = FIXTURES / "hand_written"
BROKEN = FIXTURES / "broken_and_unsupported"
VOCABULARY = load_vocabulary({})


def counts_of(*paths: Path, **options: Any) -> dict[str, Any]:
    """Return the ``inspect --json`` total of ``paths``."""
    _, total = inspect_files(list(paths), VOCABULARY, **options)
    return total.as_json()


def file_counts(path: Path, **options: Any) -> dict[str, Any]:
    files, _ = inspect_files([path], VOCABULARY, **options)
    return files[0].as_json()


def categories(cat: int = 0, dog: int = 0, both: int = 0, none: int = 0) -> dict[str, int]:
    return {"cat": cat, "dog": dog, "both": both, "none": none}


def types(original: int = 0, retweet: int = 0, quote: int = 0, reply: int = 0) -> dict[str, int]:
    return {"original": original, "retweet": retweet, "quote": quote, "reply": reply}


def items_of(path: Path, forced_format: str | None = None) -> list[TweetMessage | RejectedInput]:
    return list(read_file(path, forced_format))


def tweets_of(path: Path) -> list[TweetMessage]:
    return [item for item in items_of(path) if isinstance(item, TweetMessage)]


def rejections_of(path: Path, forced_format: str | None = None) -> list[RejectedInput]:
    return [item for item in items_of(path, forced_format) if isinstance(item, RejectedInput)]


def v2_line(tweet_id: str, text: str = "hello", **data: Any) -> str:
    """Return a v2 stream line whose hashtag entities are the #words of ``text``."""
    hashtags = [{"tag": word[1:]} for word in text.split() if word.startswith("#")]
    entities = {"entities": {"hashtags": hashtags}} if hashtags else {}
    tweet = {"id": tweet_id, "text": text, "created_at": "2025-03-14T16:00:00.000Z", **entities, **data}
    return json.dumps({"data": tweet})


# Expected counts of each sample: format, records, blank lines, tweets, categories, tweet types, rejections.
SAMPLES = {
    "stream_v2_minimal.jsonl": (
        "x-v2-stream", 7, 1, 6, categories(cat=2, dog=2, both=1, none=1), types(original=6),
        {"stream error message, no tweet": 1},
    ),
    "twarc2_stream_cutoff.jsonl": (
        "x-v2-stream", 8, 0, 7, categories(dog=1, none=6), types(original=3, quote=1, reply=3), {"line cut off": 1},
    ),
    "twarc2_search_retweet.jsonl": ("twarc2-pages", 1, 0, 1, categories(none=1), types(retweet=1), {}),
    "twarc2_edited_tweet.jsonl": ("twarc2-pages", 1, 0, 1, categories(none=1), types(original=1), {}),
    "gnip_original_format.jsonl": (
        "v1-original", 25, 0, 25, categories(none=25), types(original=11, retweet=3, quote=8, reply=3), {},
    ),
    "gnip_activity_streams.jsonl": (
        "activity-streams", 25, 0, 25, categories(none=25), types(original=11, retweet=3, quote=8, reply=3), {},
    ),
    "archive_tweets.js": ("x-archive", 5, 0, 5, categories(cat=2, dog=1, both=1, none=1), types(original=5), {}),
    "broken_and_unsupported/public_api_sample.json": (
        "v1-original", 20, 0, 20, categories(none=20), types(original=7, retweet=3, quote=8, reply=2), {},
    ),
    "broken_and_unsupported/original_format_missing_user.json": ("v1-original", 1, 0, 1, categories(none=1), types(original=1), {}),
    "broken_and_unsupported/original_format_missing_field.json": ("v1-original", 1, 0, 1, categories(none=1), types(original=1), {}),
    "broken_and_unsupported/original_format_additional_field.json": ("v1-original", 1, 0, 1, categories(none=1), types(original=1), {}),
    "broken_and_unsupported/original_format_missing_quotetweet_field.json": (
        "v1-original", 1, 0, 1, categories(none=1), types(quote=1), {},
    ),
    "broken_and_unsupported/activity_streams_missing_field.json": ("activity-streams", 1, 0, 1, categories(none=1), types(original=1), {}),
    # Despite its name, this file holds an original-format tweet; detection goes by content.
    "broken_and_unsupported/activity_streams_additional_field.json": ("v1-original", 1, 0, 1, categories(none=1), types(original=1), {}),
    "hand_written/v1_cats_dogs.jsonl": (
        "v1-original", 7, 1, 4, categories(cat=2, dog=2), types(original=2, retweet=1, quote=1),
        {"stream control message, no tweet": 1, "mixed formats": 1},
    ),
    "hand_written/twarc2_flat_edited.jsonl": ("twarc2-flat", 3, 0, 2, categories(cat=1, dog=1), types(original=1, retweet=1), {}),
    "hand_written/activity_streams_cats_dogs.jsonl": (
        "activity-streams", 3, 0, 2, categories(cat=1, dog=1), types(original=1, retweet=1),
        {"Gnip system message, no tweet": 1},
    ),
}


@pytest.mark.parametrize("name", list(SAMPLES))
def test_sample_counts(name: str) -> None:
    expected_format, records, blank_lines, tweets, expected_categories, expected_types, rejected = SAMPLES[name]

    report = file_counts(FIXTURES / name)

    assert report["format"] == expected_format
    assert report["records"] == records
    assert report["blank_lines"] == blank_lines
    assert report["tweets"] == tweets
    assert report["categories"] == expected_categories
    assert report["tweet_types"] == expected_types
    assert report["rejected_by_reason"] == rejected


def test_sample_duplicates_counted() -> None:
    assert file_counts(HAND / "v1_cats_dogs.jsonl")["duplicates_skipped"] == 1
    assert file_counts(HAND / "twarc2_flat_edited.jsonl")["duplicates_skipped"] == 1


def test_sample_time_spans() -> None:
    report = file_counts(FIXTURES / "gnip_original_format.jsonl")

    assert report["first_created_at"] == "2017-05-24T19:51:35.000Z"
    assert report["last_created_at"] == "2017-07-18T23:25:04.000Z"


def test_gnip_formats_give_same_documents() -> None:
    """The same 25 tweets in original format and activity streams index as the same documents."""
    fields = ("tweet_id", "created_at", "author_id", "author_username", "lang", "hashtags", "category", "likes",
              "retweets", "replies", "quotes", "engagement", "matching_rules", "tweet_type", "retweet_of")
    documents = {}
    for name in ("gnip_original_format.jsonl", "gnip_activity_streams.jsonl"):
        documents[name] = {
            tweet.message["data"]["id"]: build_document(tweet.message, "2025-01-01T00:00:00.000Z", VOCABULARY)
            for tweet in tweets_of(FIXTURES / name)
        }

    original, activity = documents["gnip_original_format.jsonl"], documents["gnip_activity_streams.jsonl"]
    assert original.keys() == activity.keys()
    for tweet_id in original:
        for field in fields:
            assert original[tweet_id].get(field) == activity[tweet_id].get(field), f"{tweet_id} {field}"


def test_gnip_original_and_activity_deduplicated() -> None:
    total = counts_of(FIXTURES / "gnip_original_format.jsonl", FIXTURES / "gnip_activity_streams.jsonl")

    assert total["tweets"] == 25
    assert total["duplicates_skipped"] == 25


def test_allow_duplicates_keeps_repeats() -> None:
    total = counts_of(
        FIXTURES / "gnip_original_format.jsonl", FIXTURES / "gnip_activity_streams.jsonl", allow_duplicates=True
    )

    assert total["tweets"] == 50
    assert total["duplicates_skipped"] == 0


def test_page_includes_not_counted() -> None:
    tweets = tweets_of(FIXTURES / "twarc2_search_retweet.jsonl")

    assert [tweet.message["data"]["id"] for tweet in tweets] == ["1394735776701816833"]
    assert [t["id"] for t in tweets[0].message["includes"]["tweets"]] == ["1391677057810288641"]
    assert [u["id"] for u in tweets[0].message["includes"]["users"]] == ["6761388266425568996"]


def test_page_edited_tweet_is_latest_version() -> None:
    tweets = tweets_of(FIXTURES / "twarc2_edited_tweet.jsonl")

    assert [tweet.message["data"]["id"] for tweet in tweets] == ["1576994789110992896"]


def test_retweet_document_names_original() -> None:
    tweet = tweets_of(FIXTURES / "twarc2_search_retweet.jsonl")[0]

    document = build_document(tweet.message, "2025-01-01T00:00:00.000Z", VOCABULARY)

    assert document["tweet_type"] == "retweet"
    assert document["retweet_of"] == "1391677057810288641"


def test_v1_retweet_embeds_original_only_in_includes() -> None:
    retweet = tweets_of(HAND / "v1_cats_dogs.jsonl")[1].message

    assert retweet["data"]["id"] == "1002"
    assert retweet["data"]["referenced_tweets"] == [{"type": "retweeted", "id": "1000"}]
    assert [tweet["id"] for tweet in retweet["includes"]["tweets"]] == ["1000"]


def test_v1_extended_tweet_full_text_and_hashtags() -> None:
    extended = tweets_of(HAND / "v1_cats_dogs.jsonl")[3].message["data"]

    assert extended["text"].endswith("every single day #puppy")
    assert extended["entities"]["hashtags"] == [{"tag": "puppy", "start": 104, "end": 110}]


def test_v1_fields_converted() -> None:
    first = tweets_of(HAND / "v1_cats_dogs.jsonl")[0].message

    assert first["data"]["created_at"] == "2025-03-10T10:00:00.000Z"
    assert first["data"]["author_id"] == "501"
    assert first["data"]["public_metrics"] == {"retweet_count": 0, "reply_count": 1, "like_count": 2, "quote_count": 0}
    assert first["includes"]["users"] == [{"id": "501", "username": "ada_cats", "name": "Ada"}]
    assert first["matching_rules"] == [{"id": "7001", "tag": None}]


def test_rounded_numeric_id_ignored() -> None:
    tweets = tweets_of(BROKEN / "public_api_sample.json")

    assert tweets[0].message["data"]["id"] == "872836479608733696"


def test_archive_string_counts_read() -> None:
    first = tweets_of(FIXTURES / "archive_tweets.js")[0].message["data"]

    assert first["public_metrics"]["like_count"] == 14
    assert first["public_metrics"]["retweet_count"] == 2
    assert first["edit_history_tweet_ids"] == ["1050118621096944307"]
    assert first["entities"]["hashtags"] == [{"tag": "cats", "start": 69, "end": 74}]


def test_archive_lines_are_element_starts() -> None:
    lines = [tweet.origin.line for tweet in tweets_of(FIXTURES / "archive_tweets.js")]

    text = (FIXTURES / "archive_tweets.js").read_text(encoding="utf-8").splitlines()
    assert all(text[line - 1].strip() == "{" for line in lines)
    assert lines == sorted(lines)


def test_archive_read_across_small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_values, "CHUNK_BYTES", 7)

    assert len(tweets_of(FIXTURES / "archive_tweets.js")) == 5


def test_archive_retweet_marked_without_id(tmp_path: Path) -> None:
    path = tmp_path / "tweet.js"
    element = {"tweet": {"id_str": "5", "full_text": "RT @someone: #dogs rule", "created_at": "Wed Oct 10 20:19:24 +0000 2018",
                         "entities": {"hashtags": [{"text": "dogs", "indices": ["13", "18"]}]}}}
    path.write_text("window.YTD.tweet.part0 = [" + json.dumps(element, indent=2) + "]", encoding="utf-8")

    tweet = tweets_of(path)[0].message
    document = build_document(tweet, "2025-01-01T00:00:00.000Z", VOCABULARY)

    assert document["tweet_type"] == "retweet"
    assert "retweet_of" not in document
    assert document["category"] == "dog"


def test_archive_cut_off_reported(tmp_path: Path) -> None:
    text = (FIXTURES / "archive_tweets.js").read_text(encoding="utf-8")
    path = tmp_path / "tweets.js"
    path.write_text(text[: text.index('"tweet" : {', 2000) + 40], encoding="utf-8")

    items = items_of(path)

    assert len([item for item in items if isinstance(item, TweetMessage)]) == 2
    assert [item.reason.split(":")[0] for item in items if isinstance(item, RejectedInput)] == ["file cut off"]


def test_archive_unclosed_array_reported(tmp_path: Path) -> None:
    text = (FIXTURES / "archive_tweets.js").read_text(encoding="utf-8")
    path = tmp_path / "tweets.js"
    path.write_text(text.rstrip().removesuffix("]"), encoding="utf-8")

    rejections = rejections_of(path)

    assert [rejection.reason for rejection in rejections] == ["file cut off: the JSON array is not closed after 5 values"]


def test_archive_invalid_json_stops_file(tmp_path: Path) -> None:
    text = (FIXTURES / "archive_tweets.js").read_text(encoding="utf-8")
    second = text.index('"tweet" : {', 2000)
    path = tmp_path / "tweets.js"
    path.write_text(text[:second] + "oops " + text[second:], encoding="utf-8")

    items = items_of(path)

    assert len([item for item in items if isinstance(item, TweetMessage)]) == 2
    assert rejections_of(path)[0].reason.startswith("invalid JSON: ")
    assert rejections_of(path)[0].origin.line == text[:second].count("\n")


DEEP_ARRAY = "[" * 5000 + "]" * 5000


def test_deep_line_rejected_rest_read(tmp_path: Path) -> None:
    deep = tmp_path / "deep.jsonl"
    deep.write_text(v2_line("1", "a #cat") + "\n" + '{"data": ' + DEEP_ARRAY + "}\n" + v2_line("3", "a #dog") + "\n")
    other = tmp_path / "other.jsonl"
    other.write_text(v2_line("4", "a #dog") + "\n")

    files, total = inspect_files([deep, other], VOCABULARY)

    assert [str(sample.origin) for sample in files[0].samples] == [f"{deep}:2"]
    assert files[0].samples[0].reason.startswith("invalid JSON: nested too deeply (")
    assert total.as_json()["categories"] == categories(cat=1, dog=2)


def test_deep_array_file_rejected(tmp_path: Path) -> None:
    deep = tmp_path / "deep.jsonl"
    deep.write_text("\n" + DEEP_ARRAY + "\n" + v2_line("2") + "\n")
    other = tmp_path / "other.jsonl"
    other.write_text(v2_line("4", "a #dog") + "\n")

    files, total = inspect_files([deep, other], VOCABULARY)

    assert [str(sample.origin) for sample in files[0].samples] == [f"{deep}:2"]
    reason = files[0].samples[0].reason
    assert reason.startswith("invalid JSON: nested too deeply in the value at line 2 (")
    assert reason.endswith("; the rest of the file was not read")
    assert total.as_json()["categories"] == categories(dog=1)


def test_pretty_printed_objects_read(tmp_path: Path) -> None:
    path = tmp_path / "tweets.json"
    records = [json.loads(line) for line in (FIXTURES / "gnip_original_format.jsonl").read_text().splitlines()[:3]]
    path.write_text("\n".join(json.dumps(record, indent=2) for record in records) + "\n", encoding="utf-8")

    report = FileReport(str(path))
    tweets = [item for item in read_file(path, report=report) if isinstance(item, TweetMessage)]

    assert report.framing == detect.JSON_SEQUENCE
    assert report.format == "v1-original"
    assert len(tweets) == 3


def test_json_array_of_tweets_read(tmp_path: Path) -> None:
    path = tmp_path / "tweets.json"
    lines = (FIXTURES / "gnip_activity_streams.jsonl").read_text().splitlines()
    path.write_text("[" + ",\n".join(lines) + "]", encoding="utf-8")

    assert file_counts(path)["tweets"] == 25


def test_gzip_detected_by_content(tmp_path: Path) -> None:
    path = tmp_path / "archive.data"
    path.write_bytes(gzip.compress((FIXTURES / "archive_tweets.js").read_bytes()))

    assert file_counts(path)["tweets"] == 5


def test_edited_versions_in_stream_count_latest(tmp_path: Path) -> None:
    path = tmp_path / "edits.jsonl"
    path.write_text(
        "\n".join(
            [
                v2_line("100", "first #cats", edit_history_tweet_ids=["100"]),
                v2_line("101", "second #dogs", edit_history_tweet_ids=["100", "101"]),
                v2_line("102", "third #dogs", edit_history_tweet_ids=["100", "101", "102"]),
                v2_line("200", "other #cats", edit_history_tweet_ids=["200"]),
            ]
        )
        + "\n",
        encoding="utf-8",
    )

    report = file_counts(path)

    assert report["tweets"] == 2
    assert report["categories"] == categories(cat=1, dog=1)
    assert report["duplicates_skipped"] == 2


def test_old_version_alone_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "old.jsonl"
    path.write_text(v2_line("100", "first #cats", edit_history_tweet_ids=["100", "101"]) + "\n", encoding="utf-8")

    assert file_counts(path)["tweets"] == 1


def test_latest_versions_across_files(tmp_path: Path) -> None:
    first = tmp_path / "a.jsonl"
    second = tmp_path / "b.jsonl"
    first.write_text(v2_line("100", edit_history_tweet_ids=["100"]) + "\n", encoding="utf-8")
    second.write_text(v2_line("101", edit_history_tweet_ids=["100", "101"]) + "\n", encoding="utf-8")

    latest = find_latest_versions([first, second])
    tweet_filter = TweetFilter(latest)

    assert latest == {100: 101}
    assert tweet_filter.skip_reason(json.loads(v2_line("100"))).startswith("earlier edit version: ")
    assert tweet_filter.skip_reason(json.loads(v2_line("101", edit_history_tweet_ids=["100", "101"]))) is None


def read_once(tweet_filter: TweetFilter, message: dict) -> str | None:
    """Check a tweet as a replay does, and remember it when it is to be sent."""
    reason = tweet_filter.skip_reason(message)
    if reason is None:
        tweet_filter.remember(message)
    return reason


def test_duplicate_reason_names_id() -> None:
    tweet_filter = TweetFilter({})
    message = json.loads(v2_line("7"))

    assert read_once(tweet_filter, message) is None
    assert read_once(tweet_filter, message) == "duplicate tweet: tweet 7 was already read"
    tweet_filter.reset()
    assert read_once(tweet_filter, message) is None


def test_unremembered_tweet_not_duplicate() -> None:
    tweet_filter = TweetFilter({})
    message = json.loads(v2_line("7"))

    assert tweet_filter.skip_reason(message) is None
    assert tweet_filter.skip_reason(message) is None


def test_inspect_counts_copy_after_rejection(tmp_path: Path) -> None:
    bad = json.loads(v2_line("7"))
    bad["data"]["public_metrics"] = {"like_count": "many"}
    first = tmp_path / "bad.jsonl"
    first.write_text(json.dumps(bad) + "\n", encoding="utf-8")
    second = tmp_path / "good.jsonl"
    second.write_text(v2_line("7") + "\n" + v2_line("7") + "\n", encoding="utf-8")

    total = counts_of(first, second)

    assert total["tweets"] == 1
    assert total["duplicates_skipped"] == 1
    assert total["rejected"] == 1


def test_duplicate_window_bounds_memory() -> None:
    tweet_filter = TweetFilter({}, window=2)
    first, second, third = (json.loads(v2_line(tweet_id)) for tweet_id in ("1", "2", "3"))

    assert read_once(tweet_filter, first) is None
    assert read_once(tweet_filter, second) is None
    assert read_once(tweet_filter, first) is not None
    assert read_once(tweet_filter, third) is None
    assert read_once(tweet_filter, second) is not None
    assert read_once(tweet_filter, first) is None
    assert len(tweet_filter.seen) == 2


def test_keep_alive_lines_counted_not_rejected(tmp_path: Path) -> None:
    path = tmp_path / "stream.jsonl"
    path.write_text("\r\n" + v2_line("1") + "\r\n\r\n" + v2_line("2") + "\r\n", encoding="utf-8")

    report = file_counts(path)

    assert report["blank_lines"] == 2
    assert report["tweets"] == 2
    assert report["rejected"] == 0


def test_error_only_page_rejected(tmp_path: Path) -> None:
    path = tmp_path / "pages.jsonl"
    page = json.loads((FIXTURES / "twarc2_search_retweet.jsonl").read_text())
    error = {"errors": [{"title": "Not Found Error", "detail": "Could not find tweet with ids: [1]."}]}
    path.write_text(json.dumps(page) + "\n" + json.dumps(error) + "\n", encoding="utf-8")

    rejections = rejections_of(path)

    assert [r.origin.line for r in rejections] == [2]
    assert rejections[0].reason == "error-only response page, no tweets: Not Found Error: Could not find tweet with ids: [1]."


def test_empty_page_not_rejected(tmp_path: Path) -> None:
    path = tmp_path / "pages.jsonl"
    page = (FIXTURES / "twarc2_search_retweet.jsonl").read_text().strip()
    path.write_text(page + "\n" + json.dumps({"meta": {"result_count": 0}}) + "\n", encoding="utf-8")

    report = file_counts(path)

    assert report["tweets"] == 1
    assert report["rejected"] == 0


def test_bad_tweet_in_page_rejected_alone(tmp_path: Path) -> None:
    path = tmp_path / "pages.jsonl"
    page = json.loads((FIXTURES / "twarc2_search_retweet.jsonl").read_text())
    page["data"].append({"id": "9", "text": 5})
    path.write_text(json.dumps(page) + "\n", encoding="utf-8")

    report = file_counts(path)

    assert report["tweets"] == 1
    assert report["rejected_by_reason"] == {"not a tweet": 1}


def test_unknown_format_rejects_each_record(tmp_path: Path) -> None:
    path = tmp_path / "users.jsonl"
    path.write_text('{"name": "a"}\n{"name": "b"}\n', encoding="utf-8")

    rejections = rejections_of(path)

    assert [r.origin.line for r in rejections] == [1, 2]
    assert rejections[0].reason == "unknown format: the record is a JSON object with keys name; no known format matched"


def test_format_detected_past_error_messages(tmp_path: Path) -> None:
    path = tmp_path / "stream.jsonl"
    error = json.dumps({"errors": [{"title": "operational-disconnect"}]})
    path.write_text(error + "\n" + v2_line("1") + "\n", encoding="utf-8")

    report = FileReport(str(path))
    items = list(read_file(path, report=report))

    assert report.format == "x-v2-stream"
    assert [type(item).__name__ for item in items] == ["RejectedInput", "TweetMessage"]


def test_forced_format_used(tmp_path: Path) -> None:
    path = tmp_path / "stream.jsonl"
    path.write_text(v2_line("1") + "\n", encoding="utf-8")

    rejections = rejections_of(path, "v1-original")

    assert rejections[0].reason.startswith("mixed formats: this record is x-v2-stream, but the file is v1-original")


def test_invalid_utf8_line_rejected(tmp_path: Path) -> None:
    path = tmp_path / "stream.jsonl"
    path.write_bytes(v2_line("1").encode() + b"\n\xff\xfe\n" + v2_line("3").encode() + b"\n")

    rejections = rejections_of(path)

    assert rejections == [RejectedInput(Origin(str(path), 2), "invalid UTF-8: at byte 0 of the line")]


def test_invalid_utf8_in_archive_rejected(tmp_path: Path) -> None:
    path = tmp_path / "tweets.js"
    path.write_bytes((FIXTURES / "archive_tweets.js").read_bytes().replace(b"napping", b"napp\xffng"))

    rejections = rejections_of(path)

    assert len(rejections) == 1
    assert rejections[0].reason.startswith("invalid UTF-8: byte ")


def test_missing_file_rejected(tmp_path: Path) -> None:
    rejections = rejections_of(tmp_path / "missing.jsonl")

    assert rejections == [RejectedInput(Origin(str(tmp_path / "missing.jsonl"), 0), "file not found; check the path")]


@pytest.mark.parametrize("content", [b"", b"\n\r\n  \n"], ids=["zero bytes", "blank lines"])
def test_empty_file_rejected(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(content)

    rejections = rejections_of(path)

    assert len(rejections) == 1
    assert rejections[0].origin == Origin(str(path), 0)
    assert rejections[0].reason.startswith("empty file: no records")


def test_byte_order_mark_accepted(tmp_path: Path) -> None:
    path = tmp_path / "stream.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + v2_line("1").encode() + b"\n")

    assert file_counts(path)["tweets"] == 1


def test_bad_file_does_not_stop_others(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(gzip.compress(b"\n".join(v2_line(str(i)).encode() for i in range(2000)))[:500])
    missing = tmp_path / "missing.jsonl"
    good = tmp_path / "good.jsonl"
    shutil.copy(FIXTURES / "stream_v2_minimal.jsonl", good)

    total = counts_of(broken, missing, good)

    assert total["categories"]["none"] > 1  # the plain tweets before the corrupt gzip data
    assert total["categories"] | {"none": 1} == categories(cat=2, dog=2, both=1, none=1)
    assert total["rejected_by_reason"]["file not found; check the path"] == 1
    assert any(reason.startswith("gzip data is corrupt") for reason in total["rejected_by_reason"])


def test_v1_timestamp_converted() -> None:
    assert v1_timestamp_to_iso("Wed Oct 10 20:19:24 +0000 2018") == "2018-10-10T20:19:24.000Z"


@pytest.mark.parametrize("value", ["2018-10-10T20:19:24Z", "Wed Oct 10 20:19:24 +0200 2018", 5])
def test_v1_timestamp_invalid(value: object) -> None:
    with pytest.raises(BadRecord):
        v1_timestamp_to_iso(value)


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"data": {"id": "1", "text": "x"}}, "x-v2-stream"),
        ({"data": [], "meta": {}}, "twarc2-pages"),
        ({"id": "1", "text": "x", "author_id": "2", "author": {}}, "twarc2-flat"),
        ({"id": "1", "text": "x", "created_at": "2021-01-01T00:00:00.000Z"}, "twarc2-flat"),
        ({"id_str": "1", "text": "x", "user": {}}, "v1-original"),
        ({"verb": "post", "actor": {}}, "activity-streams"),
        ({"tweet": {"id_str": "1"}}, "x-archive"),
        ({"name": "x"}, None),
        ([1, 2], None),
    ],
)
def test_classify_records(record: Any, expected: str | None) -> None:
    assert detect.classify(record) == expected


def test_framing_detected() -> None:
    assert detect.detect_framing("window.YTD.tweets.part0 = [") == detect.JSON_SEQUENCE
    assert detect.detect_framing("[{") == detect.JSON_SEQUENCE
    assert detect.detect_framing("{") == detect.JSON_SEQUENCE
    assert detect.detect_framing('{"data": {}}') == detect.LINES


def test_cut_off_gzip_keeps_its_format(tmp_path: Path) -> None:
    lines = (FIXTURES / "stream_v2_minimal.jsonl").read_bytes() * 200
    compressed = gzip.compress(lines)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    report = FileReport(str(path))

    items = list(read_file(path, None, report))

    assert report.format == "x-v2-stream"
    assert report.tweets > 0
    assert "gzip data is corrupt or truncated" in items[-1].reason
