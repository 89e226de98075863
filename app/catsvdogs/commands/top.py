"""`catsvdogs top`: cats v dogs in the terminal, refreshed every second, from the dashboard's own queries."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from datetime import datetime, timezone
from types import FrameType

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as SearchConnectionError
from opensearchpy.exceptions import OpenSearchException
from rich.console import Console
from rich.live import Live

from catsvdogs.commands.arguments import parse_number
from catsvdogs.config import load_settings
from catsvdogs.monitor.figures import Figures, FiguresError, fetch_figures, index_pattern
from catsvdogs.monitor.screen import render
from catsvdogs.native.state import apply_state_endpoints
from catsvdogs.search import make_search_client

DEFAULT_INTERVAL = 1.0


def parse_interval(value: str) -> float:
    """Parse --interval: seconds between refreshes, at least 0.1."""
    return parse_number(
        value, float, "interval",
        accepted=lambda seconds: seconds >= 0.1,
        not_a_number="use a number of seconds such as 1",
        out_of_range="use at least 0.1 seconds",
    )


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "top",
        help="show cats v dogs live in the terminal",
        description=(
            "Show tweets per minute over the last 15 minutes, the share of each category, popularity (likes and "
            "retweets), sentiment per category and the most engaging tweet of the last hour, refreshed every "
            "interval. The queries are the dashboard panels' own. OpenSearch is OPENSEARCH_URL, or the search "
            "server of `catsvdogs up` when that is unset."
        ),
    )
    parser.add_argument(
        "--interval",
        type=parse_interval,
        default=DEFAULT_INTERVAL,
        metavar="SECONDS",
        help=f"seconds between refreshes (default: {DEFAULT_INTERVAL:g})",
    )
    parser.add_argument("--once", action="store_true", help="print one snapshot and exit")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the figures as JSON instead of the view: one object with --once, else one line per interval",
    )
    parser.set_defaults(run=run)


def read_figures(client: OpenSearch, index_name: str) -> tuple[Figures | None, str | None]:
    """Return the figures, or None and the reason when the search server is unreachable or a query fails."""
    try:
        return fetch_figures(client, index_name), None
    except SearchConnectionError as error:
        return None, f"no connection: {error.info}"
    except (OpenSearchException, FiguresError, OSError) as error:
        return None, str(error).strip() or type(error).__name__


def run(args: argparse.Namespace) -> int:
    # The client logs each failed request with a traceback; the view and the exit status report failures instead.
    logging.getLogger("opensearch").setLevel(logging.CRITICAL)
    unset = not os.environ.get("OPENSEARCH_URL", "").strip()
    state = apply_state_endpoints()
    settings = load_settings()
    hint = ""
    if unset and state is None:
        hint = " (no stack of `catsvdogs up` is running and OPENSEARCH_URL is unset, so this is the Docker stack's default)"
    client = make_search_client(settings, timeout=max(2.0, min(10.0, 5 * args.interval)))
    source = f"{index_pattern(settings.index_name)} at {settings.opensearch_url}"

    if args.once:
        figures, error = read_figures(client, settings.index_name)
        if figures is None:
            print(f"catsvdogs top: reading the figures from {source}{hint} failed: {error}", file=sys.stderr)
            return 1
        if args.json:
            print(json.dumps(figures.to_json(), indent=2, ensure_ascii=False))
        else:
            Console().print(render(figures, source=source, interval=None))
        return 0

    previous = signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        if args.json:
            stream_json(client, settings.index_name, args.interval)
        else:
            console = Console()
            if not console.is_terminal:
                print("catsvdogs top: stdout is not a terminal; use --once, or --json for one line per interval", file=sys.stderr)
                return 2
            show_live(console, client, settings.index_name, source, args.interval)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Leaves the live view through the same path as Ctrl-C, so the terminal is restored.
    raise KeyboardInterrupt


def stream_json(client: OpenSearch, index_name: str, interval: float) -> None:
    while True:
        started = time.monotonic()
        figures, error = read_figures(client, index_name)
        if figures is not None:
            print(json.dumps(figures.to_json(), ensure_ascii=False), flush=True)
        else:
            print(f"catsvdogs top: reading the figures failed: {error}", file=sys.stderr, flush=True)
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


def show_live(console: Console, client: OpenSearch, index_name: str, source: str, interval: float) -> None:
    """Redraw the view every ``interval`` seconds on the terminal's alternate screen until Ctrl-C.

    After a failed refresh the last figures stay on the screen under the error.
    """
    figures: Figures | None = None
    with Live(console=console, screen=True, auto_refresh=False, redirect_stderr=False) as live:
        while True:
            started = time.monotonic()
            latest, error = read_figures(client, index_name)
            figures = latest or figures
            failed_at = datetime.now(timezone.utc) if error else None
            live.update(render(figures, source=source, interval=interval, error=error, failed_at=failed_at), refresh=True)
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
