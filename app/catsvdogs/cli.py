"""The `catsvdogs` command: a thin dispatcher to one module a subcommand."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence

from catsvdogs import __version__
from catsvdogs.allocator import fix_mmap_threshold
from catsvdogs.commands import dashboards, down, inspect, provision, record, reindex, replay, status, stream, top, up
from catsvdogs.config import ENVIRONMENT_VARIABLES, check_url_variables
from catsvdogs.native.state import StateError, apply_state_endpoints

LOG = logging.getLogger("catsvdogs")

SUBCOMMANDS = (provision, dashboards, replay, reindex, inspect, stream, record, up, status, top, down)
# Commands that find the native stack themselves; every other one targets it while it runs.
STACK_AWARE_COMMANDS = frozenset({"up", "down", "status", "top"})


def environment_help() -> str:
    rows = "\n".join(f"  {name:<26} {meaning}" for name, meaning in ENVIRONMENT_VARIABLES.items())
    return f"environment variables:\n{rows}\n\nAWS credentials come from the standard AWS chain (environment, ~/.aws)."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="catsvdogs",
        description="Cats v dogs on social media through Firehose, a transform Lambda and OpenSearch.",
        epilog=environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"catsvdogs {__version__}")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="minimum level of the log lines written to stderr (default: INFO)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.add_parser(subparsers)
    return parser


def configure_logging(level: str) -> None:
    """Send log lines to stderr, keeping stdout for results."""
    logging.basicConfig(
        level=getattr(logging, level),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # botocore logs every retry at DEBUG and credentials never; keep it quiet unless debugging.
    for noisy in ("botocore", "boto3", "urllib3", "opensearch"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, getattr(logging, level)))


def target_native_stack() -> None:
    """Point a command at the running `catsvdogs up` stack when AWS_ENDPOINT_URL is unset.

    Without this, a second terminal without the exported endpoint would send
    provision or replay to whatever AWS account the credentials belong to.
    """
    endpoint_was_set = bool(os.environ.get("AWS_ENDPOINT_URL", "").strip())
    state = apply_state_endpoints()
    if state is not None and not endpoint_was_set:
        LOG.info(
            "AWS_ENDPOINT_URL is unset: using the native stack of catsvdogs up at %s; "
            "run catsvdogs down first to target AWS",
            os.environ.get("AWS_ENDPOINT_URL"),
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    fix_mmap_threshold()
    if args.command not in STACK_AWARE_COMMANDS:
        try:
            target_native_stack()
        except StateError as error:
            print(f"catsvdogs {args.command}: {error}", file=sys.stderr)
            return 1
    problem = check_url_variables()
    if problem is not None:
        print(f"catsvdogs {args.command}: {problem}", file=sys.stderr)
        return 1
    try:
        status = args.run(args)
        # Flush here, so that a reader that exited meets the handler below instead of the flush at exit.
        sys.stdout.flush()
        return status
    except KeyboardInterrupt:
        print("catsvdogs: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout exited, as in `catsvdogs status | head -1`. Python would report the failed
        # flush at exit, so stdout goes to /dev/null. The exit status is the one a shell gives for SIGPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
