"""The environment of one deployment on a native stack, with AWS resource names that no other deployment uses.

The test suite and the benchmarks both provision several deployments on one
LocalStack, whose S3 storage is shared by every LocalStack on the machine.
"""

from __future__ import annotations

import os
import uuid

from catsvdogs.native.servers import NativeStack


def unique_environment(stack: NativeStack, prefix: str) -> dict[str, str]:
    """Return this process's environment pointed at ``stack``, with resource names that start with ``prefix``."""
    suffix = uuid.uuid4().hex[:8]
    environment = dict(os.environ)
    environment.update(stack.client_environment())
    environment.update(
        {
            # LocalStack accepts any credentials; these dummy values only satisfy boto3's credential chain.
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
            "CATSVDOGS_STACK": f"{prefix}-{suffix}",
            "CATSVDOGS_BUCKET": f"{prefix}-backup-{suffix}",
            "CATSVDOGS_ARTIFACT_BUCKET": f"{prefix}-artifacts-{suffix}",
            "CATSVDOGS_STREAM": f"{prefix}-tweets-{suffix}",
            "CATSVDOGS_FUNCTION": f"{prefix}-transform-{suffix}",
            "CATSVDOGS_DOMAIN": f"{prefix}-{suffix}",
            "CATSVDOGS_INDEX": f"{prefix}-tweets-{suffix}",
            # Replay checkpoints go to the stack's folder, not to the user's ~/.local/state.
            "XDG_STATE_HOME": str(stack.workdir / "state"),
        }
    )
    environment.pop("AWS_PROFILE", None)
    return environment
