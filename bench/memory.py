"""Memory: resident set size of `catsvdogs replay --speed max` over time, for replay files of several sizes.

The files are the bundled recording repeated until they reach each size, with
the tweet ids of each copy moved by COPY_ID_STEP so that every tweet id is
unique, as in a real recording. They are written once as plain JSON lines
under /tmp and reused by later runs. The producer sends to a local Firehose
endpoint that accepts every record (see ``firehose_sink.py``), so it runs at
its own full speed. Each size is replayed twice: as users run it, and with
--allow-duplicates, which turns off the set of tweet ids read. RSS is read
from /proc every SAMPLE_INTERVAL seconds, and the peak comes from wait4(2).
The target holds when the peak for the largest file is at most GROWTH_FRACTION
(or GROWTH_FLOOR_KIB, whichever is larger) above the peak for the smallest
file, both replayed as users run it.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common
from bench.firehose_sink import FirehoseSink

NAME = "memory"
NEEDS_STACK = False
DATA_DIR = Path("/tmp/catsvdogs-bench-data")
DEFAULT_SIZES_MB = "50,200"
FULL_SIZE_MB = 1000
SAMPLE_INTERVAL = 0.2
# Allowed growth of the peak RSS from the smallest to the largest file: 10% or 10 MiB, whichever is larger.
GROWTH_FRACTION = 0.10
GROWTH_FLOOR_KIB = 10 * 1024
SINK_STREAM = "bench-memory-sink"
# Tweet ids are 19-digit snowflakes. The recording's ids span far less than this step,
# so copies moved by different multiples of it never share an id.
COPY_ID_STEP = 10**15
TWEET_ID = re.compile(rb'^\{"data":\{"id":"(\d+)"')
MODES = {"default": [], "allow-duplicates": ["--allow-duplicates"]}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("memory")
    group.add_argument(
        "--memory-sizes", default=DEFAULT_SIZES_MB, metavar="LIST",
        help=f"comma-separated replay file sizes in MB (10^6 bytes) (default: {DEFAULT_SIZES_MB})",
    )
    group.add_argument(
        "--full", action="store_true",
        help=f"also replay a {FULL_SIZE_MB:,} MB file, which takes several minutes",
    )


def replay_file(size_mb: int) -> Path:
    """Return a JSON-lines file of the recording repeated, ``size_mb`` MB and at most one line more.

    The file is written on the first call and reused afterwards.
    """
    path = DATA_DIR / f"replay-{size_mb}MB.jsonl"
    target_bytes = size_mb * 1_000_000
    # A file from an earlier run is reused if it has the size this function writes.
    if path.exists() and target_bytes <= path.stat().st_size < target_bytes + 100_000:
        return path

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    with gzip.open(common.RECORDING, "rb") as source:
        recording = source.read().splitlines(keepends=True)
    partial = path.with_suffix(".partial")
    written = 0
    copy = 0
    with open(partial, "wb") as target:
        while written < target_bytes:
            for line in recording:
                line = renumber(line, copy)
                target.write(line)
                written += len(line)
                if written >= target_bytes:
                    break
            copy += 1
    partial.rename(path)
    common.LOG.info("Wrote %s (%d MB)", path, written // 1_000_000)
    return path


def renumber(line: bytes, copy: int) -> bytes:
    """Return ``line`` with its tweet id, wherever it appears quoted, moved by ``copy`` * COPY_ID_STEP."""
    if copy == 0:
        return line
    match = TWEET_ID.match(line)
    if match is None:
        raise common.BenchError(f"a line of {common.RECORDING} does not start with the tweet id: {line[:80]!r}")
    old = match.group(1)
    new = str(int(old) + copy * COPY_ID_STEP).encode()
    return line.replace(b'"' + old + b'"', b'"' + new + b'"')


def sample_rss(pid: int, samples: list[tuple[float, int]], started: float, stop: threading.Event) -> None:
    while not stop.is_set():
        rss = common.rss_kib(pid)
        if rss is None:
            return
        samples.append((time.monotonic() - started, rss))
        stop.wait(SAMPLE_INTERVAL)


def measure_size(context: common.Context, sink: FirehoseSink, size_mb: int, mode: str) -> dict[str, Any]:
    path = replay_file(size_mb)
    environment = dict(os.environ)
    environment.update(
        {
            "AWS_ENDPOINT_URL": sink.endpoint_url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
            "CATSVDOGS_STREAM": SINK_STREAM,
            # Replay checkpoints go to the run's work folder, which is removed afterwards.
            "XDG_STATE_HOME": str(context.workdir / "state"),
        }
    )
    environment.pop("AWS_PROFILE", None)
    samples: list[tuple[float, int]] = []
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def start_sampler(pid: int) -> None:
        thread = threading.Thread(target=sample_rss, args=(pid, samples, time.monotonic(), stop), daemon=True)
        thread.start()
        threads.append(thread)

    records_before = sink.records
    measured = common.run_measured(
        [str(common.CLI), "replay", str(path), *MODES[mode], "--speed", "max", "--no-progress", "--log-interval", "0"],
        environment,
        context.workdir / "output",
        on_start=start_sampler,
    )
    stop.set()
    for thread in threads:
        thread.join()

    sent = int(re.search(r"Sent ([\d,]+) of", measured.stdout).group(1).replace(",", ""))  # type: ignore[union-attr]
    if sink.records - records_before != sent:
        raise common.BenchError(f"the sink received {sink.records - records_before} records, the producer reports {sent}")
    # RSS at each tenth of the run, to show whether it grows while the file is read.
    profile = []
    for tenth in range(1, 11):
        moment = measured.wall_seconds * tenth / 10
        before = [rss for elapsed, rss in samples if elapsed <= moment]
        if before:
            profile.append(round(before[-1] / 1024, 1))
    result = {
        "mode": mode,
        "file_mb": round(path.stat().st_size / 1_000_000),
        "records": sent,
        "seconds": round(measured.wall_seconds, 1),
        "records_per_second": round(sent / measured.wall_seconds),
        "peak_rss_mib": round(measured.max_rss_kib / 1024, 1),
        "rss_mib_at_each_tenth": profile,
        "samples": len(samples),
    }
    common.LOG.info(
        "memory: %d MB file, %s, %d records, peak RSS %.1f MiB", result["file_mb"], mode, sent, result["peak_rss_mib"]
    )
    return result


def run(context: common.Context, args: argparse.Namespace) -> dict[str, Any]:
    sizes = sorted({int(value) for value in args.memory_sizes.split(",") if value.strip()})
    if args.full:
        sizes = sorted({*sizes, FULL_SIZE_MB})
    with FirehoseSink() as sink:
        runs = [measure_size(context, sink, size, mode) for size in sizes for mode in MODES]

    growth = {}
    for mode in MODES:
        peaks = [run for run in runs if run["mode"] == mode]
        growth[mode] = round(peaks[-1]["peak_rss_mib"] - peaks[0]["peak_rss_mib"], 1)
    default_runs = [run for run in runs if run["mode"] == "default"]
    smallest, largest = default_runs[0], default_runs[-1]
    allowed = max(smallest["peak_rss_mib"] * GROWTH_FRACTION, GROWTH_FLOOR_KIB / 1024)
    return {
        "name": NAME,
        "target": f"peak RSS at {largest['file_mb']} MB at most {allowed:.1f} MiB above the peak at {smallest['file_mb']} MB",
        "met": growth["default"] <= allowed,
        "growth_mib": growth,
        "runs": runs,
    }


def summary_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    largest_default = max(run["file_mb"] for run in result["runs"] if run["mode"] == "default")
    rows = []
    for run in result["runs"]:
        judged = run["mode"] == "default" and run["file_mb"] == largest_default
        rows.append(
            (
                f"producer peak RSS, {run['file_mb']} MB, {run['mode']} (MiB)",
                f"{run['peak_rss_mib']:.1f}",
                result["target"] if judged else "",
                common.verdict(result["met"], judged),
            )
        )
    return rows


if __name__ == "__main__":
    sys.exit(common.run_alone(sys.modules[__name__]))
