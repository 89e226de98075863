"""The state file of `catsvdogs up`, process identity, process groups and ports."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from catsvdogs.native.state import (
    NATIVE_CREDENTIALS,
    STATE_DIR_VARIABLE,
    Component,
    NativeState,
    StateError,
    StateFile,
    endpoints_from_state,
    group_members,
    is_running,
    port_is_free,
    process_start_ticks,
)
from catsvdogs.native import supervisor
from catsvdogs.native.supervisor import component_of, stop_group, stop_recorded


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process in a group of its own, with a child in the same group, as LocalStack and its Lambda processes are."""
    process = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60; wait"], start_new_session=True)
    yield process
    try:
        os.killpg(process.pid, 9)
    except ProcessLookupError:
        pass
    process.wait()


def finished_pid() -> int:
    result = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    return int(result.stdout)


def state_with(components: dict[str, Component], supervisor: Component | None = None) -> NativeState:
    return NativeState(
        started_at="2025-03-15T17:00:00Z",
        supervisor=supervisor or Component("catsvdogs up", finished_pid(), None),
        components=components,
        environment={"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "OPENSEARCH_URL": "http://127.0.0.1:9200"},
    )


def test_state_file_round_trip(tmp_path: Path) -> None:
    state_file = StateFile(tmp_path)
    state = state_with({"search server": Component("search server", 123, 456, "/tmp/search.log", 9200, "http://127.0.0.1:9200")})

    state_file.write(state)

    assert state_file.read() == state
    assert json.loads(state_file.path.read_text(encoding="utf-8"))["version"] == 1
    assert [path.name for path in tmp_path.iterdir()] == ["state.json"]


def test_missing_state_file_is_none(tmp_path: Path) -> None:
    assert StateFile(tmp_path).read() is None


def test_invalid_state_file_named(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{not json", encoding="utf-8")

    with pytest.raises(StateError) as caught:
        StateFile(tmp_path).read()

    assert str(tmp_path / "state.json") in str(caught.value)


def test_running_process_recognised() -> None:
    assert is_running(os.getpid(), process_start_ticks(os.getpid()))


def test_finished_process_not_running() -> None:
    assert not is_running(finished_pid())


def test_reused_pid_not_taken_for_ours() -> None:
    ticks = process_start_ticks(os.getpid())
    assert ticks is not None

    assert not is_running(os.getpid(), ticks + 1)


def test_stale_when_no_process_runs() -> None:
    dead = finished_pid()
    state = state_with({"LocalStack": Component("LocalStack", dead, None)})

    assert state.is_stale()
    assert state.running() == []


def test_not_stale_while_one_process_runs() -> None:
    state = state_with({}, supervisor=component_of("catsvdogs up", os.getpid()))

    assert not state.is_stale()


def test_endpoints_fill_only_unset_variables(tmp_path: Path) -> None:
    StateFile(tmp_path).write(state_with({}, supervisor=component_of("catsvdogs up", os.getpid())))
    environ = {STATE_DIR_VARIABLE: str(tmp_path), "OPENSEARCH_URL": "http://127.0.0.1:1234"}

    updates, state = endpoints_from_state(environ)

    assert state is not None
    assert updates == {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", **NATIVE_CREDENTIALS}


def test_stale_state_gives_no_endpoints(tmp_path: Path) -> None:
    StateFile(tmp_path).write(state_with({}))

    assert endpoints_from_state({STATE_DIR_VARIABLE: str(tmp_path)}) == ({}, None)


def test_port_in_use_detected() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        assert not port_is_free(port)

    assert port_is_free(port)


def test_group_members_include_children(sleeper: subprocess.Popen[bytes]) -> None:
    members: list[int] = []
    for _ in range(50):
        members = group_members(sleeper.pid)
        if len(members) >= 3:
            break
        subprocess.run(["sleep", "0.1"], check=True)

    assert sleeper.pid in members
    assert len(members) >= 3


def test_stop_group_stops_children(sleeper: subprocess.Popen[bytes]) -> None:
    component = component_of("test server", sleeper.pid)

    survivors = stop_group(component, report=lambda message: None, timeout=5)
    sleeper.wait(timeout=5)

    assert survivors == []
    assert group_members(sleeper.pid) == []


def test_stop_group_leaves_other_process(sleeper: subprocess.Popen[bytes]) -> None:
    ticks = process_start_ticks(sleeper.pid)
    assert ticks is not None
    # The recorded process had this id but started at another time, so the running one is someone else's.
    component = Component("old server", sleeper.pid, ticks - 1)
    messages: list[str] = []

    survivors = stop_group(component, report=messages.append, timeout=5)

    assert survivors == []
    assert messages == []
    assert sleeper.poll() is None


def test_stop_recorded_checks_ports(sleeper: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor, "PORT_RELEASE_TIMEOUT", 0.5)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        component = component_of("test server", sleeper.pid, port=port)

        # The port belongs to this test process, not to the stopped group, so it stays in use.
        result = stop_recorded(state_with({"test server": component}), report=lambda message: None)

    assert result.survivors == []
    assert result.busy_ports == [port]
    assert not result.clean
