"""`catsvdogs reindex`: make the index match the S3 backup, after the search server failed or a batch was resent."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime, timezone

from botocore.exceptions import BotoCoreError, ClientError
from opensearchpy.exceptions import OpenSearchException

from catsvdogs.aws import make_client
from catsvdogs.config import load_settings
from catsvdogs.recovery.backup import backup_bucket
from catsvdogs.recovery.reindex import ReindexError, reindex
from catsvdogs.search import make_search_client

LOG = logging.getLogger(__name__)


def parse_since(value: str) -> datetime:
    """Parse --since: an ISO 8601 time, UTC when it has no offset."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid time '{value}': use ISO 8601, such as 2026-03-14T16:00:00Z or 2026-03-14"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "reindex",
        help="index the backed-up records missing from the index and delete duplicate documents",
        description=(
            "Read the raw records that Firehose backed up to S3 (prefix raw/), transform them with the transform "
            "Lambda's code, and index those that have no document yet, straight into OpenSearch. Delete the extra "
            "documents of any record indexed more than once, as happens when a batch is resent. A record is "
            "identified by its tweet id, source, file, line, run id and pass number, so the passes of a --loop replay "
            "are not duplicates. Run it when no producer is sending, after the search server was down or rejected documents, "
            "or after a replay was killed and resumed."
        ),
    )
    parser.add_argument(
        "--since",
        type=parse_since,
        default=None,
        metavar="TIME",
        help="read only backup objects written at or after this ISO 8601 time (default: all)",
    )
    parser.add_argument(
        "--key",
        action="append",
        dest="keys",
        default=None,
        metavar="KEY",
        help="read only this backup object, by its S3 key; repeat for more (default: all)",
    )
    parser.add_argument("--dry-run", action="store_true", help="report what would be deleted and indexed, change nothing")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        bucket = backup_bucket(settings)
        report = reindex(
            settings,
            make_client(settings, "s3"),
            make_search_client(settings),
            bucket,
            since=args.since,
            keys=args.keys,
            dry_run=args.dry_run,
        )
    except ReindexError as error:
        print(f"catsvdogs reindex: {error}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as error:
        target = settings.aws_endpoint_url or "AWS"
        print(
            f"catsvdogs reindex: reading the S3 backup at {target} failed: {error}. "
            "Check AWS_ENDPOINT_URL, CATSVDOGS_BUCKET and the credentials",
            file=sys.stderr,
        )
        return 1
    except OpenSearchException as error:
        print(
            f"catsvdogs reindex: the request to {settings.opensearch_url} failed: {error}. Check OPENSEARCH_URL",
            file=sys.stderr,
        )
        return 1
    print(report.format())
    return 1 if report.failed else 0
