"""`catsvdogs inspect FILE...`: report the format, tweets, time span and categories of recorded files, sending nothing."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from catsvdogs.formats.registry import FORMATS
from catsvdogs.inspection import CATEGORIES, TWEET_TYPES, Counts, FileInspection, inspect_files
from catsvdogs.transform.category import load_vocabulary

EXIT_STATUS_HELP = (
    "Exit status: 0 when at least one tweet was found, or when nothing was rejected. 1 when no tweet was found and "
    "at least one input was rejected (every record rejected, or no file found or readable). 2 for invalid arguments."
)


def add_format_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --format and --allow-duplicates, which replay and inspect share."""
    parser.add_argument(
        "--format",
        choices=list(FORMATS),
        default=None,
        help="read every file as this format instead of detecting it from each file's content",
    )
    parser.add_argument(
        "--allow-duplicates",
        action="store_true",
        help="keep a tweet id that was already read instead of skipping it (earlier edit versions are still skipped)",
    )


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    formats = "; ".join(f"{name}: {record_format.description}" for name, record_format in FORMATS.items())
    parser = subparsers.add_parser(
        "inspect",
        help="report the format, tweets, time span and categories of recorded files without sending anything",
        description=(
            "Read recorded tweet files (plain or gzip) as 'catsvdogs replay' would and print, for each file and in "
            "total, the detected format, the number of tweets, their time span and the counts per category and "
            f"tweet type. Nothing is sent. Formats: {formats}."
        ),
        epilog=EXIT_STATUS_HELP,
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="recorded tweet file")
    add_format_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON report instead of text")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    files, total = inspect_files(
        args.files, load_vocabulary(), forced_format=args.format, allow_duplicates=args.allow_duplicates
    )
    if args.json:
        print(json.dumps({"files": [item.as_json() for item in files], "total": total.as_json()}, indent=2))
    else:
        print(format_report(files, total))
    status = exit_status(total)
    if status != 0:
        rejected = sum(total.rejected.values())
        print(f"catsvdogs inspect: no tweet found, because every input was rejected ({rejected:,} rejected)", file=sys.stderr)
    return status


def exit_status(total: Counts) -> int:
    """Return 1 when no tweet was found but inputs were rejected, else 0, as EXIT_STATUS_HELP documents."""
    if total.tweets == 0 and sum(total.rejected.values()) > 0:
        return 1
    return 0


def format_report(files: list[FileInspection], total: Counts) -> str:
    lines = []
    for item in files:
        described = f"{item.format} ({item.framing})" if item.format else "format unknown"
        lines.append(f"{item.path}: {described}")
        lines.extend(_format_counts(item.counts))
        for sample in item.samples:
            lines.append(f"    {sample.origin}: {sample.reason}")
    if len(files) > 1:
        lines.append(f"Total of {len(files)} files:")
        lines.extend(_format_counts(total))
    return "\n".join(lines)


def _format_counts(counts: Counts) -> list[str]:
    categories = ", ".join(f"{name} {counts.categories[name]:,}" for name in CATEGORIES)
    types = ", ".join(f"{name} {counts.tweet_types[name]:,}" for name in TWEET_TYPES)
    lines = [
        f"  records {counts.records:,}, blank lines {counts.blank_lines:,}, tweets {counts.tweets:,}, "
        f"duplicates skipped {counts.duplicates_skipped:,}, rejected {sum(counts.rejected.values()):,}",
        f"  categories: {categories}",
        f"  tweet types: {types}",
    ]
    if counts.first_created_at is not None and counts.last_created_at is not None:
        counts_json = counts.as_json()
        lines.append(f"  time span: {counts_json['first_created_at']} to {counts_json['last_created_at']}")
    for reason, number in sorted(counts.rejected.items(), key=lambda entry: (-entry[1], entry[0])):
        lines.append(f"  rejected {number:,} x {reason}")
    return lines
