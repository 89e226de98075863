"""Producer efficiency: `catsvdogs replay --speed max` against one PutRecord call per tweet, to the same stream.

Both clients read the same recorded tweets with the product's replay source
(see ``naive_producer.py``), so the only difference is batching. Runs
alternate (naive, ours, naive, ours) on the product stream, where LocalStack
transforms and indexes each record inside the API call, and then on an S3-only
stream of the same LocalStack, where a call costs little beyond its own
overhead. A rate is records sent divided by the client's own time from its
first read to its last response. The naive client sends fewer records than
ours, since at one call per record a run of the same size would take minutes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, streams

NAME = "producer"
NEEDS_STACK = True
TARGET_SPEEDUP = 20.0
DEFAULT_ROUNDS = 2
# Records per run on each stream: (naive, ours). The product stream sustains about 100
# records/s batched, and about 12 one at a time, on the 2-core machine of docs/benchmarks.md.
DEFAULT_SIZES = {"product": (200, 1500), "s3-only": (300, 20_000)}
# Lines of the recording after those that the throughput benchmark sends.
INPUT_SKIP = 4000
SUMMARY_SECONDS = re.compile(r"^Sent ([\d,]+) of .* in ([\d.]+) s ", re.M)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("producer")
    group.add_argument(
        "--producer-rounds", type=int, default=DEFAULT_ROUNDS, metavar="N",
        help=f"pairs of runs per stream, naive then ours (default: {DEFAULT_ROUNDS})",
    )


def run_ours(context: common.Context, stream: str, path: Path) -> dict[str, Any]:
    deployment = context.require_deployment()
    environment = dict(deployment.environment, CATSVDOGS_STREAM=stream)
    measured = common.run_measured(
        [str(common.CLI), "replay", str(path), "--speed", "max", "--no-progress", "--log-interval", "0"],
        environment,
        context.workdir / "output",
    )
    match = SUMMARY_SECONDS.search(measured.stdout)
    if match is None:
        raise common.BenchError(f"no summary line in the output of catsvdogs replay:\n{measured.stdout}")
    sent, seconds = int(match.group(1).replace(",", "")), float(match.group(2))
    # The summary rounds to 0.1 s, so a tiny run such as the warm-up can report 0.0 s and has no rate.
    rate = round(sent / seconds, 1) if seconds > 0 else None
    return {"client": "ours", "sent": sent, "send_seconds": seconds, "records_per_second": rate}


def run_naive(context: common.Context, stream: str, path: Path) -> dict[str, Any]:
    deployment = context.require_deployment()
    measured = common.run_measured(
        [str(common.VENV_PYTHON), str(Path(__file__).with_name("naive_producer.py")), stream, str(path)],
        deployment.environment,
        context.workdir / "output",
    )
    output = json.loads(measured.stdout.strip().splitlines()[-1])
    sent, seconds = output["sent"], output["send_seconds"]
    return {"client": "naive", "sent": sent, "send_seconds": round(seconds, 3), "records_per_second": round(sent / seconds, 1)}


def compare(context: common.Context, stream: str, sizes: tuple[int, int], rounds: int, label: str) -> dict[str, Any]:
    naive_count, our_count = sizes
    folder = context.workdir / NAME
    naive_file = common.write_lines(folder / f"{label}-naive.jsonl", common.recording_lines(naive_count, skip=INPUT_SKIP))
    our_file = common.write_lines(folder / f"{label}-ours.jsonl", common.recording_lines(our_count, skip=INPUT_SKIP))

    runs = []
    for _ in range(rounds):
        runs.append(run_naive(context, stream, naive_file))
        runs.append(run_ours(context, stream, our_file))
        common.LOG.info(
            "producer, %s stream: naive %.1f records/s, ours %.1f records/s",
            label, runs[-2]["records_per_second"], runs[-1]["records_per_second"],
        )
    naive = common.median([run["records_per_second"] for run in runs if run["client"] == "naive"])
    ours = common.median([run["records_per_second"] for run in runs if run["client"] == "ours"])
    return {
        "stream": label,
        "naive_records_per_second_median": round(naive, 1),
        "ours_records_per_second_median": round(ours, 1),
        "speedup": round(ours / naive, 1),
        "runs": runs,
    }


def run(context: common.Context, args: argparse.Namespace) -> dict[str, Any]:
    deployment = context.require_deployment()
    s3_only = streams.create_stream(deployment, streams.S3_ONLY)
    # A few records through each stream first, so that no measured run pays for a cold Lambda.
    warm_up = common.write_lines(context.workdir / NAME / "warm-up.jsonl", common.recording_lines(20, skip=INPUT_SKIP - 20))
    run_ours(context, deployment.stream, warm_up)
    run_ours(context, s3_only.name, warm_up)

    product = compare(context, deployment.stream, DEFAULT_SIZES["product"], args.producer_rounds, "product")
    s3 = compare(context, s3_only.name, DEFAULT_SIZES["s3-only"], args.producer_rounds, "s3-only")
    return {
        "name": NAME,
        "target": f"ours >= {TARGET_SPEEDUP:g} x naive on the product stream",
        "met": product["speedup"] >= TARGET_SPEEDUP,
        "comparisons": [product, s3],
    }


def summary_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = []
    for comparison in result["comparisons"]:
        judged = comparison["stream"] == "product"
        rows.append(
            (
                f"producer, {comparison['stream']} stream: ours / naive",
                f"{comparison['speedup']:.1f} ({comparison['ours_records_per_second_median']:,.0f} / "
                f"{comparison['naive_records_per_second_median']:,.1f} records/s)",
                result["target"] if judged else "",
                common.verdict(result["met"], judged),
            )
        )
    return rows


if __name__ == "__main__":
    sys.exit(common.run_alone(sys.modules[__name__]))
