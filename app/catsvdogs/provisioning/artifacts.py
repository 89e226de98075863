"""The S3 bucket that contains the Lambda zip, outside the stack so the zip exists before the function."""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from catsvdogs.provisioning.lambda_package import LambdaPackage

LOG = logging.getLogger(__name__)


def ensure_bucket(s3: Any, bucket: str, region: str) -> str:
    """Create ``bucket`` unless it exists; return 'created' or 'exists'."""
    try:
        s3.head_bucket(Bucket=bucket)
        return "exists"
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    arguments: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**arguments)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    LOG.info("Created artifact bucket %s", bucket)
    return "created"


def upload_package(s3: Any, bucket: str, package: LambdaPackage) -> str:
    """Upload the zip under its content-hash key unless that key exists; return 'uploaded' or 'unchanged'."""
    try:
        s3.head_object(Bucket=bucket, Key=package.s3_key)
        return "unchanged"
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
    s3.put_object(Bucket=bucket, Key=package.s3_key, Body=package.data, ContentType="application/zip")
    LOG.info("Uploaded s3://%s/%s (%d bytes)", bucket, package.s3_key, len(package.data))
    return "uploaded"
