"""Commands run while `catsvdogs up` runs go to its stack, never to AWS by accident."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from catsvdogs.native.process import free_port
from catsvdogs.native.state import Component, NativeState, StateFile, now_text, process_start_ticks

CLI = Path(sys.executable).with_name("catsvdogs")


def write_running_state(folder: Path, endpoint: str) -> None:
    """Write a state file whose supervisor is this test process, so it counts as running."""
    supervisor = Component("up", os.getpid(), process_start_ticks(os.getpid()))
    state = NativeState(now_text(), supervisor, environment={"AWS_ENDPOINT_URL": endpoint})
    StateFile(folder).write(state)


def run_cli(state_dir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items() if name != "AWS_ENDPOINT_URL"}
    environment["CATSVDOGS_STATE_DIR"] = str(state_dir)
    return subprocess.run([str(CLI), *arguments], env=environment, capture_output=True, text=True, timeout=120)


def test_provision_targets_running_stack(tmp_path: Path):
    endpoint = f"http://127.0.0.1:{free_port()}"
    write_running_state(tmp_path, endpoint)

    result = run_cli(tmp_path, "provision")

    assert result.returncode == 1
    assert f"using the native stack of catsvdogs up at {endpoint}" in result.stderr
    assert f"Cannot reach {endpoint}" in result.stderr


def test_corrupt_state_stops_command(tmp_path: Path):
    (tmp_path / "state.json").write_text("not json", encoding="utf-8")

    result = run_cli(tmp_path, "provision")

    assert result.returncode == 1
    assert "is not a catsvdogs state file" in result.stderr
    assert "Traceback" not in result.stderr
