"""Transform: records per second per core of the Lambda handler on Firehose batches of 500 recorded tweets.

The handler runs in this process on one thread, on events in the shape that
LocalStack sends, built from the bundled recording with the producer's own
record builder, so every record carries the provenance block and is scored
with VADER. CPU time (``time.process_time``) is the denominator, so the figure
is per core whatever else the machine runs. One more pass runs under cProfile
to show where the time goes.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import json
import logging
import pstats
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common

NAME = "transform"
NEEDS_STACK = False
TARGET_RECORDS_PER_CORE_SECOND = 5000
BATCH_RECORDS = 500
DEFAULT_RECORDS = 12_000
DEFAULT_REPEATS = 3
PROFILE_ROWS = 12


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("transform")
    group.add_argument(
        "--transform-records", type=int, default=DEFAULT_RECORDS, metavar="N",
        help=f"recorded tweets per pass, in batches of {BATCH_RECORDS} (default: {DEFAULT_RECORDS})",
    )
    group.add_argument(
        "--transform-repeats", type=int, default=DEFAULT_REPEATS, metavar="N",
        help=f"timed passes; the result is their median (default: {DEFAULT_REPEATS})",
    )


class Context:
    """The part of the Lambda context object that the handler reads."""

    aws_request_id = "bench"


def build_payloads(records: int) -> list[str]:
    """Return one JSON invocation payload per batch, as the executor passes them to the function process."""
    from catsvdogs.records import Origin
    from catsvdogs.sources.replay import build_record

    lines = common.recording_lines(records)
    arrival_ms = time.time_ns() // 1_000_000
    payloads = []
    for start in range(0, len(lines), BATCH_RECORDS):
        batch = []
        for number, line in enumerate(lines[start : start + BATCH_RECORDS], start + 1):
            data = build_record(json.loads(line), Origin(str(common.RECORDING), number), None)
            batch.append({"data": base64.b64encode(data).decode("ascii"), "approximateArrivalTimestamp": arrival_ms})
        payloads.append(json.dumps({"records": batch}))
    return payloads


def time_pass(payloads: list[str], events: list[dict[str, Any]] | None) -> tuple[float, float]:
    """Run the handler over every batch and return (CPU seconds, wall seconds).

    With ``events``, time the handler alone on decoded events. Without, time what the
    function process does per invocation: decode the JSON payload, run the handler and
    encode the JSON response.
    """
    from catsvdogs.transform.handler import handler

    context = Context()
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    if events is not None:
        for event in events:
            handler(event, context)
    else:
        for payload in payloads:
            json.dumps(handler(json.loads(payload), context))
    return time.process_time() - cpu_started, time.perf_counter() - wall_started


def profile_pass(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run the handler once under cProfile and return the functions with the most cumulative time."""
    from catsvdogs.transform.handler import handler

    context = Context()
    profiler = cProfile.Profile()
    profiler.enable()
    for event in events:
        handler(event, context)
    profiler.disable()

    stats = pstats.Stats(profiler)
    total = max(stats.total_tt, 1e-9)
    rows = []
    for (file, line, function), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{Path(file).name}:{line}:{function}",
                "calls": calls,
                "own_share": round(own / total, 3),
                "cumulative_share": round(cumulative / total, 3),
            }
        )
    rows.sort(key=lambda row: row["cumulative_share"], reverse=True)
    return rows[:PROFILE_ROWS]


def run(context: common.Context, args: argparse.Namespace) -> dict[str, Any]:
    # The handler still formats its line per batch, as in Lambda, but the line goes nowhere.
    handler_logger = logging.getLogger("catsvdogs.transform.handler")
    discard = logging.NullHandler()
    handler_logger.addHandler(discard)
    handler_logger.propagate = False
    try:
        return measure(args)
    finally:
        handler_logger.propagate = True
        handler_logger.removeHandler(discard)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    payloads = build_payloads(args.transform_records)
    events = [json.loads(payload) for payload in payloads]
    records = sum(len(event["records"]) for event in events)
    # The first batch builds VADER's analyzer, once per function process; keep that out of the figure.
    time_pass(payloads[:1], events[:1])

    handler_cpu, handler_wall, invocation_cpu = [], [], []
    for _ in range(args.transform_repeats):
        cpu, wall = time_pass(payloads, events)
        handler_cpu.append(cpu)
        handler_wall.append(wall)
        cpu, _ = time_pass(payloads, None)
        invocation_cpu.append(cpu)

    per_core = records / common.median(handler_cpu)
    result = {
        "name": NAME,
        "records_per_pass": records,
        "batches_per_pass": len(events),
        "handler_records_per_core_second": round(per_core),
        "handler_records_per_wall_second": round(records / common.median(handler_wall)),
        "invocation_records_per_core_second": round(records / common.median(invocation_cpu)),
        "handler_ms_per_batch": round(common.median(handler_cpu) / len(events) * 1000, 1),
        "target": f">= {TARGET_RECORDS_PER_CORE_SECOND:,} records/s per core",
        "met": per_core >= TARGET_RECORDS_PER_CORE_SECOND,
        "passes_cpu_seconds": [round(value, 3) for value in handler_cpu],
        "profile": profile_pass(events),
    }
    common.LOG.info("transform: %.0f records/s per core (handler only)", per_core)
    return result


def summary_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (
            "transform (records/s per core)",
            f"{result['handler_records_per_core_second']:,}",
            result["target"],
            common.verdict(result["met"]),
        )
    ]


if __name__ == "__main__":
    sys.exit(common.run_alone(sys.modules[__name__]))
