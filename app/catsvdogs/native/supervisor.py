"""Start the native stack for `catsvdogs up`, record it in the state file, and stop it again.

`up` and `down` both stop the stack through ``stop_recorded`` here: SIGTERM to
each server's process group, SIGKILL after a timeout, then a check that no
process of the group is left and that the ports are free. The groups include
the Lambda function processes that LocalStack starts, because they stay in
LocalStack's process group.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from catsvdogs.native.process import ServerStartError
from catsvdogs.native.servers import LOCALSTACK_START_TIMEOUT, LocalStackServer, SearchServer
from catsvdogs.native.state import (
    Component,
    NativeState,
    StateFile,
    group_members,
    is_running,
    now_text,
    port_is_free,
    process_start_ticks,
    wait_for_free_ports,
)

Report = Callable[[str], None]

SEARCH = "search server"
LOCALSTACK = "LocalStack"
# Stopped in this order: LocalStack forwards to the search server, so it goes first.
STOP_ORDER = (LOCALSTACK, SEARCH)
SERVER_STOP_TIMEOUT = 15.0
PORT_RELEASE_TIMEOUT = 10.0
# The folder that LocalStackServer creates in its work folder for LocalStack's own files.
LOCALSTACK_SCRATCH = "localstack"


class PortInUseError(RuntimeError):
    """A configured port is taken by another program."""


@dataclass
class StopResult:
    """Processes still alive and ports still in use after a stop, both empty on success."""

    survivors: list[int] = field(default_factory=list)
    busy_ports: list[int] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.survivors and not self.busy_ports


def component_of(name: str, pid: int, log: Path | None = None, port: int | None = None, url: str | None = None) -> Component:
    return Component(name, pid, process_start_ticks(pid), str(log) if log else None, port, url)


def _signal_group(group_id: int, signal_number: int) -> None:
    try:
        os.killpg(group_id, signal_number)
    except ProcessLookupError:
        pass


def _wait_group_gone(group_id: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while group_members(group_id):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def stop_group(component: Component, report: Report, timeout: float = SERVER_STOP_TIMEOUT) -> list[int]:
    """Stop a server's process group by its id (SIGTERM, then SIGKILL after ``timeout``) and return the survivors.

    The group id is the server's process id, because servers start in a session of
    their own. The group is signalled only while the recorded process runs, or
    when it is gone but members of its group remain, such as a Lambda function
    process. Linux gives no new process an id that is still a group's id, so such
    members are ours. A process that now has the id but another start time is left alone.
    """
    if component.is_running():
        report(f"Stopping {component.name} (process group {component.pid})")
    elif not is_running(component.pid) and group_members(component.pid):
        report(f"Stopping what is left of {component.name}'s process group {component.pid}")
    else:
        return []
    _signal_group(component.pid, signal.SIGTERM)
    if not _wait_group_gone(component.pid, timeout):
        report(f"{component.name} did not stop within {timeout:g} s; killing process group {component.pid}")
    # Also after a clean exit of the leader: a child such as a Lambda function process may remain.
    _signal_group(component.pid, signal.SIGKILL)
    _wait_group_gone(component.pid, 5.0)
    return group_members(component.pid)


def stop_recorded(state: NativeState, report: Report) -> StopResult:
    """Stop every server of ``state`` in STOP_ORDER and check that their ports are free."""
    result = StopResult()
    names = [name for name in STOP_ORDER if name in state.components]
    names += [name for name in state.components if name not in STOP_ORDER]
    for name in names:
        result.survivors += stop_group(state.components[name], report)
    ports = [component.port for component in state.components.values() if component.port]
    result.busy_ports = wait_for_free_ports(ports, PORT_RELEASE_TIMEOUT)
    return result


def remove_scratch(folder: Path) -> None:
    """Delete LocalStack's working folders of a stopped stack, because nothing in them is used after LocalStack stops."""
    shutil.rmtree(folder / LOCALSTACK_SCRATCH, ignore_errors=True)


class NativeSupervisor:
    """The servers that one `catsvdogs up` process starts, recorded in the state file as they start."""

    def __init__(self, folder: Path, report: Report, source: dict[str, object]) -> None:
        self.folder = folder
        self.report = report
        self.state_file = StateFile(folder)
        self.state = NativeState(
            started_at=now_text(),
            supervisor=component_of("catsvdogs up", os.getpid()),
            source=dict(source),
        )
        self.search: SearchServer | None = None
        self.localstack: LocalStackServer | None = None

    def start(self, search_port: int, localstack_port: int, timeout: float = LOCALSTACK_START_TIMEOUT) -> None:
        """Start the search server, then LocalStack, each on its port (0: a free one), and wait until both are healthy.

        Each server enters the state file as soon as it has a process id, so `down`
        can stop it even while `up` still waits for it. Raises ServerStartError
        naming the log of a server that exits or is not healthy within ``timeout`` seconds.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        for log_name in ("search.log", "localstack.log"):
            (self.folder / log_name).unlink(missing_ok=True)
        self.state_file.write(self.state)

        self.search = SearchServer(self.folder, port=search_port)
        self.search.launch()
        self._record(SEARCH, self.search)
        started = time.monotonic()
        self.search.wait_ready(timeout)
        self.report(f"{SEARCH}: healthy at {self.search.url} in {time.monotonic() - started:.1f} s")

        self.localstack = LocalStackServer(self.folder, self.search.url, sys.executable, port=localstack_port)
        self.localstack.launch()
        self._record(LOCALSTACK, self.localstack)
        started = time.monotonic()
        self.localstack.wait_ready(timeout)
        self.report(f"{LOCALSTACK}: healthy at {self.localstack.url} in {time.monotonic() - started:.1f} s")

        self.state.environment = {"AWS_ENDPOINT_URL": self.localstack.url, "OPENSEARCH_URL": self.search.url}
        self.set_stage("provisioning")

    def _record(self, name: str, server: SearchServer | LocalStackServer) -> None:
        process = server.process
        assert process is not None and process.pid is not None
        self.state.components[name] = component_of(name, process.pid, process.log_path, server.port, server.url)
        self.state_file.write(self.state)
        self.report(f"{name}: started as process {process.pid} on {server.url} (log: {process.log_path})")

    def set_stage(self, stage: str, **source: object) -> None:
        self.state.stage = stage
        self.state.source.update(source)
        self.state_file.write(self.state)

    def failed_component(self) -> Component | None:
        """Return the first recorded server that is no longer running, if any."""
        for component in self.state.components.values():
            if not component.is_running():
                return component
        return None

    def stop(self) -> StopResult:
        """Stop the servers and remove the state file. The logs stay."""
        result = stop_recorded(self.state, self.report)
        # Reap our own children, so that none is left as a zombie. A multi-threaded server can look gone in
        # /proc (its main thread exited) a moment before the whole process can be reaped, hence the wait.
        for server in (self.localstack, self.search):
            if server and server.process and server.process.process:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    server.process.process.wait(timeout=5)
        if result.clean:
            self.state_file.remove()
            remove_scratch(self.folder)
        return result


def check_port_free(port: int, name: str, option: str) -> None:
    """Raise PortInUseError when a configured port is taken. Port 0 (any free port) always passes."""
    if port and not port_is_free(port):
        raise PortInUseError(
            f"Port {port} on 127.0.0.1 for the {name} is already in use by another program; "
            f"choose another with {option}, or leave the option out to use a free port"
        )


__all__ = [
    "NativeSupervisor",
    "PortInUseError",
    "ServerStartError",
    "StopResult",
    "check_port_free",
    "stop_group",
    "stop_recorded",
]
