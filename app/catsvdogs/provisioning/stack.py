"""Deploy the CloudFormation template through a change set: create, update, or report it up to date."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from botocore.exceptions import ClientError, WaiterError

LOG = logging.getLogger(__name__)

TEMPLATE_RESOURCE = "template.yaml"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
# AWS and LocalStack both explain an empty change set with one of these phrases.
NO_CHANGE_REASONS = ("didn't contain changes", "No updates are to be performed")
STACK_WAIT_SECONDS = 3600
CHANGE_SET_WAIT_SECONDS = 300


class DeploymentError(RuntimeError):
    """A stack deployment failed; the message names the failed resources and their reasons."""


@dataclass
class DeploymentReport:
    """Outcome of one deployment for the stack and each of its resources."""

    stack_name: str
    action: str  # "created", "updated" or "up to date"
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (action, logical id, type)
    unchanged: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)


def read_template() -> str:
    return resources.files("catsvdogs.provisioning").joinpath(TEMPLATE_RESOURCE).read_text(encoding="utf-8")


def describe_stack(cloudformation: Any, stack_name: str) -> dict[str, Any] | None:
    """Return the stack, or None when there is none or only a REVIEW_IN_PROGRESS shell of a failed create."""
    try:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    return stack


def deploy_stack(cloudformation: Any, stack_name: str, parameters: dict[str, str]) -> DeploymentReport:
    """Create or update ``stack_name`` with the packaged template and ``parameters``."""
    stack = describe_stack(cloudformation, stack_name)
    if stack and stack["StackStatus"] == "ROLLBACK_COMPLETE":
        LOG.warning("Stack %s is in ROLLBACK_COMPLETE after a failed create; deleting it first", stack_name)
        cloudformation.delete_stack(StackName=stack_name)
        _wait(cloudformation, "stack_delete_complete", StackName=stack_name)
        stack = None
    change_set_type = "CREATE" if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS" else "UPDATE"

    change_set_name = f"catsvdogs-{uuid.uuid4().hex[:12]}"
    LOG.info("Creating %s change set %s for stack %s", change_set_type, change_set_name, stack_name)
    cloudformation.create_change_set(
        StackName=stack_name,
        ChangeSetName=change_set_name,
        ChangeSetType=change_set_type,
        TemplateBody=read_template(),
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in sorted(parameters.items())],
        Capabilities=CAPABILITIES,
    )
    change_set = _wait_for_change_set(cloudformation, stack_name, change_set_name)
    if change_set["Status"] == "FAILED":
        reason = change_set.get("StatusReason", "")
        if change_set_type == "UPDATE" and any(phrase in reason for phrase in NO_CHANGE_REASONS):
            cloudformation.delete_change_set(StackName=stack_name, ChangeSetName=change_set_name)
            return DeploymentReport(
                stack_name, "up to date", unchanged=_resource_ids(cloudformation, stack_name), outputs=_outputs(stack)
            )
        raise DeploymentError(f"Change set for stack {stack_name} failed: {reason}")

    changes = [
        (
            change["ResourceChange"]["Action"],
            change["ResourceChange"]["LogicalResourceId"],
            change["ResourceChange"]["ResourceType"],
        )
        for change in change_set.get("Changes", [])
    ]
    started = time.time()
    cloudformation.execute_change_set(StackName=stack_name, ChangeSetName=change_set_name)
    waiter = "stack_create_complete" if change_set_type == "CREATE" else "stack_update_complete"
    try:
        _wait(cloudformation, waiter, StackName=stack_name)
    except WaiterError as error:
        raise DeploymentError(_failure_message(cloudformation, stack_name, started)) from error

    stack = describe_stack(cloudformation, stack_name)
    changed_ids = {logical_id for _, logical_id, _ in changes}
    unchanged = [rid for rid in _resource_ids(cloudformation, stack_name) if rid not in changed_ids]
    action = "created" if change_set_type == "CREATE" else "updated"
    LOG.info("Stack %s %s in %.1f s", stack_name, action, time.time() - started)
    return DeploymentReport(stack_name, action, changes=changes, unchanged=unchanged, outputs=_outputs(stack))


def _wait_for_change_set(cloudformation: Any, stack_name: str, change_set_name: str) -> dict[str, Any]:
    deadline = time.monotonic() + CHANGE_SET_WAIT_SECONDS
    while True:
        change_set = cloudformation.describe_change_set(StackName=stack_name, ChangeSetName=change_set_name)
        if change_set["Status"] in ("CREATE_COMPLETE", "FAILED"):
            return change_set
        if time.monotonic() > deadline:
            raise DeploymentError(f"Change set {change_set_name} of stack {stack_name} was not ready within {CHANGE_SET_WAIT_SECONDS} s")
        time.sleep(1)


def _wait(cloudformation: Any, waiter_name: str, **arguments: Any) -> None:
    delay = 2
    cloudformation.get_waiter(waiter_name).wait(
        **arguments, WaiterConfig={"Delay": delay, "MaxAttempts": STACK_WAIT_SECONDS // delay}
    )


def _failure_message(cloudformation: Any, stack_name: str, since: float) -> str:
    """Name each resource whose deployment failed, with CloudFormation's reason."""
    events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
    failed = [
        event
        for event in reversed(events)
        if event["ResourceStatus"].endswith("_FAILED")
        and event["LogicalResourceId"] != stack_name
        and event["Timestamp"].timestamp() >= since - 5
    ]
    explained = [
        f"{event['LogicalResourceId']} ({event['ResourceType']}): {event['ResourceStatusReason']}"
        for event in failed
        if event.get("ResourceStatusReason")
    ]
    unexplained = sorted({event["LogicalResourceId"] for event in failed if not event.get("ResourceStatusReason")})
    if unexplained:
        explained.append(f"also failed or cancelled without a reason: {', '.join(unexplained)}")
    detail = "\n  ".join(explained) if explained else "no resource reported a failure; see the stack events"
    return f"Deployment of stack {stack_name} failed:\n  {detail}"


def _resource_ids(cloudformation: Any, stack_name: str) -> list[str]:
    summaries = cloudformation.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    return sorted(summary["LogicalResourceId"] for summary in summaries)


def _outputs(stack: dict[str, Any] | None) -> dict[str, str]:
    if not stack:
        return {}
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
