"""Checks of the bundled synthetic recording in replay_data/ and of its generator.

The categoriser of tests/expected_counts.py is written independently of
replay_data/generate.py and of the transform: it reads only the hashtag
entities and rule tags of each message, and its result must match the
generator's sidecar counts.
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.expected_counts import CAT_WORDS, DOG_WORDS, expected_category

REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATOR = REPO_ROOT / "replay_data" / "generate.py"
RECORDING = REPO_ROOT / "replay_data" / "cats_v_dogs.jsonl.gz"
COUNTS = REPO_ROOT / "replay_data" / "cats_v_dogs.counts.json"

CREATED_AT_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$")
PUBLIC_METRICS_KEYS = ["retweet_count", "reply_count", "like_count", "quote_count", "bookmark_count", "impression_count"]


def parse_created_at(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.000Z").replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def messages() -> list[dict]:
    with gzip.open(RECORDING, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def counts() -> dict:
    return json.loads(COUNTS.read_text(encoding="utf-8"))


def run_generator(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GENERATOR), *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_regenerated_recording_is_byte_identical(tmp_path: Path) -> None:
    output = tmp_path / "cats_v_dogs.jsonl.gz"

    result = run_generator("--output", str(output))

    assert result.returncode == 0, result.stderr
    assert output.read_bytes() == RECORDING.read_bytes()
    assert (tmp_path / "cats_v_dogs.counts.json").read_bytes() == COUNTS.read_bytes()


def test_generator_output_depends_on_seed(tmp_path: Path) -> None:
    first = tmp_path / "first.jsonl.gz"
    second = tmp_path / "second.jsonl.gz"
    other_seed = tmp_path / "other.jsonl.gz"

    for output, seed in ((first, "3"), (second, "3"), (other_seed, "4")):
        result = run_generator("--count", "300", "--minutes", "5", "--users", "50", "--seed", seed, "--output", str(output))
        assert result.returncode == 0, result.stderr

    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other_seed.read_bytes()
    assert (tmp_path / "first.counts.json").exists()


@pytest.mark.parametrize(
    "arguments",
    [
        ("--count", "0"),
        ("--minutes", "-5"),
        ("--start", "2025-03-15T17:00:00"),
        ("--start", "yesterday"),
    ],
)
def test_generator_rejects_invalid_arguments(tmp_path: Path, arguments: tuple[str, ...]) -> None:
    result = run_generator(*arguments, "--output", str(tmp_path / "out.jsonl.gz"))

    assert result.returncode == 2
    assert "error:" in result.stderr
    assert not (tmp_path / "out.jsonl.gz").exists()


def test_gzip_header_has_no_name_or_mtime() -> None:
    header = RECORDING.read_bytes()[:10]

    assert header[:3] == b"\x1f\x8b\x08"
    assert header[3] == 0, "FLG must be 0: no file name or comment"
    assert header[4:8] == b"\x00\x00\x00\x00", "MTIME must be 0"


def test_recording_stays_small() -> None:
    assert RECORDING.stat().st_size < 5_000_000


def test_recording_line_count(messages: list[dict], counts: dict) -> None:
    assert len(messages) >= 20_000
    assert len(messages) == counts["total"]


def test_sidecar_counts_match_recount(messages: list[dict], counts: dict) -> None:
    recount = Counter(expected_category(message) for message in messages)

    assert dict(recount) == {category: count for category, count in counts["categories"].items() if count}
    assert sum(counts["categories"].values()) == counts["total"]


def test_category_shares_roughly_as_designed(messages: list[dict]) -> None:
    shares = Counter(expected_category(message) for message in messages)
    total = len(messages)

    assert 0.40 <= shares["dog"] / total <= 0.52
    assert 0.33 <= shares["cat"] / total <= 0.45
    assert 0.04 <= shares["both"] / total <= 0.10
    assert 0.05 <= shares["none"] / total <= 0.11


def test_created_at_sorted_and_spans_an_hour(messages: list[dict], counts: dict) -> None:
    created = [message["data"]["created_at"] for message in messages]

    assert all(CREATED_AT_PATTERN.match(value) for value in created)
    assert created == sorted(created)
    assert parse_created_at(created[-1]) - parse_created_at(created[0]) >= timedelta(hours=1)
    assert created[0] == counts["first_created_at"]
    assert created[-1] == counts["last_created_at"]


def test_tweet_ids_unique_and_increasing(messages: list[dict]) -> None:
    ids = [message["data"]["id"] for message in messages]

    assert all(len(tweet_id) == 19 and tweet_id.isdigit() for tweet_id in ids)
    assert len(set(ids)) == len(ids)
    numbers = [int(tweet_id) for tweet_id in ids]
    assert all(earlier < later for earlier, later in zip(numbers, numbers[1:]))


def test_tweet_ids_encode_created_at(messages: list[dict]) -> None:
    twitter_epoch_ms = 1_288_834_974_657
    for message in messages[:: len(messages) // 200]:
        id_ms = (int(message["data"]["id"]) >> 22) + twitter_epoch_ms
        created_ms = int(parse_created_at(message["data"]["created_at"]).timestamp() * 1000)
        # created_at drops the milliseconds that the id keeps.
        assert 0 <= id_ms - created_ms < 1000, message["data"]["id"]


def test_hashtag_offsets_point_at_hashtags(messages: list[dict]) -> None:
    checked = 0
    for message in messages:
        text = message["data"]["text"]
        for hashtag in message["data"].get("entities", {}).get("hashtags", []):
            assert text[hashtag["start"] : hashtag["end"]] == "#" + hashtag["tag"], message["data"]["id"]
            checked += 1
    assert checked > len(messages)


def test_entities_omitted_without_hashtags(messages: list[dict]) -> None:
    without = [message for message in messages if "entities" not in message["data"]]

    assert without, "some tweets should have no hashtags"
    assert all(message["data"]["entities"]["hashtags"] for message in messages if "entities" in message["data"])


def test_message_shape_matches_filtered_stream(messages: list[dict]) -> None:
    for message in messages:
        data = message["data"]
        assert list(message) == ["data", "includes", "matching_rules"]
        assert list(data)[:7] == ["id", "text", "edit_history_tweet_ids", "created_at", "author_id", "lang", "public_metrics"]
        assert data["edit_history_tweet_ids"] == [data["id"]]
        assert list(data["public_metrics"]) == PUBLIC_METRICS_KEYS
        assert all(isinstance(value, int) and value >= 0 for value in data["public_metrics"].values())
        assert message["includes"]["users"][0]["id"] == data["author_id"]
        assert list(message["includes"]["users"][0]) == ["id", "name", "username"]
        assert message["matching_rules"]
        assert all(list(rule) == ["id", "tag"] for rule in message["matching_rules"])
        assert len(data["text"]) <= 280


def test_rule_tags_include_untagged_rules(messages: list[dict]) -> None:
    tags = Counter(rule["tag"] for message in messages for rule in message["matching_rules"])

    assert tags["cats"] > 0
    assert tags["dogs"] > 0
    assert tags["pets"] > 0
    assert tags[None] > 0


def test_some_tweets_categorised_only_by_rule(messages: list[dict]) -> None:
    rule_only = 0
    for message in messages:
        hashtags = {hashtag["tag"].lower() for hashtag in message["data"].get("entities", {}).get("hashtags", [])}
        if expected_category(message) != "none" and not hashtags & (CAT_WORDS | DOG_WORDS):
            rule_only += 1

    assert rule_only >= 500


def test_hashtags_mix_case_and_non_vocabulary(messages: list[dict]) -> None:
    tags = Counter(hashtag["tag"] for message in messages for hashtag in message["data"].get("entities", {}).get("hashtags", []))

    assert any(tag != tag.lower() and tag.lower() in CAT_WORDS for tag in tags)
    assert any(tag != tag.lower() and tag.lower() in DOG_WORDS for tag in tags)
    assert tags["caturday"] > 0


def test_caturday_alone_means_none(messages: list[dict]) -> None:
    none_messages = [message for message in messages if expected_category(message) == "none"]

    assert any(
        hashtag["tag"].lower() == "caturday"
        for message in none_messages
        for hashtag in message["data"].get("entities", {}).get("hashtags", [])
    )


def test_several_languages_present(messages: list[dict], counts: dict) -> None:
    languages = Counter(message["data"]["lang"] for message in messages)

    assert {"en", "es", "fr", "de", "ja", "pt"} <= set(languages)
    assert dict(sorted(languages.items())) == counts["languages"]


def test_some_texts_contain_emoji(messages: list[dict]) -> None:
    with_emoji = sum(1 for message in messages if any(ord(character) >= 0x1F300 for character in message["data"]["text"]))

    assert with_emoji >= len(messages) // 10


def test_users_are_invented_and_consistent(messages: list[dict], counts: dict) -> None:
    users: dict[str, dict] = {}
    for message in messages:
        user = message["includes"]["users"][0]
        assert users.setdefault(user["id"], user) == user
    usernames = [user["username"] for user in users.values()]

    assert 1_000 <= len(users) <= 5_000
    assert len(users) == counts["authors"]
    assert all(username.startswith("syn_") and len(username) <= 15 for username in usernames)
    assert len(set(usernames)) == len(usernames)


def test_engagement_is_heavy_tailed(messages: list[dict]) -> None:
    likes = [message["data"]["public_metrics"]["like_count"] for message in messages]
    retweets = [message["data"]["public_metrics"]["retweet_count"] for message in messages]

    assert statistics.median(likes) <= 5
    assert sum(1 for count in likes if count <= 5) / len(likes) >= 0.8
    assert max(likes) >= 1_000
    assert statistics.correlation(likes, retweets) > 0.5


def test_tweet_rate_varies_over_time(messages: list[dict]) -> None:
    per_minute = Counter(message["data"]["created_at"][:16] for message in messages)

    assert max(per_minute.values()) >= 3 * statistics.median(per_minute.values())
