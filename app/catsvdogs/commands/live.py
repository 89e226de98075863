"""Options and setup shared by `catsvdogs stream` and `catsvdogs record`: choosing and opening a live source."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path
from typing import Protocol

from catsvdogs.commands.arguments import parse_positive_seconds
from catsvdogs.config import Settings
from catsvdogs.sources import bluesky, x_stream
from catsvdogs.sources.bluesky import JetstreamConfigError
from catsvdogs.sources.live import LiveStats
from catsvdogs.sources.recorder import Recorder, RecordingError
from catsvdogs.sources.x_client import CredentialsError, XApiClient, XApiError, load_api_url, load_bearer_token, stream_parameters
from catsvdogs.sources.x_rules import RulesError, configured_rules, sync_rules_with_retries
from catsvdogs.transform.category import Vocabulary

LOG = logging.getLogger(__name__)

LIVE_SOURCES = ("x", "bluesky")
# Errors that end a live command before it reads anything, each with a message for the user.
SETUP_ERRORS = (CredentialsError, RulesError, XApiError, JetstreamConfigError, RecordingError)


class LiveSource(Protocol):
    """A live source: an iterable of items with counts, and a close() that interrupts a blocking read."""

    stats: LiveStats

    def items(self): ...

    def close(self) -> None: ...


class SetupFinished(Exception):
    """Raised after a dry run printed what it would do."""


def add_live_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        choices=LIVE_SOURCES,
        required=True,
        help="live source: the X filtered stream (X bills each post read) or Bluesky Jetstream (free, no account)",
    )
    parser.add_argument(
        "--duration", type=parse_positive_seconds, default=None, metavar="SECONDS", help="stop after this many seconds (default: run until stopped)"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be done (for X the rule changes, for Bluesky the endpoints) and exit without streaming",
    )
    parser.add_argument(
        "--stall-timeout",
        type=parse_positive_seconds,
        default=None,
        metavar="SECONDS",
        help=f"reconnect when no data arrives for this long (default: {x_stream.DEFAULT_STALL_TIMEOUT:g} for X, "
        f"{bluesky.DEFAULT_STALL_TIMEOUT:g} for Bluesky)",
    )
    parser.add_argument(
        "--backfill-minutes",
        type=int,
        choices=range(1, 6),
        default=None,
        metavar="1-5",
        help="X only: ask X to resend up to this many minutes of posts after a reconnect; "
        "only some X plans allow it, and posts sent twice are dropped",
    )
    parser.add_argument(
        "--cursor",
        type=int,
        default=None,
        metavar="TIME_US",
        help="Bluesky only: start from this Jetstream cursor (Unix time in microseconds) instead of the live tail",
    )


def open_source(
    name: str, args: argparse.Namespace, settings: Settings, stop: threading.Event, recorder: Recorder | None
) -> LiveSource:
    """Open the live source ``name``; for X, sync the stream rules first and print their diff.

    Raises SetupFinished after a dry run. Raises CredentialsError, RulesError,
    XApiError or JetstreamConfigError when the source cannot start.
    """
    if name == "x":
        return _open_x(args, settings, stop, recorder)
    return _open_bluesky(args, settings, stop, recorder)


def _open_x(args: argparse.Namespace, settings: Settings, stop: threading.Event, recorder: Recorder | None) -> LiveSource:
    client = XApiClient(load_bearer_token(), api_url=load_api_url())
    rules = configured_rules(settings.cat_words, settings.dog_words)
    diff = sync_rules_with_retries(client, rules, dry_run=args.dry_run)
    print(diff.describe() if args.dry_run or diff.changes else diff.describe().splitlines()[0], flush=True)
    if args.dry_run:
        raise SetupFinished
    return x_stream.XStream(
        client,
        stop=stop,
        params=stream_parameters(args.backfill_minutes),
        recorder=recorder,
        stall_timeout=args.stall_timeout or x_stream.DEFAULT_STALL_TIMEOUT,
    )


def _open_bluesky(args: argparse.Namespace, settings: Settings, stop: threading.Event, recorder: Recorder | None) -> LiveSource:
    endpoints = bluesky.load_endpoints()
    if args.dry_run:
        print("Bluesky Jetstream endpoints, in failover order:")
        for endpoint in endpoints:
            print(f"  {bluesky.subscribe_url(endpoint, args.cursor)}")
        print(f"posts kept: hashtags in {', '.join(settings.cat_words)} (cat) or {', '.join(settings.dog_words)} (dog)")
        raise SetupFinished
    return bluesky.JetstreamSource(
        endpoints,
        stop=stop,
        vocabulary=Vocabulary(frozenset(settings.cat_words), frozenset(settings.dog_words)),
        recorder=recorder,
        cursor=args.cursor,
        stall_timeout=args.stall_timeout or bluesky.DEFAULT_STALL_TIMEOUT,
    )


def open_source_and_recorder(
    command: str, args: argparse.Namespace, settings: Settings, stop: threading.Event, record_path: Path | None
) -> tuple[LiveSource, Recorder | None] | int:
    """Open the recorder (none with --dry-run) and the source named by --source.

    Returns the source and its recorder, or the command's exit status when setup
    ended it: 0 after a dry run, 1 after printing a setup error to stderr.
    """
    recorder = None
    try:
        recorder = open_recorder(record_path) if not args.dry_run else None
        return open_source(args.source, args, settings, stop, recorder), recorder
    except SetupFinished:
        return 0
    except SETUP_ERRORS as error:
        if recorder is not None:
            recorder.close()
            # The recorder rejects an existing file, so an empty one left here would stop the next try too.
            if recorder.lines == 0:
                recorder.path.unlink(missing_ok=True)
        print(f"catsvdogs {command}: {error}", file=sys.stderr)
        return 1


def open_recorder(path: Path | None) -> Recorder | None:
    return Recorder(path) if path is not None else None


def start_duration_timer(duration: float | None, stop: threading.Event) -> threading.Timer | None:
    """Set ``stop`` after ``duration`` seconds, if given."""
    if duration is None:
        return None
    timer = threading.Timer(duration, stop.set)
    timer.daemon = True
    timer.start()
    return timer


def quiet_websockets_logs() -> None:
    # The websockets library logs every connection at INFO; the source logs its own.
    logging.getLogger("websockets").setLevel(max(logging.WARNING, logging.getLogger().getEffectiveLevel()))
