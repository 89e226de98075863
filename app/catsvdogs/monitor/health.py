"""Health of the pipeline's components and what the index and the S3 backup contain, for `catsvdogs status`."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as SearchConnectionError
from opensearchpy.exceptions import ConnectionTimeout, OpenSearchException, RequestError

from catsvdogs.aws import make_client
from catsvdogs.config import DEFAULT_BACKUP_PREFIX, Settings, default_bucket_name
from catsvdogs.monitor.figures import index_pattern

# The LocalStack services that the pipeline uses. Each must be "running" or "available".
PIPELINE_SERVICES = ("cloudformation", "firehose", "iam", "lambda", "logs", "opensearch", "s3", "sts")
HEALTHY_SERVICE_STATES = ("running", "available")
# Short timeouts and one retry, so status reports an unreachable component instead of waiting for it.
STATUS_CLIENT_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=3, read_timeout=10)
HTTP_TIMEOUT = 5.0
# Documents of Firehose records that the transform could not read have an `error` object and no category.
ERROR_DOCUMENTS = "error"
CATEGORY_KEYS = ("cat", "dog", "both", "none")


@dataclass(frozen=True)
class Check:
    """The health of one component: ``healthy`` and a one-line detail."""

    name: str
    healthy: bool
    detail: str


@dataclass
class Contents:
    """Contents of the index and the backup bucket. A figure that could not be read is None."""

    index: str
    documents: dict[str, int] | None = None
    newest_ingested_at: datetime | None = None
    backup_location: str | None = None
    backup_objects: int | None = None

    @property
    def total_documents(self) -> int | None:
        return None if self.documents is None else sum(self.documents.values())

    def newest_age_seconds(self, now: datetime) -> float | None:
        return None if self.newest_ingested_at is None else max(0.0, (now - self.newest_ingested_at).total_seconds())


@dataclass
class StatusReport:
    checks: list[Check] = field(default_factory=list)
    contents: Contents | None = None

    @property
    def healthy(self) -> bool:
        return bool(self.checks) and all(check.healthy for check in self.checks)


def _error_text(error: BaseException) -> str:
    return str(error).strip() or type(error).__name__


def _search_error_text(error: BaseException) -> str:
    """Describe a failed search server request in words, with what to check, instead of the client's exception text."""
    if isinstance(error, ConnectionTimeout):
        return f"no answer within {HTTP_TIMEOUT:g} s: the server is paused, overloaded or hung"
    if isinstance(error, SearchConnectionError):
        if "refused" in str(error).lower():
            return "connection refused: the server is not running"
        return f"connection failed: {_error_text(error)}"
    return _error_text(error)


def check_localstack(endpoint: str) -> Check:
    """Read LocalStack's /_localstack/health and check the services that the pipeline uses."""
    url = f"{endpoint.rstrip('/')}/_localstack/health"
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:
            services = json.load(response).get("services", {})
    except (urllib.error.URLError, OSError, ValueError) as error:
        return Check("LocalStack", False, f"{url} did not answer: {_error_text(error)}")
    unhealthy = {name: services.get(name, "missing") for name in PIPELINE_SERVICES}
    unhealthy = {name: state for name, state in unhealthy.items() if state not in HEALTHY_SERVICE_STATES}
    if unhealthy:
        listed = ", ".join(f"{name} {state}" for name, state in sorted(unhealthy.items()))
        return Check("LocalStack", False, f"services not available at {endpoint}: {listed}")
    return Check("LocalStack", True, f"{len(PIPELINE_SERVICES)} services running or available at {endpoint}")


def check_stream(settings: Settings) -> Check:
    name = "delivery stream"
    try:
        firehose = make_client(settings, "firehose", STATUS_CLIENT_CONFIG)
        description = firehose.describe_delivery_stream(DeliveryStreamName=settings.stream_name)
    except (BotoCoreError, ClientError) as error:
        return Check(name, False, f"{settings.stream_name}: {_error_text(error)}")
    stream_status = description["DeliveryStreamDescription"]["DeliveryStreamStatus"]
    return Check(name, stream_status == "ACTIVE", f"{settings.stream_name}: {stream_status}")


def check_function(settings: Settings) -> Check:
    name = "transform function"
    try:
        configuration = make_client(settings, "lambda", STATUS_CLIENT_CONFIG).get_function_configuration(
            FunctionName=settings.function_name
        )
    except (BotoCoreError, ClientError) as error:
        return Check(name, False, f"{settings.function_name}: {_error_text(error)}")
    state = configuration.get("State", "unknown")
    update = configuration.get("LastUpdateStatus", "unknown")
    healthy = state == "Active" and update != "Failed"
    return Check(name, healthy, f"{settings.function_name}: {state}, last update {update}")


def check_search(client: OpenSearch, url: str) -> Check:
    name = "search server"
    try:
        health = client.cluster.health()
    except (OpenSearchException, OSError) as error:
        return Check(name, False, f"{url} did not answer: {_search_error_text(error)}")
    cluster_status = health.get("status", "unknown")
    return Check(name, cluster_status in ("green", "yellow"), f"cluster {cluster_status} at {url}")


def read_documents(client: OpenSearch, contents: Contents) -> Check:
    """Count the documents per category, find the newest arrival, and return the index's check."""
    body = {
        "size": 0,
        "track_total_hits": True,
        "aggs": {
            "category": {"terms": {"field": "category", "size": 10}},
            ERROR_DOCUMENTS: {"filter": {"exists": {"field": "error"}}},
            "newest": {"max": {"field": "ingested_at"}},
        },
    }
    try:
        if not client.indices.exists(index=contents.index):
            return Check("index", False, f"{contents.index} does not exist; run `catsvdogs provision`")
        response = client.search(index=index_pattern(contents.index), body=body)
    except RequestError as error:
        if "fielddata" in str(error):
            return Check(
                "index",
                False,
                f"{contents.index}: the category field is not a keyword field, so the index was created before the "
                "index template; run `catsvdogs provision`, which names the fields and the fix",
            )
        return Check("index", False, f"{contents.index}: {_error_text(error)}")
    except (OpenSearchException, OSError) as error:
        return Check("index", False, f"{contents.index}: {_search_error_text(error)}")
    aggregations = response["aggregations"]
    documents = {key: 0 for key in CATEGORY_KEYS}
    for bucket in aggregations["category"]["buckets"]:
        documents[bucket["key"]] = int(bucket["doc_count"])
    documents[ERROR_DOCUMENTS] = int(aggregations[ERROR_DOCUMENTS]["doc_count"])
    contents.documents = documents
    newest = aggregations["newest"].get("value")
    if newest is not None:
        contents.newest_ingested_at = datetime.fromtimestamp(newest / 1000, timezone.utc)
    total = response["hits"]["total"]["value"]
    return Check("index", True, f"{contents.index}: {total:,} documents")


def backup_bucket(settings: Settings) -> str:
    """Return the backup bucket: the stack's output, else the configured or default name."""
    cloudformation = make_client(settings, "cloudformation", STATUS_CLIENT_CONFIG)
    try:
        stacks = cloudformation.describe_stacks(StackName=settings.stack_name)["Stacks"]
    except ClientError:
        stacks = []
    for output in stacks[0].get("Outputs", []) if stacks else []:
        if output["OutputKey"] == "BackupBucketName":
            return str(output["OutputValue"])
    if settings.bucket:
        return settings.bucket
    account = make_client(settings, "sts", STATUS_CLIENT_CONFIG).get_caller_identity()["Account"]
    return default_bucket_name("backup", account, settings.region)


def read_backup(settings: Settings, contents: Contents) -> Check:
    """Count the objects under the backup prefix and return the bucket's check."""
    try:
        bucket = backup_bucket(settings)
        contents.backup_location = f"s3://{bucket}/{DEFAULT_BACKUP_PREFIX}"
        paginator = make_client(settings, "s3", STATUS_CLIENT_CONFIG).get_paginator("list_objects_v2")
        count = 0
        for page in paginator.paginate(Bucket=bucket, Prefix=DEFAULT_BACKUP_PREFIX):
            count += int(page.get("KeyCount", 0))
    except (BotoCoreError, ClientError) as error:
        return Check("backup bucket", False, _error_text(error))
    contents.backup_objects = count
    return Check("backup bucket", True, f"{count:,} objects under {contents.backup_location}")


def collect_status(settings: Settings, search_client: OpenSearch) -> StatusReport:
    """Check every component and read the contents. An unreachable component is a failed check, not an exception."""
    report = StatusReport(contents=Contents(index=settings.index_name))
    assert report.contents is not None
    report.checks.append(check_search(search_client, settings.opensearch_url))
    if settings.aws_endpoint_url:
        report.checks.append(check_localstack(settings.aws_endpoint_url))
    report.checks.append(check_stream(settings))
    report.checks.append(check_function(settings))
    report.checks.append(read_documents(search_client, report.contents))
    report.checks.append(read_backup(settings, report.contents))
    return report


def contents_json(contents: Contents, now: datetime) -> dict[str, Any]:
    age = contents.newest_age_seconds(now)
    return {
        "index": contents.index,
        "documents": contents.documents,
        "total_documents": contents.total_documents,
        "newest_ingested_at": None
        if contents.newest_ingested_at is None
        else contents.newest_ingested_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "newest_age_seconds": None if age is None else round(age, 1),
        "backup_location": contents.backup_location,
        "backup_objects": contents.backup_objects,
    }
