"""`catsvdogs provision`: the artifact bucket, the Lambda zip, the stack and the index template, in order."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from opensearchpy.exceptions import OpenSearchException

from catsvdogs.aws import make_client
from catsvdogs.config import DEFAULT_BACKUP_PREFIX, Settings, default_bucket_name
from catsvdogs.provisioning.artifacts import ensure_bucket, upload_package
from catsvdogs.provisioning.index_setup import TEMPLATE_NAME, apply_index_template, ensure_index
from catsvdogs.provisioning.lambda_package import build_lambda_package
from catsvdogs.provisioning.stack import DeploymentError, deploy_stack
from catsvdogs.search import make_search_client

LOG = logging.getLogger(__name__)


class ProvisionError(RuntimeError):
    """Provisioning failed; the message names the step or resource and the cause."""


@dataclass(frozen=True)
class ProvisionResult:
    stack_action: str
    backup_bucket: str
    outputs: dict[str, str]


def stack_parameters(settings: Settings, backup_bucket: str, code_bucket: str, code_key: str) -> dict[str, str]:
    return {
        "BackupBucketName": backup_bucket,
        "BackupPrefix": DEFAULT_BACKUP_PREFIX,
        "CodeBucket": code_bucket,
        "CodeKey": code_key,
        "FunctionName": settings.function_name,
        "StreamName": settings.stream_name,
        "DomainName": settings.domain_name,
        "IndexName": settings.index_name,
        "CatWords": ",".join(settings.cat_words),
        "DogWords": ",".join(settings.dog_words),
    }


def provision(settings: Settings, report: Callable[[str], None] = print) -> ProvisionResult:
    """Deploy everything, reporting each resource as created, updated or left alone."""
    try:
        account = make_client(settings, "sts").get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as error:
        target = settings.aws_endpoint_url or "AWS"
        raise ProvisionError(
            f"Cannot reach {target} to read the account id: {error}. "
            "Check AWS_ENDPOINT_URL (LocalStack running?) or your AWS credentials."
        ) from error
    backup_bucket = settings.bucket or default_bucket_name("backup", account, settings.region)
    artifact_bucket = settings.artifact_bucket or default_bucket_name("artifacts", account, settings.region)

    s3 = make_client(settings, "s3")
    try:
        report(f"artifact bucket {artifact_bucket}: {ensure_bucket(s3, artifact_bucket, settings.region)}")
        package = build_lambda_package()
        upload = upload_package(s3, artifact_bucket, package)
        report(f"lambda zip s3://{artifact_bucket}/{package.s3_key}: {upload}")
    except (BotoCoreError, ClientError) as error:
        raise ProvisionError(f"Uploading the Lambda zip to bucket {artifact_bucket} failed: {error}") from error

    parameters = stack_parameters(settings, backup_bucket, artifact_bucket, package.s3_key)
    try:
        deployment = deploy_stack(make_client(settings, "cloudformation"), settings.stack_name, parameters)
    except DeploymentError as error:
        raise ProvisionError(str(error)) from error
    except (BotoCoreError, ClientError) as error:
        raise ProvisionError(f"Deploying stack {settings.stack_name} failed: {error}") from error

    if deployment.action == "up to date":
        report(f"stack {settings.stack_name}: up to date ({len(deployment.unchanged)} resources left alone)")
    else:
        report(f"stack {settings.stack_name}: {deployment.action}")
        for action, logical_id, resource_type in deployment.changes:
            verb = {"Add": "created", "Modify": "updated", "Remove": "removed"}.get(action, action.lower())
            report(f"  {logical_id} ({resource_type}): {verb}")
        for logical_id in deployment.unchanged:
            report(f"  {logical_id}: left alone")

    search_url = settings.opensearch_url
    try:
        client = make_search_client(settings, search_url)
        report(f"index template {TEMPLATE_NAME}: {apply_index_template(client, settings.index_name)}")
        report(f"index {settings.index_name}: {ensure_index(client, settings.index_name)}")
    except OpenSearchException as error:
        raise ProvisionError(
            f"Applying the index template at {search_url} failed: {error}. Check OPENSEARCH_URL."
        ) from error
    return ProvisionResult(deployment.action, backup_bucket, deployment.outputs)
