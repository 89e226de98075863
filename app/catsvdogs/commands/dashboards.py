"""`catsvdogs dashboards`: import the saved objects and make the cats v dogs dashboard the landing page."""

from __future__ import annotations

import argparse
import logging
import math
import sys

from catsvdogs.config import load_settings
from catsvdogs.dashboards.importer import DEFAULT_TIMEOUT, DashboardsClient, DashboardsError, install_dashboards
from catsvdogs.dashboards.panels import DASHBOARD_TITLE, INDEX_PATTERN_TITLE

LOG = logging.getLogger(__name__)


def positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid timeout '{value}': use a number of seconds such as 300") from None
    if not math.isfinite(seconds):
        # float() accepts "nan" and "inf". Neither deadline ever passes, so the command would retry forever.
        raise argparse.ArgumentTypeError(f"invalid timeout '{value}': use a number of seconds such as 300")
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"invalid timeout '{value}': it must be greater than 0")
    return seconds


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dashboards",
        help="import the cats v dogs dashboard into OpenSearch Dashboards",
        description=(
            "Wait until OpenSearch Dashboards (OPENSEARCH_DASHBOARDS_URL) reports ready, import the index pattern, "
            "visualisations, saved search and dashboard with overwrite, set the default index pattern and make the "
            "dashboard the landing page. Running it again leaves one copy of each object."
        ),
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"maximum seconds to wait for Dashboards and retry its requests (default: {DEFAULT_TIMEOUT:g})",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    client = DashboardsClient(settings.dashboards_url)
    try:
        summary = install_dashboards(client, timeout=args.timeout)
    except DashboardsError as error:
        print(f"catsvdogs dashboards: {error}", file=sys.stderr)
        return 1
    print(f"Imported {summary.imported} saved objects into OpenSearch Dashboards {summary.version} at {settings.dashboards_url}")
    print(f"Default index pattern: {INDEX_PATTERN_TITLE} ({summary.default_index})")
    print(f"Landing page: dashboard '{DASHBOARD_TITLE}' at {settings.dashboards_url}{summary.default_route}")
    return 0
