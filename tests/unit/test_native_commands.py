"""Options of `catsvdogs up` and `catsvdogs top` that need no running stack."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from catsvdogs.commands import stream
from catsvdogs.commands.up import UpError, live_source_arguments, parse_port, port_setting
from catsvdogs.native.process import free_port

CLI = Path(sys.executable).with_name("catsvdogs")


@pytest.mark.parametrize(("text", "port"), [("0", 0), ("1", 1), ("4566", 4566), ("65535", 65535)])
def test_port_accepted(text: str, port: int) -> None:
    assert parse_port(text) == port


@pytest.mark.parametrize("text", ["-1", "65536", "http", "4566.5", ""])
def test_port_rejected(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        parse_port(text)

    assert f"invalid port '{text}'" in str(caught.value)


def test_port_option_beats_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALSTACK_PORT", "4566")

    assert port_setting(4600, "LOCALSTACK_PORT", "--localstack-port") == 4600
    assert port_setting(None, "LOCALSTACK_PORT", "--localstack-port") == 4566


def test_port_defaults_to_free(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENSEARCH_PORT", raising=False)

    assert port_setting(None, "OPENSEARCH_PORT", "--search-port") == 0


def test_invalid_port_variable_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENSEARCH_PORT", "nine")

    with pytest.raises(UpError) as caught:
        port_setting(None, "OPENSEARCH_PORT", "--search-port")

    assert str(caught.value).startswith("OPENSEARCH_PORT: invalid port 'nine'")
    assert "--search-port" in str(caught.value)


@pytest.mark.parametrize("source", ["x", "bluesky"])
def test_live_source_runs_stream_command(source: str) -> None:
    arguments = live_source_arguments(source)

    assert arguments.source == source
    assert arguments.run is stream.run
    assert arguments.duration is None


def top_environment(tmp_path: Path) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "OPENSEARCH_"))}
    # Nothing listens on this port, and no state folder names a stack.
    environment["OPENSEARCH_URL"] = f"http://127.0.0.1:{free_port()}"
    environment["CATSVDOGS_STATE_DIR"] = str(tmp_path / "state")
    return environment


def test_top_needs_terminal_for_view(tmp_path: Path) -> None:
    result = subprocess.run([str(CLI), "top"], env=top_environment(tmp_path), capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    assert "stdout is not a terminal; use --once" in result.stderr


def test_top_once_reports_unreachable_server(tmp_path: Path) -> None:
    environment = top_environment(tmp_path)

    result = subprocess.run([str(CLI), "top", "--once", "--json"], env=environment, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert result.stdout == ""
    assert f"reading the figures from tweets* at {environment['OPENSEARCH_URL']} failed: no connection" in result.stderr
    assert "Traceback" not in result.stderr
