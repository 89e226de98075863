"""Unit tests of the transform's vocabulary parsing, category and sentiment."""

from __future__ import annotations

import base64
import json

import pytest

from catsvdogs import config
from catsvdogs.transform.category import (
    DEFAULT_CAT_WORDS,
    DEFAULT_DOG_WORDS,
    classify,
    load_vocabulary,
    parse_word_list,
)
from catsvdogs.transform.handler import handler
from catsvdogs.transform.sentiment import analyzer, label_score, score_text

WORD_LISTS = [
    "cat,cats,kitty,kitten",
    " Cat , #Cats,,KITTY ",
    "#",
    "",
    " , ,",
    "lion, #Tiger,Jaguar ",
    "chat,Katze,gato",
]


@pytest.mark.parametrize("value", WORD_LISTS)
def test_word_list_matches_config(value: str) -> None:
    assert parse_word_list(value) == config.parse_word_list(value)


def test_defaults_match_config() -> None:
    assert DEFAULT_CAT_WORDS == config.DEFAULT_CAT_WORDS
    assert DEFAULT_DOG_WORDS == config.DEFAULT_DOG_WORDS


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"CATSVDOGS_CAT_WORDS": "lion,#Tiger", "CATSVDOGS_DOG_WORDS": " wolf "},
        {"CATSVDOGS_CAT_WORDS": "   ", "CATSVDOGS_DOG_WORDS": ""},
        {"CATSVDOGS_CAT_WORDS": ",", "CATSVDOGS_DOG_WORDS": "dog"},
    ],
)
def test_vocabulary_matches_config(environ: dict[str, str]) -> None:
    settings = config.load_settings(environ)

    vocabulary = load_vocabulary(environ)

    assert vocabulary.cat_words == frozenset(settings.cat_words)
    assert vocabulary.dog_words == frozenset(settings.dog_words)


def test_classify_normalizes_rule_tags() -> None:
    vocabulary = load_vocabulary({})

    assert classify([], [" #Cats "], vocabulary) == "cat"


def test_classify_word_in_both_lists() -> None:
    vocabulary = load_vocabulary({"CATSVDOGS_CAT_WORDS": "pet", "CATSVDOGS_DOG_WORDS": "pet"})

    assert classify(["pet"], [], vocabulary) == "both"


def tweet_record(hashtag: str) -> dict[str, object]:
    message = {
        "data": {"id": "1", "text": f"Look at this #{hashtag}", "entities": {"hashtags": [{"tag": hashtag}]}},
    }
    data = base64.b64encode(json.dumps(message).encode("utf-8") + b"\n").decode("ascii")
    return {"recordId": hashtag, "approximateArrivalTimestamp": 1764878400250, "data": data}


def handler_categories(hashtags: list[str]) -> list[str]:
    response = handler({"records": [tweet_record(tag) for tag in hashtags]}, None)
    return [json.loads(base64.b64decode(record["data"]))["category"] for record in response["records"]]


def test_handler_reads_vocabulary_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATSVDOGS_CAT_WORDS", "lion, #Tiger")
    monkeypatch.setenv("CATSVDOGS_DOG_WORDS", "wolf")

    assert handler_categories(["tiger", "Wolf", "cats", "dog"]) == ["cat", "dog", "none", "none"]


def test_handler_default_vocabulary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CATSVDOGS_CAT_WORDS", raising=False)
    monkeypatch.delenv("CATSVDOGS_DOG_WORDS", raising=False)

    assert handler_categories(["tiger", "kitty", "doggo"]) == ["none", "cat", "dog"]


@pytest.mark.parametrize(
    ("score", "label"),
    [(0.05, "positive"), (0.9, "positive"), (0.0499, "neutral"), (0.0, "neutral"), (-0.0499, "neutral"), (-0.05, "negative"), (-1.0, "negative")],
)
def test_label_thresholds(score: float, label: str) -> None:
    assert label_score(score) == label


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I love my dog, she is the best!", "positive"),
        ("The cat knocked my coffee over and I hate Mondays.", "negative"),
        ("The cat is on the mat.", "neutral"),
    ],
)
def test_sentiment_of_text(text: str, label: str) -> None:
    assert score_text(text).label == label


def test_sentiment_score_rounded() -> None:
    score = score_text("Muddy paws, happy heart. #dog #puppy").score

    assert score == round(score, 4)
    assert -1.0 <= score <= 1.0


def test_analyzer_built_once() -> None:
    assert analyzer() is analyzer()
