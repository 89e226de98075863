"""`catsvdogs record FILE`: record a live stream from X or Bluesky to a file, without sending anything to AWS."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path

from catsvdogs.commands import live
from catsvdogs.config import load_settings
from catsvdogs.producer.pipeline import install_stop_signals
from catsvdogs.records import OutgoingRecord

LOG = logging.getLogger(__name__)

# Wait for the source thread between stop checks.
_POLL_SECONDS = 0.2


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "record",
        help="record live posts from X or Bluesky to a file, for `catsvdogs replay`",
        description=(
            "Write every message that the X filtered stream or Bluesky Jetstream sends to FILE, one a line "
            "(gzip if FILE ends in .gz), flushed every half second. Nothing is sent to AWS. "
            "Ctrl-C or SIGTERM stops and closes the file."
        ),
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="new recording file (.jsonl or .jsonl.gz)")
    live.add_live_arguments(parser)
    parser.set_defaults(run=run)


class _Consumer:
    """Iterates the source on a daemon thread and counts what it yields."""

    def __init__(self, source: live.LiveSource) -> None:
        self.source = source
        self.posts = 0
        self.rejected = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="catsvdogs-record", daemon=True)

    def _run(self) -> None:
        try:
            for item in self.source.items():
                if isinstance(item, OutgoingRecord):
                    self.posts += 1
                else:
                    self.rejected += 1
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            self.error = error


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    live.quiet_websockets_logs()
    stop = threading.Event()
    name = args.source
    opened = live.open_source_and_recorder("record", args, settings, stop, args.file)
    if isinstance(opened, int):
        return opened
    source, recorder = opened
    assert recorder is not None

    restore_signals = install_stop_signals(stop)
    live.start_duration_timer(args.duration, stop)
    consumer = _Consumer(source)
    consumer.thread.start()
    try:
        while consumer.thread.is_alive() and not stop.wait(_POLL_SECONDS):
            pass
    finally:
        stop.set()
        source.close()
        consumer.thread.join(timeout=5)
        recorder.close()
        restore_signals()

    print(f"recorded {recorder.lines:,} messages from {name} to {recorder.path}: "
          f"{consumer.posts:,} cat or dog posts, {consumer.rejected:,} invalid or error messages")
    print(f"{name} source: {source.stats.describe()}")
    if consumer.error is not None:
        print(f"catsvdogs record: {consumer.error}", file=sys.stderr)
        return 1
    return 0
