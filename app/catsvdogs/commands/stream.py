"""`catsvdogs stream`: send live posts from X or Bluesky to the Firehose delivery stream, optionally recording them."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path

from catsvdogs.commands import live
from catsvdogs.commands.arguments import add_producer_arguments
from catsvdogs.config import load_settings
from catsvdogs.producer.backoff import RetryPolicy
from catsvdogs.producer.counters import format_summary
from catsvdogs.producer.firehose import FirehoseSender, HealthCheck, ProducerError
from catsvdogs.producer.pipeline import install_stop_signals, run_producer
from catsvdogs.sources.x_stream import XStreamError

LOG = logging.getLogger(__name__)



def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stream",
        help="stream live posts from X or Bluesky into the delivery stream",
        description=(
            "Connect to the X filtered stream (needs a bearer token; X bills each post read) or to Bluesky Jetstream "
            "(free, no account), and put each cat or dog post into the Firehose delivery stream. Reconnects after "
            "disconnects without sending a post twice. Ctrl-C or SIGTERM sends what was already read, then stops."
        ),
    )
    live.add_live_arguments(parser)
    parser.add_argument(
        "--record",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write every message received to FILE, one a line (gzip if FILE ends in .gz); "
        "`catsvdogs replay --keep-timestamps FILE` sends the same posts again",
    )
    add_producer_arguments(parser, "stream reader")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, health_check: HealthCheck | None = None) -> int:
    """Stream until the duration ends, a stop signal or an error. ``health_check`` runs before each Firehose call."""
    settings = load_settings()
    live.quiet_websockets_logs()
    stop = threading.Event()
    name = args.source
    opened = live.open_source_and_recorder("stream", args, settings, stop, args.record)
    if isinstance(opened, int):
        return opened
    source, recorder = opened

    LOG.info("Streaming from %s to delivery stream %s", name, settings.stream_name)
    restore_signals = install_stop_signals(stop)
    live.start_duration_timer(args.duration, stop)
    try:
        summary = run_producer(
            source.items(),
            FirehoseSender.from_settings(
                settings,
                policy=RetryPolicy(max_attempts=args.max_attempts),
                max_outage=args.max_outage,
                stop=stop,
                health_check=health_check,
            ),
            queue_size=args.queue_size,
            log_interval=args.log_interval,
            stop=stop,
        )
    except (ProducerError, XStreamError) as error:
        print(f"catsvdogs stream: {error}", file=sys.stderr)
        if isinstance(error, ProducerError) and error.summary is not None:
            print(format_summary(error.summary, stream_name=settings.stream_name))
        return 1
    finally:
        stop.set()
        source.close()
        if recorder is not None:
            recorder.close()
        restore_signals()
    print(format_summary(summary, stream_name=settings.stream_name))
    print(f"{name} source: {source.stats.describe()}")
    if recorder is not None:
        print(f"recorded {recorder.lines:,} messages to {recorder.path}")
    return 0
