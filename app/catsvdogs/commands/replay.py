"""`catsvdogs replay FILE...`: send recorded tweets to the Firehose delivery stream."""

from __future__ import annotations

import argparse
import logging
import math
import sys
import threading
from pathlib import Path

from catsvdogs.commands.inspect import add_format_arguments
from catsvdogs.config import load_settings
from catsvdogs.producer.counters import Counters, format_summary
from catsvdogs.producer.firehose import FirehoseSender, ProducerError
from catsvdogs.producer.pipeline import DEFAULT_LOG_INTERVAL, DEFAULT_QUEUE_SIZE, install_stop_signals, run_producer
from catsvdogs.sources.replay import ReplayOptions, replay

LOG = logging.getLogger(__name__)


def parse_speed(value: str) -> float | None:
    """Parse --speed: 'max' (no pacing) or a positive factor."""
    if value.lower() == "max":
        return None
    try:
        speed = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid speed '{value}': use 'max' or a positive number such as 10") from None
    if not math.isfinite(speed):
        # float() accepts "nan" and "inf". A nan speed crashes the timestamp shift, and inf gives every tweet
        # the same created_at.
        raise argparse.ArgumentTypeError(f"invalid speed '{value}': use 'max' or a positive number such as 10")
    if speed <= 0:
        raise argparse.ArgumentTypeError(f"invalid speed '{value}': it must be greater than 0")
    return speed


def parse_queue_size(value: str) -> int:
    """Parse --queue-size: a whole number of records, at least 1."""
    try:
        size = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid queue size '{value}': use a whole number such as 10000") from None
    if size < 1:
        raise argparse.ArgumentTypeError(f"invalid queue size '{value}': it must be at least 1")
    return size


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay recorded tweet files into the delivery stream",
        description=(
            "Read recorded tweet files of any supported format (detected per file, plain or gzip) and put the tweets "
            "into the Firehose delivery stream. Bad records are reported with file:line and counted; they never stop "
            "the replay. An edited tweet is sent once, as its latest version in the files, and a tweet id read twice "
            "is sent once. Ctrl-C or SIGTERM sends what was already read, then stops. "
            "'catsvdogs inspect' lists the formats and counts without sending."
        ),
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="recorded tweet file (see 'catsvdogs inspect --help')")
    add_format_arguments(parser)
    parser.add_argument(
        "--speed",
        type=parse_speed,
        default=None,
        metavar="FACTOR|max",
        help="replay speed as a multiple of the recorded pace: 1 is real time, 60 plays an hour in a minute; "
        "'max' sends as fast as possible (default: max)",
    )
    parser.add_argument("--loop", action="store_true", help="start again from the first file after the last one, until stopped")
    parser.add_argument(
        "--keep-timestamps",
        action="store_true",
        help="keep the recorded created_at times instead of shifting them so the first tweet is now",
    )
    parser.add_argument(
        "--queue-size",
        type=parse_queue_size,
        default=DEFAULT_QUEUE_SIZE,
        metavar="RECORDS",
        help=f"maximum records held between the file reader and the sender (default: {DEFAULT_QUEUE_SIZE})",
    )
    parser.add_argument(
        "--log-interval",
        type=float,
        default=DEFAULT_LOG_INTERVAL,
        metavar="SECONDS",
        help=f"seconds between progress log lines; 0 turns them off (default: {DEFAULT_LOG_INTERVAL:g})",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar, even on a terminal (log lines only)"
    )
    parser.set_defaults(run=run)


class ProgressBar:
    """A tqdm bar of records sent and rejected, on stderr, shown only on a terminal."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self._bar = tqdm(unit=" tweets", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)
        self._shown = 0

    def update(self, counters: Counters) -> None:
        done = counters.sent + counters.rejected
        self._bar.update(done - self._shown)
        self._shown = done
        self._bar.set_postfix(sent=counters.sent, rejected=counters.rejected, refresh=False)

    def close(self) -> None:
        self._bar.close()


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    options = ReplayOptions(
        speed=args.speed,
        loop=args.loop,
        keep_timestamps=args.keep_timestamps,
        format=args.format,
        allow_duplicates=args.allow_duplicates,
    )
    LOG.info("Replay of %s to stream %s with %s", ", ".join(map(str, args.files)), settings.stream_name, options)

    stop = threading.Event()
    restore_signals = install_stop_signals(stop)
    bar = ProgressBar() if sys.stderr.isatty() and not args.no_progress else None
    try:
        summary = run_producer(
            replay(args.files, options, stop),
            FirehoseSender.from_settings(settings),
            queue_size=args.queue_size,
            log_interval=args.log_interval,
            stop=stop,
            progress=bar.update if bar else None,
        )
    except ProducerError as error:
        print(f"catsvdogs replay: {error}", file=sys.stderr)
        return 1
    finally:
        if bar:
            bar.close()
        restore_signals()
    print(format_summary(summary, stream_name=settings.stream_name))
    return 0
