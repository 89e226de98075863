"""Settings of the pipeline, read from environment variables in one place.

The defaults match the Docker Compose stack. AWS credentials are never read
here: boto3 takes them from its standard chain (environment, shared config
files, instance roles), and the endpoint from ``AWS_ENDPOINT_URL``, which
boto3 also reads itself. Unset, it means real AWS.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from urllib.parse import urlsplit

DEFAULT_REGION = "us-east-1"
DEFAULT_STACK_NAME = "catsvdogs"
DEFAULT_STREAM_NAME = "catsvdogs-tweets"
DEFAULT_FUNCTION_NAME = "catsvdogs-transform"
DEFAULT_DOMAIN_NAME = "catsvdogs"
DEFAULT_INDEX_NAME = "tweets"
DEFAULT_OPENSEARCH_URL = "http://localhost:9200"
DEFAULT_DASHBOARDS_URL = "http://localhost:5601"
DEFAULT_CAT_WORDS = "cat,cats,kitty,kitten"
DEFAULT_DOG_WORDS = "dog,dogs,doggo,doggy,puppy"
DEFAULT_BACKUP_PREFIX = "raw/"

# Every environment variable the package reads, with its meaning. The compose
# file and .env.example are checked against this table by the tests.
ENVIRONMENT_VARIABLES: dict[str, str] = {
    "AWS_ENDPOINT_URL": "AWS API endpoint, e.g. http://localhost:4566 for LocalStack; unset means real AWS",
    "AWS_REGION": f"AWS region (default {DEFAULT_REGION}; AWS_DEFAULT_REGION is read too)",
    "CATSVDOGS_STACK": f"CloudFormation stack name (default {DEFAULT_STACK_NAME})",
    "CATSVDOGS_BUCKET": "S3 bucket for the raw-record backup (default catsvdogs-backup-ACCOUNT-REGION)",
    "CATSVDOGS_ARTIFACT_BUCKET": "S3 bucket for the Lambda zip (default catsvdogs-artifacts-ACCOUNT-REGION)",
    "CATSVDOGS_STREAM": f"Firehose delivery stream name (default {DEFAULT_STREAM_NAME})",
    "CATSVDOGS_FUNCTION": f"transform Lambda function name (default {DEFAULT_FUNCTION_NAME})",
    "CATSVDOGS_DOMAIN": f"OpenSearch domain name (default {DEFAULT_DOMAIN_NAME})",
    "CATSVDOGS_INDEX": f"OpenSearch index that receives the tweets (default {DEFAULT_INDEX_NAME})",
    "OPENSEARCH_URL": f"OpenSearch URL used for the index template and queries (default {DEFAULT_OPENSEARCH_URL})",
    "OPENSEARCH_DASHBOARDS_URL": f"OpenSearch Dashboards URL that receives the saved objects (default {DEFAULT_DASHBOARDS_URL})",
    "CATSVDOGS_CAT_WORDS": f"comma-separated hashtags and rule tags that mean cat (default {DEFAULT_CAT_WORDS})",
    "CATSVDOGS_DOG_WORDS": f"comma-separated hashtags and rule tags that mean dog (default {DEFAULT_DOG_WORDS})",
    "X_BEARER_TOKEN": "bearer token of the X app for `stream --source x` (never logged); or use X_BEARER_TOKEN_FILE",
    "X_BEARER_TOKEN_FILE": "file that contains the X bearer token, instead of X_BEARER_TOKEN",
    "X_API_URL": "base URL of the X API (default https://api.x.com)",
    "X_STREAM_RULES_FILE": "JSON list of filtered-stream rules {value, tag} (default: one hashtag rule for cats, one for dogs)",
    "BLUESKY_JETSTREAM_URLS": "comma-separated Jetstream subscribe URLs, tried in order on failures (default: the four public instances)",
}


@dataclass(frozen=True)
class Settings:
    """Effective settings of one run; bucket names stay None until the account is known."""

    aws_endpoint_url: str | None
    region: str
    stack_name: str
    bucket: str | None
    artifact_bucket: str | None
    stream_name: str
    function_name: str
    domain_name: str
    index_name: str
    opensearch_url: str
    dashboards_url: str
    cat_words: tuple[str, ...]
    dog_words: tuple[str, ...]

    @property
    def uses_real_aws(self) -> bool:
        return self.aws_endpoint_url is None

    def describe(self) -> dict[str, object]:
        """Return the settings as a dict fit for logging; none of them is secret."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


def parse_word_list(value: str) -> tuple[str, ...]:
    """Split a comma-separated vocabulary into lower-case words without '#'."""
    words = (word.strip().lstrip("#").lower() for word in value.split(","))
    return tuple(word for word in words if word)


# Variables that hold one HTTP URL each, with an example value; an empty one means its default.
HTTP_URL_VARIABLES = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
    "OPENSEARCH_URL": "http://127.0.0.1:9200",
    "OPENSEARCH_DASHBOARDS_URL": "http://127.0.0.1:5601",
    "X_API_URL": "https://api.x.com",
}


def url_problem(url: str, schemes: tuple[str, ...]) -> str | None:
    """Return why ``url`` is not a usable URL with one of ``schemes``, or None if it is."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it checks the port
    except ValueError as error:
        return str(error)
    if parts.scheme not in schemes:
        return f"it must start with {' or '.join(f'{scheme}://' for scheme in schemes)}"
    if not parts.hostname:
        return "it names no host"
    return None


def check_url_variables(environ: Mapping[str, str] | None = None) -> str | None:
    """Return a message for the first URL variable that is set but unusable, or None if all are fine."""
    env = os.environ if environ is None else environ
    for name, example in HTTP_URL_VARIABLES.items():
        value = env.get(name, "").strip()
        if not value:
            continue
        problem = url_problem(value, ("http", "https"))
        if problem is not None:
            return f"{name}={value!r} is not a usable URL: {problem}. Set it to a URL such as {example}, or unset it"
    return None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ

    def read(name: str, default: str) -> str:
        value = env.get(name, "").strip()
        return value or default

    endpoint = env.get("AWS_ENDPOINT_URL", "").strip() or None
    region = env.get("AWS_REGION", "").strip() or env.get("AWS_DEFAULT_REGION", "").strip() or DEFAULT_REGION
    return Settings(
        aws_endpoint_url=endpoint,
        region=region,
        stack_name=read("CATSVDOGS_STACK", DEFAULT_STACK_NAME),
        bucket=env.get("CATSVDOGS_BUCKET", "").strip() or None,
        artifact_bucket=env.get("CATSVDOGS_ARTIFACT_BUCKET", "").strip() or None,
        stream_name=read("CATSVDOGS_STREAM", DEFAULT_STREAM_NAME),
        function_name=read("CATSVDOGS_FUNCTION", DEFAULT_FUNCTION_NAME),
        domain_name=read("CATSVDOGS_DOMAIN", DEFAULT_DOMAIN_NAME),
        index_name=read("CATSVDOGS_INDEX", DEFAULT_INDEX_NAME),
        opensearch_url=read("OPENSEARCH_URL", DEFAULT_OPENSEARCH_URL).rstrip("/"),
        dashboards_url=read("OPENSEARCH_DASHBOARDS_URL", DEFAULT_DASHBOARDS_URL).rstrip("/"),
        cat_words=parse_word_list(read("CATSVDOGS_CAT_WORDS", DEFAULT_CAT_WORDS)),
        dog_words=parse_word_list(read("CATSVDOGS_DOG_WORDS", DEFAULT_DOG_WORDS)),
    )


def default_bucket_name(kind: str, account_id: str, region: str) -> str:
    """Name a bucket after the account and region, since S3 bucket names are global."""
    return f"catsvdogs-{kind}-{account_id}-{region}"
