"""Extra Firehose delivery streams beside a deployment, created through the API, as references for the benchmarks.

Each variant reuses the deployment's delivery role, backup bucket and, when it
transforms, its Lambda processor, and differs from the product stream in one
respect, which the variant's description names.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bench import common

ACTIVE_TIMEOUT = 60.0


@dataclass(frozen=True)
class Variant:
    """A kind of reference stream: its name suffix and how its destination differs from the product stream."""

    suffix: str
    description: str
    destination: str
    """"domain": the deployed OpenSearch domain, reached through LocalStack's domain proxy;
    "cluster": the search server's URL as ClusterEndpoint, without the proxy; "s3": S3 only."""
    transform: bool


CEILING = Variant("ceiling", "the product's destination (domain and S3 backup), no transform", "domain", False)
CEILING_DIRECT = Variant(
    "ceiling-direct", "no transform, and the search server as ClusterEndpoint instead of the domain", "cluster", False
)
PRODUCT_DIRECT = Variant(
    "direct", "the product's transform, and the search server as ClusterEndpoint instead of the domain", "cluster", True
)
S3_ONLY = Variant("s3-only", "S3 only: no transform and no search server", "s3", False)


@dataclass(frozen=True)
class Stream:
    name: str
    index: str | None
    variant: Variant


def _stack_resource(deployment: common.Deployment, logical_id: str) -> str:
    described = deployment.client("cloudformation").describe_stack_resource(
        StackName=deployment.environment["CATSVDOGS_STACK"], LogicalResourceId=logical_id
    )
    return described["StackResourceDetail"]["PhysicalResourceId"]


def _product_destination(deployment: common.Deployment) -> dict[str, Any]:
    description = deployment.client("firehose").describe_delivery_stream(DeliveryStreamName=deployment.stream)
    return description["DeliveryStreamDescription"]["Destinations"][0]["AmazonopensearchserviceDestinationDescription"]


def create_stream(deployment: common.Deployment, variant: Variant) -> Stream:
    """Create the ``variant`` stream for ``deployment``, wait until it is ACTIVE, and create its index.

    The index name starts with the deployment's index name, so the index template
    gives it the same mapping.
    """
    name = f"{deployment.stream}-{variant.suffix}"
    index = f"{deployment.index}-{variant.suffix}"
    role_arn = deployment.client("iam").get_role(RoleName=_stack_resource(deployment, "DeliveryRole"))["Role"]["Arn"]
    backup = {
        "RoleARN": role_arn,
        "BucketARN": f"arn:aws:s3:::{deployment.bucket}",
        "Prefix": f"{variant.suffix}/",
        "CompressionFormat": "UNCOMPRESSED",
        "BufferingHints": {"IntervalInSeconds": 60, "SizeInMBs": 5},
    }
    firehose = deployment.client("firehose")

    if variant.destination == "s3":
        firehose.create_delivery_stream(
            DeliveryStreamName=name, DeliveryStreamType="DirectPut", ExtendedS3DestinationConfiguration=backup
        )
        _wait_active(firehose, name)
        return Stream(name, None, variant)

    destination: dict[str, Any] = {
        "RoleARN": role_arn,
        "IndexName": index,
        "IndexRotationPeriod": "NoRotation",
        "BufferingHints": {"IntervalInSeconds": 60, "SizeInMBs": 5},
        "RetryOptions": {"DurationInSeconds": 300},
        "S3BackupMode": "AllDocuments",
        "S3Configuration": backup,
    }
    if variant.destination == "domain":
        opensearch = deployment.client("opensearch")
        destination["DomainARN"] = opensearch.describe_domain(DomainName=deployment.domain)["DomainStatus"]["ARN"]
    else:
        destination["ClusterEndpoint"] = deployment.search_url
    if variant.transform:
        destination["ProcessingConfiguration"] = _product_destination(deployment)["ProcessingConfiguration"]

    firehose.create_delivery_stream(
        DeliveryStreamName=name, DeliveryStreamType="DirectPut", AmazonopensearchserviceDestinationConfiguration=destination
    )
    _wait_active(firehose, name)
    common.search_client(deployment).indices.create(index=index)
    return Stream(name, index, variant)


def _wait_active(firehose: Any, name: str) -> None:
    deadline = time.monotonic() + ACTIVE_TIMEOUT
    while True:
        status = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        if status["DeliveryStreamStatus"] == "ACTIVE":
            return
        if time.monotonic() > deadline:
            raise common.BenchError(f"stream {name} is {status['DeliveryStreamStatus']} after {ACTIVE_TIMEOUT:.0f} s, not ACTIVE")
        time.sleep(0.2)
