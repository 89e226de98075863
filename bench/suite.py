"""Run the benchmarks, write their results as JSON and print a table; started by bench/run.

Benchmarks without the stack run first, then one native stack is started in a
temporary folder, provisioned with unique names, used by the others in turn
and stopped by process id.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, latency, memory, producer, throughput, transform

# Order of the runs: the two without the stack first, so that an idle LocalStack does not share their CPU.
BENCHMARKS: tuple[ModuleType, ...] = (transform, memory, throughput, producer, latency)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description="Run the catsvdogs benchmarks on the native stack and print their figures; see docs/benchmarks.md.",
    )
    names = ", ".join(module.NAME for module in BENCHMARKS)
    parser.add_argument("--only", default="", metavar="LIST", help=f"comma-separated benchmarks to run, of: {names} (default: all)")
    parser.add_argument(
        "--output", type=Path, default=None, metavar="FILE",
        help=f"JSON result file (default: {common.RESULTS_DIR.relative_to(common.ROOT)}/run-<UTC time>.json)",
    )
    parser.add_argument("--keep-workdir", action="store_true", help="keep the temporary work folder with the stack's logs")
    for module in BENCHMARKS:
        module.add_arguments(parser)
    return parser


def select(only: str) -> list[ModuleType]:
    if not only.strip():
        return list(BENCHMARKS)
    requested = [name.strip() for name in only.split(",") if name.strip()]
    known = {module.NAME: module for module in BENCHMARKS}
    unknown = [name for name in requested if name not in known]
    if unknown:
        raise SystemExit(f"bench/run: unknown benchmark {', '.join(unknown)}; choose from {', '.join(known)}")
    return [module for module in BENCHMARKS if module.NAME in requested]


def run_group(modules: list[ModuleType], need_stack: bool, args: argparse.Namespace, results: dict[str, Any]) -> None:
    """Run ``modules`` in one context, recording each result or error in ``results``."""
    if not modules:
        return
    with common.open_context(need_stack, keep_workdir=args.keep_workdir) as context:
        for module in modules:
            started = time.monotonic()
            common.LOG.info("Benchmark %s started", module.NAME)
            try:
                result = module.run(context, args)
            except Exception as error:  # noqa: BLE001 - one failed benchmark must not stop the others
                common.LOG.error("Benchmark %s failed: %s\n%s", module.NAME, error, traceback.format_exc())
                result = {"name": module.NAME, "error": f"{type(error).__name__}: {error}"}
            result["seconds"] = round(time.monotonic() - started, 1)
            common.LOG.info("Benchmark %s finished in %.0f s", module.NAME, result["seconds"])
            results[module.NAME] = result


def format_table(modules: list[ModuleType], results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str]] = [("figure", "value", "target", "met")]
    for module in modules:
        result = results.get(module.NAME, {})
        if "error" in result:
            rows.append((module.NAME, f"failed: {result['error'][:60]}", "", "no"))
        else:
            rows.extend(module.summary_rows(result))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    common.configure_logging()
    args = build_parser().parse_args(argv)
    modules = select(args.only)
    output = args.output or common.RESULTS_DIR / f"run-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    document: dict[str, Any] = {
        "date": common.now_utc(),
        "command": " ".join(["bench/run", *(argv if argv is not None else sys.argv[1:])]),
        "machine": common.machine_info(),
        "source": common.source_info(),
        "results": {},
    }
    started = time.monotonic()

    results: dict[str, Any] = {}
    try:
        run_group([module for module in modules if not module.NEEDS_STACK], False, args, results)
        run_group([module for module in modules if module.NEEDS_STACK], True, args, results)
    finally:
        document["results"] = results
        document["seconds"] = round(time.monotonic() - started, 1)
        common.write_results(output, document)
        logging.getLogger("bench").info("Results written to %s", output)

    print(format_table(modules, results))
    print(f"\nMachine: {json.dumps(document['machine'])}")
    print(f"Results: {output}")
    return 1 if any("error" in result for result in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
