"""`catsvdogs provision`: deploy the stack and the index template."""

from __future__ import annotations

import argparse
import logging
import sys

from catsvdogs.config import load_settings
from catsvdogs.provisioning.lambda_package import PackageBuildError
from catsvdogs.provisioning.provision import ProvisionError, provision

LOG = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "provision",
        help="create or update the AWS resources and the OpenSearch index template",
        description=(
            "Build the transform Lambda zip, upload it, deploy the CloudFormation stack through a change set "
            "(it reports 'up to date' when nothing changed) and apply the OpenSearch index template. "
            "Targets LocalStack when AWS_ENDPOINT_URL is set, real AWS otherwise."
        ),
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    LOG.info("Provisioning with settings %s", settings.describe())
    try:
        provision(settings, report=print)
    except (ProvisionError, PackageBuildError) as error:
        print(f"catsvdogs provision: {error}", file=sys.stderr)
        return 1
    return 0
