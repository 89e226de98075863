"""Latency: p50 and p95 from the moment the producer reads a tweet to the moment a search finds its document.

Input: recorded tweets whose ``created_at`` are rewritten to lie exactly
1/RATE seconds apart, replayed with ``catsvdogs replay --speed 1``, so the
producer reads RATE tweets per second at an even pace. The producer stamps
``read_at`` into each record and the document keeps it. A poller searches the
index for documents of this input file that are new since its last poll, and
records the time each document was first found. Latency is that time minus
``read_at``; both come from this host's clock. ``ingested_at`` (Firehose's
arrival time) splits it into producer time and delivery time.

``--latency-streams product,direct`` also measures a copy of the product
stream that writes to the search server's URL (ClusterEndpoint) instead of the
domain, which shows what LocalStack's domain proxy adds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, streams

NAME = "latency"
NEEDS_STACK = True
TARGET_P95_SECONDS = 1.0
DEFAULT_RATES = "100,50"
DEFAULT_SECONDS = 30.0
DEFAULT_POLL_INTERVAL = 0.05
DEFAULT_STREAMS = "product"
# Tweets after the slice that the throughput benchmark sends, so the two never share an input line.
INPUT_SKIP = 8000
WARM_UP_RECORDS = 20
PAGE_SIZE = 1000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("latency")
    group.add_argument(
        "--latency-rates", default=DEFAULT_RATES, metavar="LIST",
        help=f"comma-separated paced rates in tweets/s; the target applies to 100 (default: {DEFAULT_RATES})",
    )
    group.add_argument(
        "--latency-seconds", type=float, default=DEFAULT_SECONDS, metavar="S",
        help=f"seconds of paced input per rate (default: {DEFAULT_SECONDS:g})",
    )
    group.add_argument(
        "--latency-streams", default=DEFAULT_STREAMS, metavar="LIST",
        help="comma-separated streams: product, and direct for a copy of it without LocalStack's domain proxy "
        f"(default: {DEFAULT_STREAMS})",
    )
    group.add_argument(
        "--latency-poll-interval", type=float, default=DEFAULT_POLL_INTERVAL, metavar="S",
        help=f"seconds between the end of one search and the start of the next (default: {DEFAULT_POLL_INTERVAL:g})",
    )


def parse_time(value: str) -> float:
    """Return an ISO 8601 UTC timestamp such as 2026-01-01T00:00:00.123Z as seconds since the epoch."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def write_paced_input(path: Path, count: int, rate: float, skip: int) -> Path:
    """Write ``count`` recorded tweets with ``created_at`` exactly 1/``rate`` s apart, so --speed 1 paces them at ``rate``."""
    from catsvdogs.sources.replay import format_timestamp

    start = datetime(2025, 3, 15, 17, 0, tzinfo=UTC)
    lines = []
    for number, line in enumerate(common.recording_lines(count, skip=skip)):
        message = json.loads(line)
        message["data"]["created_at"] = format_timestamp(start + timedelta(seconds=number / rate))
        lines.append(json.dumps(message, ensure_ascii=False, separators=(",", ":")))
    return common.write_lines(path, lines)


@dataclass
class Poller:
    """Thread that searches for the documents of one input file and records when each was first found.

    Each search requests only the documents read at or after the newest ``read_at`` that
    precedes every document not yet found. The producer reads lines in order, so every
    missing document is in that range, and a search returns few documents however long
    the run.
    """

    client: Any
    index: str
    origin_file: str
    expected: int
    interval: float
    found: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    """Line number -> (read_at, ingested_at, first found), all in seconds since the epoch."""
    poll_seconds: list[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set() and len(self.found) < self.expected:
                self.poll()
                self.stop.wait(self.interval)
        except BaseException as error:  # noqa: BLE001 - re-raised by the benchmark thread
            self.error = error

    def lower_bound(self) -> float | None:
        """Return the newest ``read_at`` among found lines that precede the first missing line."""
        line = 1
        while line in self.found:
            line += 1
        return self.found[line - 1][0] if line > 1 else None

    def poll(self) -> None:
        filters: list[dict[str, Any]] = [{"term": {"origin.file": self.origin_file}}]
        lower = self.lower_bound()
        if lower is not None:
            filters.append({"range": {"read_at": {"gte": int(lower * 1000), "format": "epoch_millis"}}})
        search_after = None
        started = time.time()
        while True:
            body: dict[str, Any] = {
                "query": {"bool": {"filter": filters}},
                "sort": [{"origin.line": "asc"}],
                "size": PAGE_SIZE,
                "_source": ["origin.line", "read_at", "ingested_at"],
            }
            if search_after is not None:
                body["search_after"] = search_after
            hits = self.client.search(index=self.index, body=body)["hits"]["hits"]
            answered = time.time()
            for hit in hits:
                source = hit["_source"]
                line = source["origin"]["line"]
                if line not in self.found:
                    self.found[line] = (parse_time(source["read_at"]), parse_time(source["ingested_at"]), answered)
            if len(hits) < PAGE_SIZE:
                break
            search_after = hits[-1]["sort"]
        self.poll_seconds.append(time.time() - started)


def measure_rate(
    context: common.Context, stream: str, index: str, rate: float, seconds: float, interval: float, skip: int
) -> dict[str, Any]:
    deployment = context.require_deployment()
    count = int(rate * seconds)
    path = write_paced_input(context.workdir / NAME / f"{stream}-paced-{rate:g}.jsonl", count, rate, skip)
    poller = Poller(common.search_client(deployment), index, str(path), count, interval)
    thread = threading.Thread(target=poller.run, name="latency-poller", daemon=True)
    load = list(os.getloadavg())

    thread.start()
    measured = common.run_measured(
        [str(common.CLI), "replay", str(path), "--speed", "1", "--no-progress", "--log-interval", "0"],
        dict(deployment.environment, CATSVDOGS_STREAM=stream),
        context.workdir / "output",
    )
    thread.join(timeout=120)
    poller.stop.set()
    if poller.error is not None:
        raise poller.error
    if len(poller.found) < count:
        raise common.BenchError(f"latency at {rate:g}/s: {len(poller.found)} of {count} documents found after 120 s")

    total = [found - read for read, _, found in poller.found.values()]
    to_firehose = [ingested - read for read, ingested, _ in poller.found.values()]
    to_search = [found - ingested for _, ingested, found in poller.found.values()]
    read_times = sorted(read for read, _, _ in poller.found.values())
    achieved_rate = (count - 1) / (read_times[-1] - read_times[0]) if count > 1 else 0.0
    result = {
        "stream": stream,
        "rate_tweets_per_second": rate,
        "records": count,
        "read_rate_achieved": round(achieved_rate, 1),
        "producer_seconds": round(measured.wall_seconds, 2),
        "p50_seconds": round(common.percentile(total, 0.5), 3),
        "p95_seconds": round(common.percentile(total, 0.95), 3),
        "max_seconds": round(max(total), 3),
        "read_to_ingested_p50_seconds": round(common.percentile(to_firehose, 0.5), 3),
        "read_to_ingested_p95_seconds": round(common.percentile(to_firehose, 0.95), 3),
        "ingested_to_found_p50_seconds": round(common.percentile(to_search, 0.5), 3),
        "ingested_to_found_p95_seconds": round(common.percentile(to_search, 0.95), 3),
        "poll_seconds_p50": round(common.percentile(poller.poll_seconds, 0.5), 4),
        "poll_interval_seconds": interval,
        "load_average_at_start": load,
    }
    common.LOG.info(
        "latency to %s at %g tweets/s: p50 %.3f s, p95 %.3f s, max %.3f s",
        stream, rate, result["p50_seconds"], result["p95_seconds"], result["max_seconds"],
    )
    return result


def run(context: common.Context, args: argparse.Namespace) -> dict[str, Any]:
    deployment = context.require_deployment()
    rates = [float(value) for value in args.latency_rates.split(",") if value.strip()]
    chosen: dict[str, tuple[str, str]] = {}
    for name in [value.strip() for value in args.latency_streams.split(",") if value.strip()]:
        if name == "product":
            chosen[name] = (deployment.stream, deployment.index)
        elif name == "direct":
            direct = streams.create_stream(deployment, streams.PRODUCT_DIRECT)
            chosen[name] = (direct.name, direct.index or "")
        else:
            raise common.BenchError(f"unknown latency stream {name!r}; use product or direct")

    # A short unpaced replay through each stream first, so that no measured tweet pays for a cold Lambda.
    warm_up = common.write_lines(
        context.workdir / NAME / "warm-up.jsonl", common.recording_lines(WARM_UP_RECORDS, skip=INPUT_SKIP - WARM_UP_RECORDS)
    )
    for stream, _ in chosen.values():
        common.run_measured(
            [str(common.CLI), "replay", str(warm_up), "--speed", "max", "--no-progress"],
            dict(deployment.environment, CATSVDOGS_STREAM=stream),
            context.workdir / "output",
        )

    runs = []
    skip = INPUT_SKIP
    for name, (stream, index) in chosen.items():
        for rate in rates:
            run = measure_rate(context, stream, index, rate, args.latency_seconds, args.latency_poll_interval, skip)
            run["stream"] = name
            runs.append(run)
            skip += run["records"]

    targeted = [run for run in runs if run["stream"] == "product" and run["rate_tweets_per_second"] == 100]
    met = bool(targeted) and targeted[0]["p95_seconds"] < TARGET_P95_SECONDS
    return {
        "name": NAME,
        "target": f"p95 < {TARGET_P95_SECONDS:g} s at 100 tweets/s on the product stream",
        "met": met,
        "runs": runs,
    }


def summary_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = []
    for run in result["runs"]:
        is_target = run["stream"] == "product" and run["rate_tweets_per_second"] == 100
        rows.append(
            (
                f"latency, {run['stream']} stream at {run['rate_tweets_per_second']:g}/s, p50 / p95 (s)",
                f"{run['p50_seconds']:.2f} / {run['p95_seconds']:.2f}",
                result["target"] if is_target else "",
                common.verdict(result["met"], is_target),
            )
        )
    return rows


if __name__ == "__main__":
    sys.exit(common.run_alone(sys.modules[__name__]))
