"""`catsvdogs status`: health of each component, documents per category and the S3 backup; non-zero when unhealthy."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import datetime, timezone
from typing import Any

from catsvdogs.config import load_settings
from catsvdogs.monitor.health import Check, StatusReport, collect_status, contents_json
from catsvdogs.native.compose import ComposeError
from catsvdogs.native.state import NativeState, StateError, StateFile, apply_state_endpoints, state_dir
from catsvdogs.search import make_search_client

EXIT_UNHEALTHY = 1
EXIT_NOT_RUNNING = 3


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status",
        help="check the health of each component and count the documents; exit status 1 when unhealthy",
        description=(
            "Check the processes of `catsvdogs up` (from its state file), the search server, LocalStack's services, "
            "the delivery stream and the transform function, then count the documents per category, the newest "
            "document's age and the S3 backup objects. Endpoints come from AWS_ENDPOINT_URL and OPENSEARCH_URL, or "
            "from the state of `catsvdogs up` where they are unset. Exit status: 0 healthy, 1 unhealthy, "
            "3 nothing to check (no stack running and AWS_ENDPOINT_URL unset)."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    parser.set_defaults(run=run)


def process_checks(state: NativeState) -> list[Check]:
    checks = []
    for component in [state.supervisor, *state.components.values()]:
        where = f" on port {component.port}" if component.port else ""
        if component.is_running():
            checks.append(Check(f"{component.name} process", True, f"process {component.pid}{where} running"))
        else:
            log = f"; see {component.log}" if component.log else ""
            checks.append(Check(f"{component.name} process", False, f"process {component.pid}{where} is gone{log}"))
    return checks


def run(args: argparse.Namespace) -> int:
    try:
        folder = state_dir()
        recorded = StateFile(folder).read()
    except ComposeError:
        folder, recorded = None, None
    except StateError as error:
        print(f"catsvdogs status: {error}", file=sys.stderr)
        return EXIT_UNHEALTHY
    state = apply_state_endpoints()

    if not os.environ.get("AWS_ENDPOINT_URL", "").strip():
        where = f" in {folder}" if folder else ""
        stale = " (its state file is stale: none of its processes runs)" if recorded is not None else ""
        message = (
            f"No native stack is running{where}{stale}, and AWS_ENDPOINT_URL is unset. "
            "Start one with `catsvdogs up`, or set AWS_ENDPOINT_URL and OPENSEARCH_URL to check another stack."
        )
        if args.json:
            print(json.dumps({"healthy": False, "running": False, "message": message}, indent=2))
        else:
            print(message)
        return EXIT_NOT_RUNNING

    # The search client logs each failed request with a traceback; the report lists the failure instead.
    logging.getLogger("opensearch").setLevel(logging.CRITICAL)
    settings = load_settings()
    report = StatusReport()
    if recorded is not None and state is not None:
        report.checks.extend(process_checks(state))
    collected = collect_status(settings, make_search_client(settings, timeout=10))
    report.checks.extend(collected.checks)
    report.contents = collected.contents
    now = datetime.now(timezone.utc)

    if args.json:
        print(json.dumps(report_json(report, state, now), indent=2))
    else:
        print_report(report, state, now)
    return 0 if report.healthy else EXIT_UNHEALTHY


def report_json(report: StatusReport, state: NativeState | None, now: datetime) -> dict[str, Any]:
    return {
        "healthy": report.healthy,
        "running": True,
        "native": None
        if state is None
        else {"state_file": str(StateFile(state_dir()).path), "started_at": state.started_at, "stage": state.stage, "source": state.source},
        "checks": [{"name": check.name, "healthy": check.healthy, "detail": check.detail} for check in report.checks],
        "contents": None if report.contents is None else contents_json(report.contents, now),
    }


def print_report(report: StatusReport, state: NativeState | None, now: datetime) -> None:
    if state is not None:
        sent = state.source.get("sent")
        progress = f", {sent:,} records sent" if isinstance(sent, int) else ""
        print(f"Native stack started at {state.started_at} ({StateFile(state_dir()).path}); {state.stage}{progress}")
    width = max(len(check.name) for check in report.checks)
    for check in report.checks:
        print(f"  {'OK' if check.healthy else 'FAIL':<5} {check.name:<{width}}  {check.detail}")
    contents = report.contents
    if contents is not None and contents.documents is not None:
        counts = ", ".join(f"{name} {count:,}" for name, count in contents.documents.items())
        print(f"Documents in {contents.index}: {contents.total_documents:,} ({counts})")
        age = contents.newest_age_seconds(now)
        if age is None or contents.newest_ingested_at is None:
            print("Newest document: none yet")
        else:
            print(f"Newest document: ingested {format_age(age)} ago, at {contents.newest_ingested_at:%Y-%m-%d %H:%M:%S} UTC")
    if contents is not None and contents.backup_objects is not None:
        print(f"S3 backup: {contents.backup_objects:,} objects under {contents.backup_location}")
    failed = [check.name for check in report.checks if not check.healthy]
    print("Healthy" if not failed else f"Unhealthy: {', '.join(failed)}")


def format_age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
