"""boto3 clients for the configured region and endpoint.

boto3 reads credentials from its standard chain and the endpoint from
AWS_ENDPOINT_URL; nothing here handles a secret.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from catsvdogs.config import Settings

# Control-plane calls keep botocore's own retries; the producer turns them off for its data calls.
CONTROL_PLANE_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=60)


def make_session(settings: Settings) -> boto3.session.Session:
    return boto3.session.Session(region_name=settings.region)


def make_client(settings: Settings, service: str, config: Config | None = None) -> Any:
    """Create a boto3 client; AWS_ENDPOINT_URL, when set, points it at LocalStack."""
    return make_session(settings).client(service, config=config or CONTROL_PLANE_CONFIG)
