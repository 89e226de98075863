"""Unit tests of the settings read from environment variables."""

from __future__ import annotations

import pytest

from catsvdogs import config
from catsvdogs.config import default_bucket_name, load_settings, parse_word_list

DEFAULTS = [
    ("aws_endpoint_url", None),
    ("region", "us-east-1"),
    ("stack_name", "catsvdogs"),
    ("bucket", None),
    ("artifact_bucket", None),
    ("stream_name", "catsvdogs-tweets"),
    ("function_name", "catsvdogs-transform"),
    ("domain_name", "catsvdogs"),
    ("index_name", "tweets"),
    ("opensearch_url", "http://localhost:9200"),
    ("dashboards_url", "http://localhost:5601"),
    ("cat_words", ("cat", "cats", "kitty", "kitten")),
    ("dog_words", ("dog", "dogs", "doggo", "doggy", "puppy")),
]

OVERRIDES = [
    ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566", "aws_endpoint_url", "http://127.0.0.1:4566"),
    ("AWS_REGION", "eu-west-1", "region", "eu-west-1"),
    ("CATSVDOGS_STACK", "pets", "stack_name", "pets"),
    ("CATSVDOGS_BUCKET", "pets-backup", "bucket", "pets-backup"),
    ("CATSVDOGS_ARTIFACT_BUCKET", "pets-artifacts", "artifact_bucket", "pets-artifacts"),
    ("CATSVDOGS_STREAM", "pets-tweets", "stream_name", "pets-tweets"),
    ("CATSVDOGS_FUNCTION", "pets-transform", "function_name", "pets-transform"),
    ("CATSVDOGS_DOMAIN", "pets", "domain_name", "pets"),
    ("CATSVDOGS_INDEX", "pet-tweets", "index_name", "pet-tweets"),
    ("OPENSEARCH_URL", "https://search.example:9200", "opensearch_url", "https://search.example:9200"),
    ("OPENSEARCH_DASHBOARDS_URL", "https://dashboards.example", "dashboards_url", "https://dashboards.example"),
    ("CATSVDOGS_CAT_WORDS", "lion,tiger", "cat_words", ("lion", "tiger")),
    ("CATSVDOGS_DOG_WORDS", "wolf", "dog_words", ("wolf",)),
]


@pytest.mark.parametrize(("field", "expected"), DEFAULTS, ids=[field for field, _ in DEFAULTS])
def test_default_when_unset(field: str, expected: object) -> None:
    settings = load_settings({})

    assert getattr(settings, field) == expected


@pytest.mark.parametrize(("field", "expected"), DEFAULTS, ids=[field for field, _ in DEFAULTS])
def test_default_when_blank(field: str, expected: object) -> None:
    blank = {name: "  " for name in config.ENVIRONMENT_VARIABLES}
    blank["AWS_DEFAULT_REGION"] = ""

    settings = load_settings(blank)

    assert getattr(settings, field) == expected


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"), OVERRIDES, ids=[variable for variable, *_ in OVERRIDES]
)
def test_environment_overrides_default(variable: str, value: str, field: str, expected: object) -> None:
    settings = load_settings({variable: value})

    assert getattr(settings, field) == expected


def test_values_stripped() -> None:
    settings = load_settings({"CATSVDOGS_STREAM": "  pets-tweets\n", "CATSVDOGS_BUCKET": " pets-backup "})

    assert settings.stream_name == "pets-tweets"
    assert settings.bucket == "pets-backup"


def test_aws_region_wins_over_default_region() -> None:
    settings = load_settings({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "ap-south-1"})

    assert settings.region == "eu-west-1"


def test_default_region_used_without_aws_region() -> None:
    settings = load_settings({"AWS_DEFAULT_REGION": "ap-south-1"})

    assert settings.region == "ap-south-1"


def test_blank_region_uses_default_region() -> None:
    settings = load_settings({"AWS_REGION": " ", "AWS_DEFAULT_REGION": "ap-south-1"})

    assert settings.region == "ap-south-1"


def test_word_list_normalized() -> None:
    assert parse_word_list("#Cats, DOGS,,") == ("cats", "dogs")


@pytest.mark.parametrize("value", ["", ",", " , ,", "#", "# , #"])
def test_word_list_without_words_empty(value: str) -> None:
    assert parse_word_list(value) == ()


def test_word_list_keeps_order_and_duplicates() -> None:
    assert parse_word_list("kitty, Cat, kitty") == ("kitty", "cat", "kitty")


def test_word_list_from_environment() -> None:
    settings = load_settings({"CATSVDOGS_CAT_WORDS": "#Cats, KITTY,,", "CATSVDOGS_DOG_WORDS": " #puppy "})

    assert settings.cat_words == ("cats", "kitty")
    assert settings.dog_words == ("puppy",)


@pytest.mark.parametrize("url", ["http://search:9200/", "http://search:9200//"])
def test_opensearch_url_trailing_slash_stripped(url: str) -> None:
    settings = load_settings({"OPENSEARCH_URL": url})

    assert settings.opensearch_url == "http://search:9200"


def test_dashboards_url_trailing_slash_stripped() -> None:
    settings = load_settings({"OPENSEARCH_DASHBOARDS_URL": "http://dashboards:5601/"})

    assert settings.dashboards_url == "http://dashboards:5601"


def test_unset_endpoint_means_real_aws() -> None:
    settings = load_settings({})

    assert settings.aws_endpoint_url is None
    assert settings.uses_real_aws


def test_blank_endpoint_means_real_aws() -> None:
    settings = load_settings({"AWS_ENDPOINT_URL": "  "})

    assert settings.aws_endpoint_url is None
    assert settings.uses_real_aws


def test_endpoint_means_emulator() -> None:
    settings = load_settings({"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"})

    assert not settings.uses_real_aws


def test_process_environment_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATSVDOGS_STREAM", "from-process")

    settings = load_settings()

    assert settings.stream_name == "from-process"


def test_describe_lists_every_field() -> None:
    settings = load_settings({"CATSVDOGS_STREAM": "pets-tweets"})

    described = settings.describe()

    assert described["stream_name"] == "pets-tweets"
    assert set(described) == set(settings.__dataclass_fields__)


def test_settings_frozen() -> None:
    settings = load_settings({})

    with pytest.raises(AttributeError):
        settings.region = "eu-west-1"  # type: ignore[misc]


def test_default_bucket_name_has_account_and_region() -> None:
    assert default_bucket_name("backup", "123456789012", "eu-west-1") == "catsvdogs-backup-123456789012-eu-west-1"


def test_environment_table_covers_read_variables() -> None:
    read = {variable for variable, *_ in OVERRIDES}

    assert read <= set(config.ENVIRONMENT_VARIABLES)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("127.0.0.1:4566", "it must start with http:// or https://"),
        ("http://127.0.0.1:99999", "Port out of range 0-65535"),
        ("http://127.0.0.1:abc", "Port could not be cast to integer value as 'abc'"),
        ("http://[::1/x", "Invalid IPv6 URL"),
        ("http:///path", "it names no host"),
    ],
)
def test_unusable_url_named(url: str, problem: str) -> None:
    assert config.url_problem(url, ("http", "https")) == problem


@pytest.mark.parametrize("url", ["http://127.0.0.1:4566", "https://search.example.com", "http://[::1]:9200/"])
def test_usable_url_accepted(url: str) -> None:
    assert config.url_problem(url, ("http", "https")) is None


def test_first_bad_url_variable_reported() -> None:
    environ = {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "OPENSEARCH_URL": "localhost:9200", "X_API_URL": "ftp://x"}

    message = config.check_url_variables(environ)

    assert message == (
        "OPENSEARCH_URL='localhost:9200' is not a usable URL: it must start with http:// or https://. "
        "Set it to a URL such as http://127.0.0.1:9200, or unset it"
    )


def test_unset_url_variables_pass() -> None:
    assert config.check_url_variables({"AWS_ENDPOINT_URL": " ", "OPENSEARCH_URL": ""}) is None
