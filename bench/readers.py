"""Benchmark of the recorded-tweet readers: tweets per second per format and peak memory.

Usage: ``python bench/readers.py [--size-mb 1100] [--workdir /tmp/catsvdogs-bench]``.

It generates input files in ``--workdir`` (never in the repository): one v2
stream file of ``--size-mb`` megabytes, a tenth-size copy of it to show that
memory does not grow with file size, and ``--format-size-mb`` files of every
other format. Records are the real-format fixtures of ``tests/fixtures`` with
fresh ids. Each measurement runs in its own Python process, so its peak
resident memory (``ru_maxrss``) belongs to that reader alone, and the fastest
of ``--repeats`` runs is reported. Each process
reads the whole file with ``catsvdogs.sources.recorded.read_file``, which
decodes, converts and checks every record, as ``catsvdogs inspect`` does. The
"v2 + records" case also serialises each message with its provenance block,
as ``catsvdogs replay`` does before sending. The baseline is a plain
``for line in f: json.loads(line)`` over the same v2 file, in the same run.
The results are printed as JSON and as a Markdown table.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
FIRST_ID = 1_600_000_000_000_000_000


def _json_lines(path: Path) -> list[dict[str, Any]]:
    """Return the decodable JSON objects of a fixture, skipping its blank and cut-off lines."""
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _v2_messages() -> list[dict[str, Any]]:
    messages = []
    for name in ("twarc2_stream_cutoff.jsonl", "stream_v2_minimal.jsonl"):
        for message in _json_lines(FIXTURES / name):
            if isinstance(message.get("data"), dict):
                messages.append(message)
    return messages


def _v2_line(template: dict[str, Any], tweet_id: int) -> dict[str, Any]:
    message = copy.copy(template)
    message["data"] = dict(template["data"], id=str(tweet_id), edit_history_tweet_ids=[str(tweet_id)])
    return message


def _page(templates: list[dict[str, Any]], first_id: int, size: int = 100) -> dict[str, Any]:
    data = [dict(templates[i % len(templates)]["data"], id=str(first_id + i)) for i in range(size)]
    users = {u["id"]: u for t in templates for u in t.get("includes", {}).get("users", [])}
    return {"data": data, "includes": {"users": list(users.values())}, "meta": {"result_count": size}}


def _flat(template: dict[str, Any], tweet_id: int) -> dict[str, Any]:
    tweet = dict(template["data"], id=str(tweet_id))
    users = template.get("includes", {}).get("users", [])
    if users:
        tweet["author"] = users[0]
    return tweet


def _v1(template: dict[str, Any], tweet_id: int) -> dict[str, Any]:
    return dict(template, id=tweet_id, id_str=str(tweet_id))


def _activity(template: dict[str, Any], tweet_id: int) -> dict[str, Any]:
    return dict(template, id=f"tag:search.twitter.com,2005:{tweet_id}")


def _records(size_bytes: int, make: Callable[[int], dict[str, Any]], per_record: int = 1) -> Iterator[str]:
    """Yield JSON lines of ``make(id)`` until ``size_bytes`` are produced."""
    written = 0
    tweet_id = FIRST_ID
    while written < size_bytes:
        line = json.dumps(make(tweet_id), ensure_ascii=False, separators=(",", ":")) + "\n"
        written += len(line.encode("utf-8"))
        tweet_id += per_record
        yield line


def generate(workdir: Path, size_mb: int, format_size_mb: int) -> dict[str, Path]:
    """Write the benchmark inputs, reusing files of the right size from an earlier run."""
    workdir.mkdir(parents=True, exist_ok=True)
    v2 = _v2_messages()
    v1 = _json_lines(FIXTURES / "gnip_original_format.jsonl")
    activities = _json_lines(FIXTURES / "gnip_activity_streams.jsonl")
    archive = json.loads((FIXTURES / "archive_tweets.js").read_text(encoding="utf-8").split("=", 1)[1])
    mb = 1_000_000
    plans: dict[str, tuple[int, Callable[[int], dict[str, Any]], int]] = {
        "x-v2-stream": (size_mb * mb, lambda i: _v2_line(v2[i % len(v2)], i), 1),
        "x-v2-stream-small": (size_mb * mb // 10, lambda i: _v2_line(v2[i % len(v2)], i), 1),
        "twarc2-pages": (format_size_mb * mb, lambda i: _page(v2, i), 100),
        "twarc2-flat": (format_size_mb * mb, lambda i: _flat(v2[i % len(v2)], i), 1),
        "v1-original": (format_size_mb * mb, lambda i: _v1(v1[i % len(v1)], i), 1),
        "activity-streams": (format_size_mb * mb, lambda i: _activity(activities[i % len(activities)], i), 1),
    }
    paths = {}
    for name, (size, make, per_record) in plans.items():
        path = workdir / f"{name}.jsonl"
        paths[name] = path
        if path.exists() and path.stat().st_size >= size:
            continue
        with path.open("w", encoding="utf-8") as output:
            output.writelines(_records(size, make, per_record))

    path = workdir / "tweets.js"
    paths["x-archive"] = path
    if not (path.exists() and path.stat().st_size >= format_size_mb * mb):
        with path.open("w", encoding="utf-8") as output:
            output.write("window.YTD.tweets.part0 = [")
            written, tweet_id = 0, FIRST_ID
            while written < format_size_mb * mb:
                element = copy.deepcopy(archive[tweet_id % len(archive)])
                element["tweet"]["id"] = element["tweet"]["id_str"] = str(tweet_id)
                text = ("," if tweet_id > FIRST_ID else "") + "\n" + json.dumps(element, indent=2, separators=(",", " : "))
                written += len(text)
                tweet_id += 1
                output.write(text)
            output.write("\n]")
    return paths


def measure(kind: str, path: Path) -> dict[str, Any]:
    """Read ``path`` once in this process and return the counts, the time and the peak RSS."""
    # Imported before the clock starts, so that import time does not count.
    from catsvdogs.sources.recorded import TweetMessage, read_file
    from catsvdogs.sources.replay import build_record

    started = time.perf_counter()
    tweets = 0
    if kind == "baseline":
        with path.open("rb") as lines:
            for line in lines:
                json.loads(line)
                tweets += 1
    else:
        serialise = kind == "records"
        for item in read_file(path):
            if isinstance(item, TweetMessage):
                tweets += 1
                if serialise:
                    build_record(item.message, item.origin, None)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "tweets": tweets,
        "seconds": round(seconds, 2),
        "tweets_per_second": round(tweets / seconds),
        "megabytes_per_second": round(path.stat().st_size / 1e6 / seconds, 1),
        "file_megabytes": round(path.stat().st_size / 1e6),
        "peak_rss_mib": round(peak_kib / 1024, 1),
    }


def run_measurement(kind: str, path: Path) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, "--measure", kind, str(path)], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(output)


def machine() -> dict[str, str]:
    model = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": str(os.cpu_count()), "cpu": model, "python": platform.python_version()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1100, help="size of the large v2 stream file in MB (default: 1100)")
    parser.add_argument("--format-size-mb", type=int, default=100, help="size of the file of each other format in MB (default: 100)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/catsvdogs-bench"), help="where the generated files go")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each case; the fastest is reported (default: 3)")
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure[0], Path(args.measure[1]))))
        return 0

    paths = generate(args.workdir, args.size_mb, args.format_size_mb)
    cases = [
        ("baseline: for line in f: json.loads(line)", "baseline", "x-v2-stream"),
        ("x-v2-stream", "read", "x-v2-stream"),
        ("x-v2-stream + records for Firehose", "records", "x-v2-stream"),
        ("x-v2-stream, file a tenth the size", "read", "x-v2-stream-small"),
        ("twarc2-pages", "read", "twarc2-pages"),
        ("twarc2-flat", "read", "twarc2-flat"),
        ("v1-original", "read", "v1-original"),
        ("activity-streams", "read", "activity-streams"),
        ("x-archive", "read", "x-archive"),
    ]
    results: dict[str, Any] = {"machine": machine(), "repeats": args.repeats, "cases": []}
    for label, kind, name in cases:
        # The best of several runs, because other processes on the machine slow single runs down.
        runs = [run_measurement(kind, paths[name]) for _ in range(args.repeats)]
        result = max(runs, key=lambda run: run["tweets_per_second"])
        results["cases"].append({"case": label, **result})
        print(f"{label}: {result}", file=sys.stderr, flush=True)
    baseline = results["cases"][0]["tweets_per_second"]
    v2 = results["cases"][1]["tweets_per_second"]
    results["v2_to_baseline_ratio"] = round(v2 / baseline, 2)

    print(json.dumps(results, indent=2))
    print("\n| case | file MB | tweets | tweets/s | MB/s | peak RSS MiB |\n|---|---:|---:|---:|---:|---:|")
    for case in results["cases"]:
        print(
            f"| {case['case']} | {case['file_megabytes']:,} | {case['tweets']:,} | {case['tweets_per_second']:,} "
            f"| {case['megabytes_per_second']} | {case['peak_rss_mib']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
