"""Unit tests of the X API v2 stream message parser on recorded and hand-made lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catsvdogs.formats.v2_stream import BadLine, parse_message

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MINIMAL = FIXTURES / "stream_v2_minimal.jsonl"
CUTOFF = FIXTURES / "twarc2_stream_cutoff.jsonl"

# Line numbers of the fixture lines that carry a tweet, with the tweet's id.
MINIMAL_TWEETS = {
    1: "1900578210756702208",
    2: "1900578240691449857",
    3: "1900578291597717506",
    5: "1900578350892593155",
    6: "1900578414381772804",
    7: "1900578473676648453",
}
CUTOFF_TWEETS = {
    1: "1377650090978992134",
    2: "1377650093109743620",
    3: "1377650277642338305",
    4: "1377650387579248643",
    5: "1377650459033280516",
    6: "1377650500687044618",
    7: "1377650529766154240",
}


def fixture_line(path: Path, number: int) -> str:
    return path.read_text(encoding="utf-8").splitlines()[number - 1]


def tweet(**data: object) -> str:
    return json.dumps({"data": {"id": "1", "text": "hello", **data}})


TWEET_CASES = [(MINIMAL, number, tweet_id) for number, tweet_id in MINIMAL_TWEETS.items()] + [
    (CUTOFF, number, tweet_id) for number, tweet_id in CUTOFF_TWEETS.items()
]


@pytest.mark.parametrize(
    ("path", "number", "tweet_id"), TWEET_CASES, ids=[f"{path.stem}:{number}" for path, number, _ in TWEET_CASES]
)
def test_fixture_tweet_parses(path: Path, number: int, tweet_id: str) -> None:
    message = parse_message(fixture_line(path, number))

    assert message["data"]["id"] == tweet_id
    assert isinstance(message["data"]["text"], str)


def test_fixture_message_returned_whole() -> None:
    line = fixture_line(CUTOFF, 4)

    message = parse_message(line)

    assert message == json.loads(line)


def test_fixture_error_message_rejected() -> None:
    line = fixture_line(MINIMAL, 8)

    with pytest.raises(BadLine) as caught:
        parse_message(line)

    assert str(caught.value) == (
        "stream error message, no tweet: operational-disconnect: "
        "This stream has been disconnected upstream for operational reasons."
    )


def test_fixture_cut_off_line_rejected() -> None:
    line = CUTOFF.read_text(encoding="utf-8").splitlines()[-1]

    with pytest.raises(BadLine) as caught:
        parse_message(line, cut_off=True)

    assert str(caught.value) == "line cut off: the file ends mid-JSON after 44 characters"


def test_fixture_keep_alive_line_rejected() -> None:
    line = fixture_line(MINIMAL, 4)

    with pytest.raises(BadLine) as caught:
        parse_message(line)

    assert str(caught.value).startswith("invalid JSON")


def test_cut_off_flag_ignored_for_valid_json() -> None:
    message = parse_message(tweet(), cut_off=True)

    assert message["data"]["id"] == "1"


def test_invalid_json_names_column() -> None:
    with pytest.raises(BadLine) as caught:
        parse_message('{"data": {"id": "1",, "text": "x"}}')

    assert str(caught.value) == "invalid JSON: Expecting property name enclosed in double quotes at column 21"


def test_invalid_json_keeps_cause() -> None:
    with pytest.raises(BadLine) as caught:
        parse_message("{")

    assert isinstance(caught.value.__cause__, json.JSONDecodeError)


def test_bad_line_is_value_error() -> None:
    assert issubclass(BadLine, ValueError)


@pytest.mark.parametrize(
    ("text", "found"),
    [("[1, 2]", "list"), ('"tweet"', "str"), ("42", "int"), ("null", "NoneType")],
)
def test_non_object_rejected(text: str, found: str) -> None:
    with pytest.raises(BadLine) as caught:
        parse_message(text)

    assert str(caught.value) == f"not a stream message: expected a JSON object, found {found}"


def test_response_page_rejected() -> None:
    page = json.dumps({"data": [{"id": "1", "text": "a"}, {"id": "2", "text": "b"}], "meta": {"result_count": 2}})

    with pytest.raises(BadLine) as caught:
        parse_message(page)

    assert str(caught.value).startswith("a response page with 2 tweets, not a stream message")


def test_message_without_data_rejected() -> None:
    with pytest.raises(BadLine) as caught:
        parse_message(json.dumps({"includes": {}}))

    assert str(caught.value) == "not a stream message: no 'data' object"


@pytest.mark.parametrize("data", ["tweet", 7, True])
def test_data_not_object_rejected(data: object) -> None:
    with pytest.raises(BadLine) as caught:
        parse_message(json.dumps({"data": data}))

    assert str(caught.value) == f"not a tweet: 'data' is {type(data).__name__}, expected an object"


@pytest.mark.parametrize(
    "data", [{"text": "x"}, {"id": "", "text": "x"}, {"id": 1, "text": "x"}, {"id": None, "text": "x"}]
)
def test_missing_id_rejected(data: dict[str, object]) -> None:
    with pytest.raises(BadLine) as caught:
        parse_message(json.dumps({"data": data}))

    assert str(caught.value) == "not a tweet: 'data.id' is missing or not a string"


@pytest.mark.parametrize("text", [None, 5, ["a"]])
def test_text_not_string_rejected(text: object) -> None:
    with pytest.raises(BadLine) as caught:
        parse_message(tweet(text=text))

    assert str(caught.value) == "not a tweet: 'data.text' of tweet 1 is missing or not a string"


def test_missing_text_rejected() -> None:
    with pytest.raises(BadLine) as caught:
        parse_message(json.dumps({"data": {"id": "1"}}))

    assert str(caught.value) == "not a tweet: 'data.text' of tweet 1 is missing or not a string"


def test_empty_text_accepted() -> None:
    message = parse_message(tweet(text=""))

    assert message["data"]["text"] == ""


@pytest.mark.parametrize("created_at", [1710432131, ["2025-03-14T16:02:11.000Z"], {"value": "x"}])
def test_created_at_not_string_rejected(created_at: object) -> None:
    with pytest.raises(BadLine) as caught:
        parse_message(tweet(created_at=created_at))

    assert str(caught.value) == "not a tweet: 'data.created_at' of tweet 1 is not a string"


def test_created_at_optional() -> None:
    message = parse_message(tweet(created_at=None))

    assert message["data"]["created_at"] is None


def test_several_errors_counted() -> None:
    errors = [{"title": "first", "detail": "went wrong"}, {"title": "second"}, {"title": "third"}]

    with pytest.raises(BadLine) as caught:
        parse_message(json.dumps({"errors": errors}))

    assert str(caught.value) == "stream error message, no tweet: first: went wrong (+2 more)"


def test_error_without_detail_shows_title() -> None:
    with pytest.raises(BadLine) as caught:
        parse_message(json.dumps({"errors": [{"title": "ConnectionException"}]}))

    assert str(caught.value) == "stream error message, no tweet: ConnectionException"


def test_error_type_and_message_fallback() -> None:
    errors = [{"type": "https://api.twitter.com/2/problems/x", "message": "too many connections"}]

    with pytest.raises(BadLine) as caught:
        parse_message(json.dumps({"errors": errors}))

    expected = "stream error message, no tweet: https://api.twitter.com/2/problems/x: too many connections"
    assert str(caught.value) == expected


@pytest.mark.parametrize("errors", [[], None, "boom", {"title": "x"}])
def test_error_without_details(errors: object) -> None:
    with pytest.raises(BadLine) as caught:
        parse_message(json.dumps({"errors": errors}))

    assert str(caught.value) == "stream error message, no tweet: no details"


def test_error_entry_not_object() -> None:
    with pytest.raises(BadLine) as caught:
        parse_message(json.dumps({"errors": ["boom"]}))

    assert str(caught.value) == "stream error message, no tweet: error"


def test_tweet_with_errors_accepted() -> None:
    line = json.dumps({"data": {"id": "1", "text": "x"}, "errors": [{"title": "Not Found Error"}]})

    message = parse_message(line)

    assert message["data"]["id"] == "1"


def test_deep_message_is_bad_line() -> None:
    with pytest.raises(BadLine, match="^invalid JSON: nested too deeply"):
        parse_message("[" * 5000 + "]" * 5000)
