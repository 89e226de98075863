"""End-to-end throughput: `catsvdogs replay --speed max` against a minimal client on a stream without transform.

Both runs send the same tweets through the same LocalStack Firehose to the same
OpenSearch domain, with an S3 backup of all documents. The ceiling stream has
no processing configuration, and its client (``minimal_client.py``) sends
documents that are already in the transformed shape, so the ceiling is what
Firehose and the search server sustain without our producer and our
transform. Runs alternate (ceiling, ours, ceiling, ours, ...) and the result
is the ratio of the median rates. A rate is the number of documents
searchable at the end divided by the time from the client's process start to
the first search that finds all of them.

Each round also runs the minimal client against a stream that writes to the
search server's URL (ClusterEndpoint) instead of the domain, which shows the
cost of LocalStack's domain proxy. It is a reference and not part of the ratio.
``--throughput-prototype-senders N`` adds a run of ``concurrent_replay.py``
with N sender threads to each round.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, profiling, streams

NAME = "throughput"
NEEDS_STACK = True
TARGET_RATIO = 0.8
DEFAULT_RECORDS = 2000
DEFAULT_ROUNDS = 3
WARM_UP_RECORDS = 50
SEARCHABLE_TIMEOUT = 600.0
# Frames of LocalStack 4.14.0 and the host-subprocess executor that a profile reports on.
LOCALSTACK_FRAMES = {
    "any HTTP request (Gateway.process)": "Gateway.process",
    "Firehose PutRecordBatch": "FirehoseProvider.put_record_batch",
    "index each document (OpenSearch.create)": "OpenSearch.create",
    "S3 backup of the batch": "FirehoseProvider._put_records_to_s3_bucket",
    "new boto3 client (Session.create_client)": "Session.create_client",
    "Lambda invoke": "HostSubprocessExecutor.invoke",
    "domain proxy to the search server": "Proxy.forward",
}
PRODUCER_FRAMES = {
    "PutRecordBatch call (FirehoseSender.put_batch)": "FirehoseSender.put_batch",
    "reading and parsing the file (replay)": "replay",
    "building records (build_record)": "build_record",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("throughput")
    group.add_argument(
        "--throughput-records", type=int, default=DEFAULT_RECORDS, metavar="N",
        help=f"tweets per run (default: {DEFAULT_RECORDS})",
    )
    group.add_argument(
        "--throughput-rounds", type=int, default=DEFAULT_ROUNDS, metavar="N",
        help=f"rounds of runs: ceiling, ours, ceiling without the domain proxy (default: {DEFAULT_ROUNDS})",
    )
    group.add_argument(
        "--throughput-prototype-senders", type=int, default=0, metavar="N",
        help="also run the prototype producer with N sender threads in each round (default: 0, not run)",
    )
    group.add_argument(
        "--profile", action="store_true",
        help="after the rounds, run ours once more under py-spy (LocalStack and the producer) and summarise the profiles",
    )


def build_documents(lines: list[str], path: Path) -> Path:
    """Write the document that our transform makes of each tweet, one JSON line each, as the ceiling's input."""
    from catsvdogs.records import Origin
    from catsvdogs.sources.replay import build_record
    from catsvdogs.transform.category import load_vocabulary
    from catsvdogs.transform.record import serialize_document, transform_record

    vocabulary = load_vocabulary()
    arrival_ms = time.time_ns() // 1_000_000
    with open(path, "wb") as target:
        for number, line in enumerate(lines, 1):
            record = build_record(json.loads(line), Origin(str(path), number), None)
            result, document = transform_record(record, arrival_ms, vocabulary)
            if result != "Ok":
                raise common.BenchError(f"line {number} of the recording did not transform: {document}")
            target.write(serialize_document(document) + b"\n")
    return path


def replay_command(path: Path) -> list[str]:
    return [str(common.CLI), "replay", str(path), "--speed", "max", "--no-progress", "--log-interval", "0"]


def minimal_command(stream: str, path: Path) -> list[str]:
    return [str(common.VENV_PYTHON), str(Path(__file__).with_name("minimal_client.py")), stream, str(path)]


def prototype_command(senders: int, path: Path) -> list[str]:
    return [str(common.VENV_PYTHON), str(Path(__file__).with_name("concurrent_replay.py")), str(senders), str(path)]


def cpu_snapshot(context: common.Context) -> dict[str, float]:
    """Return the CPU seconds used so far by LocalStack, the search server and the Lambda function processes."""
    pids = common.stack_pids(context)
    seconds = common.process_cpu_seconds(pids)
    seconds["lambda"] = sum(common.cpu_seconds(pid) or 0.0 for pid in common.lambda_pids(pids.get("localstack")))
    return seconds


def measure_run(
    context: common.Context,
    label: str,
    command: list[str],
    index: str,
    records: int,
    environment: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run one client to its end, wait until its documents are searchable, and return its rate and CPU use."""
    deployment = context.require_deployment()
    client = common.search_client(deployment)
    baseline = common.count_documents(client, index)
    load = list(os.getloadavg())
    cpu_before = cpu_snapshot(context)

    measured = common.run_measured(command, environment or deployment.environment, context.workdir / "output")
    searchable_at = common.wait_for_count(client, index, baseline + records, timeout=SEARCHABLE_TIMEOUT)

    cpu_after = cpu_snapshot(context)
    wall = searchable_at - measured.started
    cpu = {name: round(cpu_after[name] - cpu_before.get(name, 0.0), 2) for name in cpu_after}
    cpu["client"] = round(measured.cpu_seconds, 2)
    run = {
        "client": label,
        "records": records,
        "wall_seconds": round(wall, 3),
        "tweets_per_second": round(records / wall, 1),
        "client_exit_seconds": round(measured.wall_seconds, 3),
        "cpu_seconds": cpu,
        "cpu_ms_per_tweet": {name: round(seconds * 1000 / records, 2) for name, seconds in cpu.items()},
        "client_busy_share": round(measured.cpu_seconds / measured.wall_seconds, 3),
        "load_average_at_start": [round(value, 2) for value in load],
    }
    common.LOG.info("%s: %d tweets searchable in %.2f s, %.1f tweets/s, CPU s %s", label, records, wall, records / wall, cpu)
    return run


def profile_ours(context: common.Context, tweets_file: Path, records: int) -> dict[str, Any]:
    """Run ours once more with py-spy on LocalStack and on the producer, and summarise both profiles."""
    deployment = context.require_deployment()
    folder = context.workdir / NAME / "profile"
    localstack = profiling.Recording(common.stack_pids(context)["localstack"] or 0, folder / "localstack.txt")
    producer_raw = folder / "producer.txt"
    command = [
        str(profiling.ensure_py_spy()), "record", *profiling.RECORD_OPTIONS, "--output", str(producer_raw),
        "--", *replay_command(tweets_file),
    ]
    localstack.start()
    try:
        run = measure_run(context, "ours under py-spy", command, deployment.index, records)
    finally:
        localstack.stop()
    return {
        "run": run,
        "localstack": profiling.summarize(localstack.output, LOCALSTACK_FRAMES),
        "producer": profiling.summarize(producer_raw, PRODUCER_FRAMES),
    }


def run(context: common.Context, args: argparse.Namespace) -> dict[str, Any]:
    deployment = context.require_deployment()
    records = args.throughput_records
    folder = context.workdir / NAME
    lines = common.recording_lines(records)
    tweets_file = common.write_lines(folder / "tweets.jsonl", lines)
    documents_file = build_documents(lines, folder / "documents.jsonl")
    ceiling = streams.create_stream(deployment, streams.CEILING)
    direct = streams.create_stream(deployment, streams.CEILING_DIRECT)
    assert ceiling.index and direct.index

    # One small run through each stream first, so that no measured run pays for a cold Lambda or new connections.
    warm_lines = common.recording_lines(WARM_UP_RECORDS, skip=records)
    warm_tweets = common.write_lines(folder / "warm-up.jsonl", warm_lines)
    warm_documents = build_documents(warm_lines, folder / "warm-up-documents.jsonl")
    measure_run(context, "warm-up ceiling", minimal_command(ceiling.name, warm_documents), ceiling.index, WARM_UP_RECORDS)
    measure_run(context, "warm-up direct", minimal_command(direct.name, warm_documents), direct.index, WARM_UP_RECORDS)
    measure_run(context, "warm-up ours", replay_command(warm_tweets), deployment.index, WARM_UP_RECORDS)

    runs = []
    for _ in range(args.throughput_rounds):
        runs.append(measure_run(context, "ceiling", minimal_command(ceiling.name, documents_file), ceiling.index, records))
        runs.append(measure_run(context, "ours", replay_command(tweets_file), deployment.index, records))
        runs.append(measure_run(context, "ceiling-direct", minimal_command(direct.name, documents_file), direct.index, records))
        if args.throughput_prototype_senders:
            label = f"prototype-{args.throughput_prototype_senders}-senders"
            command = prototype_command(args.throughput_prototype_senders, tweets_file)
            runs.append(measure_run(context, label, command, deployment.index, records))

    medians = {}
    for label in dict.fromkeys(run["client"] for run in runs):
        medians[label] = round(common.median([run["tweets_per_second"] for run in runs if run["client"] == label]), 1)
    ratio = medians["ours"] / medians["ceiling"]
    result = {
        "name": NAME,
        "records_per_run": records,
        "tweets_per_second_median": medians,
        "ratio": round(ratio, 3),
        "target": f"ours / ceiling >= {TARGET_RATIO}",
        "met": ratio >= TARGET_RATIO,
        "runs": runs,
    }
    if args.profile:
        result["profile"] = profile_ours(context, tweets_file, records)
    return result


def summary_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Return table rows: figure, value, target, met."""
    rows = [
        (f"throughput, {label} (tweets/s)", f"{rate:,.1f}", "", "")
        for label, rate in result["tweets_per_second_median"].items()
    ]
    rows.append(("throughput, ours / ceiling", f"{result['ratio']:.2f}", result["target"], common.verdict(result["met"])))
    return rows


if __name__ == "__main__":
    sys.exit(common.run_alone(sys.modules[__name__]))
