"""Unit tests of the catsvdogs command line: help texts, version and argument checks, with no server.

Help, version and two speed checks run the installed console script, with AWS_ENDPOINT_URL and the search URLs
pointed at port 9 on 127.0.0.1, where nothing normally listens, so a command that got past argument parsing
by mistake fails locally instead of calling AWS. The other argument checks call main() in this process and stop at parsing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

import catsvdogs
from catsvdogs.cli import build_parser, main
from catsvdogs.commands.dashboards import positive_seconds
from catsvdogs.commands.arguments import parse_queue_size
from catsvdogs.commands.replay import parse_speed
from catsvdogs.config import ENVIRONMENT_VARIABLES

CLI = Path(sys.executable).with_name("catsvdogs")
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "stream_v2_minimal.jsonl"


def subparsers_of(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))


SUBCOMMANDS = sorted(subparsers_of(build_parser()).choices)


def cli_environment() -> dict[str, str]:
    environment = dict(os.environ)
    environment.pop("AWS_PROFILE", None)
    environment.update(
        {
            # Nothing normally listens on port 9 (discard) on 127.0.0.1, so any AWS or HTTP call fails at once.
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
            "OPENSEARCH_URL": "http://127.0.0.1:9",
            "OPENSEARCH_DASHBOARDS_URL": "http://127.0.0.1:9",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
        }
    )
    return environment


def run_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *arguments],
        env=cli_environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def parse_error(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[object, str]:
    """Run main() in this process on arguments that it must reject, and return the exit status and stderr."""
    with pytest.raises(SystemExit) as caught:
        main(list(arguments))
    return caught.value.code, capsys.readouterr().err


def all_parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    parser = build_parser()
    choices = subparsers_of(parser).choices
    return [("catsvdogs", parser)] + [(f"catsvdogs {name}", choices[name]) for name in sorted(choices)]


def option_helps() -> list[tuple[str, object]]:
    helps = []
    for program, parser in all_parsers():
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            name = action.option_strings[-1] if action.option_strings else action.dest
            helps.append((f"{program} {name}", action.help))
    return helps


def test_subcommands_found() -> None:
    assert {"provision", "replay"} <= set(SUBCOMMANDS)


@pytest.fixture(scope="module")
def main_help() -> subprocess.CompletedProcess[str]:
    return run_cli("--help")


def test_main_help_exits_zero(main_help: subprocess.CompletedProcess[str]) -> None:
    assert main_help.returncode == 0, main_help.stderr
    assert main_help.stdout.startswith("usage: catsvdogs")


def test_main_help_lists_subcommands(main_help: subprocess.CompletedProcess[str]) -> None:
    for name in SUBCOMMANDS:
        assert f"    {name} " in main_help.stdout, name


def test_main_help_lists_environment_variables(main_help: subprocess.CompletedProcess[str]) -> None:
    for name in ENVIRONMENT_VARIABLES:
        assert f"  {name} " in main_help.stdout, name


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_subcommand_help_exits_zero(subcommand: str) -> None:
    completed = run_cli(subcommand, "--help")

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith(f"usage: catsvdogs {subcommand}")
    assert completed.stderr == ""


@pytest.mark.parametrize(("option", "help_text"), option_helps(), ids=[option for option, _ in option_helps()])
def test_option_help_not_empty(option: str, help_text: object) -> None:
    assert isinstance(help_text, str), option
    assert help_text.strip() != "", option
    assert help_text != argparse.SUPPRESS, option


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_subcommand_summary_and_description(subcommand: str) -> None:
    subparsers = subparsers_of(build_parser())
    summaries = {action.dest: action.help for action in subparsers._choices_actions}

    description = subparsers.choices[subcommand].description

    assert (summaries.get(subcommand) or "").strip() != ""
    assert (description or "").strip() != ""


def test_version_printed() -> None:
    completed = run_cli("--version")

    assert completed.returncode == 0
    assert completed.stdout.strip() == f"catsvdogs {catsvdogs.__version__}"


def test_missing_subcommand_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    status, stderr = parse_error(capsys)

    assert status == 2
    assert "required: COMMAND" in stderr


def test_unknown_subcommand_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    status, stderr = parse_error(capsys, "fetch")

    assert status == 2
    assert "invalid choice: 'fetch'" in stderr


def test_invalid_log_level_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    status, stderr = parse_error(capsys, "--log-level", "LOUD", "replay", str(FIXTURE))

    assert status == 2
    assert "invalid choice: 'LOUD'" in stderr


def test_replay_without_files_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    status, stderr = parse_error(capsys, "replay")

    assert status == 2
    assert "the following arguments are required: FILE" in stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "invalid speed '0': it must be greater than 0"),
        ("abc", "invalid speed 'abc': use 'max' or a positive number such as 10"),
    ],
)
def test_replay_invalid_speed_exits_two(value: str, message: str) -> None:
    completed = run_cli("replay", "--speed", value, str(FIXTURE))

    assert completed.returncode == 2
    assert f"argument --speed: {message}" in completed.stderr
    assert completed.stdout == ""


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-2", "invalid speed '-2': it must be greater than 0"),
        ("nan", "invalid speed 'nan': use 'max' or a positive number such as 10"),
        ("inf", "invalid speed 'inf': use 'max' or a positive number such as 10"),
    ],
)
def test_replay_speed_rejected_in_process(capsys: pytest.CaptureFixture[str], value: str, message: str) -> None:
    status, stderr = parse_error(capsys, "replay", "--speed", value, str(FIXTURE))

    assert status == 2
    assert f"argument --speed: {message}" in stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "invalid queue size '0': it must be at least 1"),
        ("-5", "invalid queue size '-5': it must be at least 1"),
        ("1.5", "invalid queue size '1.5': use a whole number such as 10000"),
        ("many", "invalid queue size 'many': use a whole number such as 10000"),
    ],
)
def test_replay_invalid_queue_size_exits_two(capsys: pytest.CaptureFixture[str], value: str, message: str) -> None:
    status, stderr = parse_error(capsys, "replay", "--queue-size", value, str(FIXTURE))

    assert status == 2
    assert f"argument --queue-size: {message}" in stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("often", "invalid number of seconds 'often': use a number such as 300"),
        ("-1", "invalid number of seconds '-1': it must be 0 or more"),
        ("nan", "invalid number of seconds 'nan': it must be 0 or more"),
    ],
)
def test_replay_invalid_log_interval_exits_two(capsys: pytest.CaptureFixture[str], value: str, message: str) -> None:
    status, stderr = parse_error(capsys, "replay", "--log-interval", value, str(FIXTURE))

    assert status == 2
    assert f"argument --log-interval: {message}" in stderr


@pytest.mark.parametrize("option", ["--duration", "--stall-timeout"])
@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_stream_invalid_seconds_exits_two(capsys: pytest.CaptureFixture[str], option: str, value: str) -> None:
    status, stderr = parse_error(capsys, "stream", "--source", "bluesky", option, value)

    assert status == 2
    assert f"argument {option}: invalid number of seconds '{value}': it must be greater than 0" in stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "invalid timeout '0': it must be greater than 0"),
        ("soon", "invalid timeout 'soon': use a number of seconds such as 300"),
        ("nan", "invalid timeout 'nan': use a number of seconds such as 300"),
    ],
)
def test_dashboards_invalid_timeout_exits_two(capsys: pytest.CaptureFixture[str], value: str, message: str) -> None:
    status, stderr = parse_error(capsys, "dashboards", "--timeout", value)

    assert status == 2
    assert f"argument --timeout: {message}" in stderr


@pytest.mark.parametrize(
    ("value", "speed"), [("max", None), ("MAX", None), ("10", 10.0), ("0.5", 0.5), ("1e3", 1000.0)]
)
def test_parse_speed_valid(value: str, speed: float | None) -> None:
    assert parse_speed(value) == speed


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "inf", "-inf", ""])
def test_parse_speed_invalid(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        parse_speed(value)

    assert f"'{value}'" in str(caught.value)


@pytest.mark.parametrize(("value", "size"), [("1", 1), ("10000", 10000), (" 7 ", 7)])
def test_parse_queue_size_valid(value: str, size: int) -> None:
    assert parse_queue_size(value) == size


@pytest.mark.parametrize("value", ["inf", "1e400", "-inf", "nan"])
def test_timeout_not_finite_rejected(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        positive_seconds(value)

    assert str(caught.value) == f"invalid timeout '{value}': use a number of seconds such as 300"


def test_replay_defaults() -> None:
    arguments = build_parser().parse_args(["replay", "a.jsonl", "b.jsonl.gz"])

    assert arguments.files == [Path("a.jsonl"), Path("b.jsonl.gz")]
    assert arguments.speed is None
    assert arguments.loop is False
    assert arguments.keep_timestamps is False
    assert arguments.queue_size == 10000
    assert arguments.no_progress is False


def test_replay_options_parsed() -> None:
    command = ["--log-level", "DEBUG", "replay", "--speed", "60", "--loop", "--keep-timestamps", "a.jsonl"]

    arguments = build_parser().parse_args(command)

    assert arguments.log_level == "DEBUG"
    assert arguments.speed == 60.0
    assert arguments.loop is True
    assert arguments.keep_timestamps is True


def test_closed_stdout_ends_quietly() -> None:
    # The reader leaves before the command writes, as `catsvdogs inspect FILE | head -1` can.
    reader, writer = os.pipe()
    os.close(reader)
    try:
        result = subprocess.run(
            [str(CLI), "inspect", str(FIXTURE)], stdout=writer, stderr=subprocess.PIPE, text=True, timeout=60, check=False
        )
    finally:
        os.close(writer)

    assert result.returncode == 141
    assert "Traceback" not in result.stderr
    assert "BrokenPipeError" not in result.stderr
