"""`catsvdogs replay FILE...`: send recorded tweets to the Firehose delivery stream."""

from __future__ import annotations

import argparse
import logging
import math
import shlex
import sys
import threading
from pathlib import Path

from catsvdogs.commands.arguments import add_producer_arguments, parse_number
from catsvdogs.commands.inspect import add_format_arguments
from catsvdogs.config import Settings, load_settings
from catsvdogs.producer.backoff import RetryPolicy
from catsvdogs.producer.checkpoint import (
    CheckpointError,
    CheckpointTracker,
    default_checkpoint_path,
    load_checkpoint,
)
from catsvdogs.producer.counters import Counters, Summary, format_summary
from catsvdogs.producer.firehose import FirehoseSender, ProducerError, StreamLostError
from catsvdogs.producer.pipeline import install_stop_signals, run_producer
from catsvdogs.sources.replay import ReplayOptions, new_run_id, replay

LOG = logging.getLogger(__name__)

EXIT_STATUS_HELP = (
    "Exit status: 0 when at least one tweet was sent, or when nothing was rejected (the files contained nothing to "
    "send). 1 when no tweet was sent and at least one input was rejected (every record rejected, or no file found or "
    "readable), or when the replay stopped on an error. 2 for invalid arguments."
)


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


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay recorded tweet files into the delivery stream",
        description=(
            "Read recorded tweet files of any supported format (detected per file, plain or gzip) and put the tweets "
            "into the Firehose delivery stream. Bad records are reported with file:line and counted; they never stop "
            "the replay. An edited tweet is sent once, as its latest version in the files, and a tweet id read twice "
            "is sent once. Ctrl-C or SIGTERM sends what was already read, then stops. A checkpoint written after "
            "each batch lets --resume continue where a stopped or killed replay left off. "
            "'catsvdogs inspect' lists the formats and counts without sending."
        ),
        epilog=EXIT_STATUS_HELP,
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
    add_producer_arguments(parser, "file reader")
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar, even on a terminal (log lines only)"
    )
    add_recovery_arguments(parser)
    parser.set_defaults(run=run)


def add_recovery_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options for outages, lost resources and resuming after a stop."""
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the checkpoint of an earlier replay of the same files to the same stream, skipping "
        "what it sent or rejected (default: start from the beginning and replace the checkpoint)",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        metavar="PATH",
        help="checkpoint file, written after each batch (default: $XDG_STATE_HOME/catsvdogs/checkpoints/HASH.json, "
        "or ~/.local/state/... when XDG_STATE_HOME is unset; HASH stands for the files and the stream)",
    )
    parser.add_argument(
        "--reprovision",
        action="store_true",
        help="when the delivery stream is not found, as after LocalStack restarted and lost its resources, run "
        "'catsvdogs provision' and resend the batch instead of stopping",
    )


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


def open_checkpoint(args: argparse.Namespace, settings: Settings) -> CheckpointTracker | None:
    """Load the checkpoint to resume from, if requested, and return the tracker for this run.

    Returns None when there is nothing to do: --resume found a finished replay.
    Raises CheckpointError when --resume cannot use the checkpoint.
    """
    path = args.checkpoint or default_checkpoint_path(args.files, settings.stream_name)
    try:
        existing = load_checkpoint(path, args.files, settings.stream_name)
    except CheckpointError as error:
        if args.resume:
            raise
        LOG.warning("%s. This run starts from the beginning and replaces it", error)
        existing = None

    if not args.resume:
        if existing is not None and not existing.finished:
            LOG.warning(
                "The checkpoint %s of an unfinished replay of these files (written %s) is replaced: this run starts "
                "from the beginning. Use --resume to continue that replay instead",
                path,
                existing.updated_at,
            )
        return CheckpointTracker.start(path, settings.stream_name, args.files, new_run_id())

    if existing is None:
        LOG.warning("No checkpoint at %s, so --resume starts from the beginning", path)
        return CheckpointTracker.start(path, settings.stream_name, args.files, new_run_id())
    if existing.finished and not args.loop:
        print(
            f"catsvdogs replay: nothing to resume: the replay of these files to stream '{settings.stream_name}' "
            f"finished (checkpoint {path}, written {existing.updated_at}). Run without --resume to send them again."
        )
        return None
    positions = existing.positions_for(args.files)
    LOG.info(
        "Resuming run %s, pass %d, from checkpoint %s (written %s): %s",
        existing.run_id,
        existing.pass_number,
        path,
        existing.updated_at,
        ", ".join(f"{name} after {position.items} items of line {position.line}" for name, position in positions.items())
        or "nothing was done yet",
    )
    return CheckpointTracker.start(path, settings.stream_name, args.files, existing.run_id, resumed=existing)


def make_sender(args: argparse.Namespace, settings: Settings, stop: threading.Event) -> FirehoseSender:
    reprovision = None
    if args.reprovision:

        def reprovision() -> None:
            from catsvdogs.provisioning.provision import provision

            provision(settings, report=lambda line: LOG.info("provision: %s", line))

    return FirehoseSender.from_settings(
        settings,
        policy=RetryPolicy(max_attempts=args.max_attempts),
        max_outage=args.max_outage,
        stop=stop,
        reprovision=reprovision,
    )


def resume_command(args: argparse.Namespace) -> str:
    arguments = ["catsvdogs", "replay", "--resume"]
    if args.checkpoint is not None:
        arguments += ["--checkpoint", str(args.checkpoint)]
    return shlex.join(arguments + [str(file) for file in args.files])


def report_failure(error: ProducerError, args: argparse.Namespace, settings: Settings, checkpoint: CheckpointTracker) -> None:
    """Print the error, the counts so far and how to continue: stdout gets the summary, stderr the rest."""
    print(f"catsvdogs replay: {error}", file=sys.stderr)
    if error.summary is not None:
        print(format_summary(error.summary, stream_name=settings.stream_name))
        pending = f"{error.summary.pending:,} records read were not sent. "
    else:
        pending = ""
    first = "Then run" if isinstance(error, StreamLostError) else "Once the cause is fixed, run"
    print(
        f"catsvdogs replay: {pending}{first} '{resume_command(args)}' to continue from the checkpoint {checkpoint.path}.",
        file=sys.stderr,
    )


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
    try:
        checkpoint = open_checkpoint(args, settings)
    except CheckpointError as error:
        print(f"catsvdogs replay: {error}", file=sys.stderr)
        return 1
    if checkpoint is None:
        return 0

    stop = threading.Event()
    restore_signals = install_stop_signals(stop)
    bar = ProgressBar() if sys.stderr.isatty() and not args.no_progress else None
    try:
        summary = run_producer(
            replay(
                args.files,
                options,
                stop,
                resume_from=checkpoint.positions,
                run_id=checkpoint.run_id,
                first_pass=checkpoint.pass_number,
            ),
            make_sender(args, settings, stop),
            queue_size=args.queue_size,
            log_interval=args.log_interval,
            stop=stop,
            progress=bar.update if bar else None,
            checkpoint=checkpoint,
        )
    except ProducerError as error:
        if bar:
            bar.close()
            bar = None
        report_failure(error, args, settings, checkpoint)
        return 1
    finally:
        if bar:
            bar.close()
        restore_signals()
    print(format_summary(summary, stream_name=settings.stream_name))
    status = exit_status(summary)
    if status != 0:
        print(f"catsvdogs replay: no tweet was sent, because every input was rejected ({summary.rejected:,} rejected)", file=sys.stderr)
    return status


def exit_status(summary: Summary) -> int:
    """Return 1 when no tweet was sent but inputs were rejected, else 0, as EXIT_STATUS_HELP documents."""
    if summary.sent == 0 and summary.rejected > 0:
        return 1
    return 0
