"""The state folder of `catsvdogs up`: one JSON file with the processes, ports and logs it started.

`up` writes the file, `status` and `top` read the endpoints from it, and `down`
stops the processes it names. Processes are recognised by their id and their
start time (from /proc on Linux), so a process id that the system reused for
another program after a crash is never taken for ours.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from catsvdogs.native.compose import ComposeError, find_project_root

STATE_DIR_VARIABLE = "CATSVDOGS_STATE_DIR"
DEFAULT_STATE_DIR_NAME = ".native"
STATE_FILE_NAME = "state.json"
STATE_VERSION = 1
PROC = Path("/proc")

# LocalStack accepts any credentials, but boto3 needs some. These dummy values also keep a user's
# real credentials from being sent to LocalStack.
NATIVE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
# Variables that would make boto3 use other credentials or fail on a missing profile.
OTHER_CREDENTIAL_VARIABLES = ("AWS_PROFILE", "AWS_SESSION_TOKEN")


class StateError(RuntimeError):
    """The state file cannot be read or written; the message names it."""


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Return $CATSVDOGS_STATE_DIR, or ROOT/.native in the checkout."""
    env = os.environ if environ is None else environ
    configured = env.get(STATE_DIR_VARIABLE, "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    return find_project_root() / DEFAULT_STATE_DIR_NAME


def process_start_ticks(pid: int) -> int | None:
    """Return the start time of a process in clock ticks since boot (Linux /proc), or None when unknown."""
    try:
        stat = (PROC / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name in brackets may contain spaces, so fields are counted after it. Field 22 is starttime.
    fields = stat.rpartition(")")[2].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def _proc_state_and_group(pid: int) -> tuple[str, int] | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    try:
        return fields[0], int(fields[2])
    except (IndexError, ValueError):
        return None


def is_running(pid: int, start_ticks: int | None = None) -> bool:
    """Return True when ``pid`` runs and is not a zombie, and, when ``start_ticks`` is given, started then."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if not PROC.is_dir():
        return True
    state = _proc_state_and_group(pid)
    if state is None or state[0] in ("Z", "X"):
        return False
    return start_ticks is None or process_start_ticks(pid) == start_ticks


def group_members(group_id: int) -> list[int]:
    """Return the live (non-zombie) processes of a process group; without /proc, [group_id] while the group exists."""
    if not PROC.is_dir():
        try:
            os.killpg(group_id, 0)
        except ProcessLookupError:
            return []
        except PermissionError:
            pass
        return [group_id]
    members = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        state = _proc_state_and_group(int(entry.name))
        if state is not None and state[1] == group_id and state[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Return True when a server could listen on ``host:port`` now.

    SO_REUSEADDR is set, as servers set it, so connections that linger in TIME_WAIT do not count.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def wait_for_free_ports(ports: list[int], timeout: float) -> list[int]:
    """Wait until every port is free, and return the ones still in use after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        busy = [port for port in ports if not port_is_free(port)]
        if not busy or time.monotonic() >= deadline:
            return busy
        time.sleep(0.2)


@dataclass
class Component:
    """One process that `up` started: a server in its own process group, or `up` itself."""

    name: str
    pid: int
    start_ticks: int | None
    log: str | None = None
    port: int | None = None
    url: str | None = None

    def is_running(self) -> bool:
        return is_running(self.pid, self.start_ticks)


@dataclass
class NativeState:
    """Contents of the state file."""

    started_at: str
    supervisor: Component
    components: dict[str, Component] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    stage: str = "starting"
    source: dict[str, Any] = field(default_factory=dict)
    version: int = STATE_VERSION

    def running(self) -> list[Component]:
        return [component for component in [self.supervisor, *self.components.values()] if component.is_running()]

    def is_stale(self) -> bool:
        """True when no process of the file runs any more, as after a reboot or a killed `up`."""
        return not self.running()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> NativeState:
        if document.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported state version {document.get('version')!r}")
        return cls(
            started_at=str(document["started_at"]),
            supervisor=Component(**document["supervisor"]),
            components={name: Component(**value) for name, value in document.get("components", {}).items()},
            environment={str(name): str(value) for name, value in document.get("environment", {}).items()},
            stage=str(document.get("stage", "starting")),
            source=dict(document.get("source", {})),
        )


def now_text() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class StateFile:
    """The state file in a state folder, written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / STATE_FILE_NAME

    def read(self) -> NativeState | None:
        """Return the state, or None when there is no file. Raises StateError for a file that is not a state."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StateError(f"Cannot read {self.path}: {error}") from error
        try:
            return NativeState.from_json(json.loads(text))
        except (ValueError, KeyError, TypeError) as error:
            raise StateError(f"{self.path} is not a catsvdogs state file ({error}); remove it and run again") from error

    def write(self, state: NativeState) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(state.to_json(), indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def live_state(environ: Mapping[str, str] | None = None) -> NativeState | None:
    """Return the state of a running native stack, or None when there is none or only a stale file."""
    state = StateFile(state_dir(environ)).read()
    if state is None or state.is_stale():
        return None
    return state


def endpoints_from_state(environ: Mapping[str, str] | None = None) -> tuple[dict[str, str], NativeState | None]:
    """Return the variables to add so that unset AWS_ENDPOINT_URL and OPENSEARCH_URL point at the native stack.

    When AWS_ENDPOINT_URL comes from the state, the dummy credentials replace any
    others, because the endpoint is LocalStack. Returns ({}, None) without a live state.
    """
    env = os.environ if environ is None else environ
    try:
        state = live_state(env)
    except ComposeError:
        # Outside the checkout, with no CATSVDOGS_STATE_DIR, there is no state folder to read.
        return {}, None
    if state is None:
        return {}, None
    updates: dict[str, str] = {}
    for name in ("AWS_ENDPOINT_URL", "OPENSEARCH_URL"):
        if not env.get(name, "").strip() and state.environment.get(name):
            updates[name] = state.environment[name]
    if "AWS_ENDPOINT_URL" in updates:
        updates.update(NATIVE_CREDENTIALS)
    return updates, state


def apply_state_endpoints() -> NativeState | None:
    """Point this process at the running native stack where AWS_ENDPOINT_URL or OPENSEARCH_URL is unset."""
    updates, state = endpoints_from_state()
    if "AWS_ENDPOINT_URL" in updates:
        for name in OTHER_CREDENTIAL_VARIABLES:
            os.environ.pop(name, None)
    os.environ.update(updates)
    return state


def describe_state(state: NativeState) -> list[str]:
    """Describe the processes of a state file for people, one line each, with whether each still runs."""
    lines = [f"started at {state.started_at} by process {state.supervisor.pid}; stage: {state.stage}"]
    for component in [state.supervisor, *state.components.values()]:
        where = f" on {component.url}" if component.url else ""
        log = f" (log: {component.log})" if component.log else ""
        running = "running" if component.is_running() else "not running"
        lines.append(f"{component.name}: process {component.pid}{where}, {running}{log}")
    return lines
