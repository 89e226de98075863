"""A background server process that is started, health-checked and stopped by its process id."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

LOG = logging.getLogger(__name__)


class ServerStartError(RuntimeError):
    """A server did not become healthy; the message names its log file."""


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the kernel for a free TCP port on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Return True when ``url`` responds with a 2xx status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


def tail(path: Path, lines: int = 20) -> str:
    """Return the last lines of a log file, for error messages."""
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class ManagedProcess:
    """One child process in its own session, with its output in a log file."""

    def __init__(self, name: str, command: list[str], log_path: Path, environment: dict[str, str]) -> None:
        self.name = name
        self.command = command
        self.log_path = log_path
        self.environment = environment
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=self.environment,
                start_new_session=True,
            )
        LOG.info("Started %s as process %s (log: %s)", self.name, self.process.pid, self.log_path)

    def wait_until(self, is_ready: Callable[[], bool], timeout: float) -> None:
        """Poll ``is_ready`` until it returns True, or raise naming the log when the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise ServerStartError(
                    f"{self.name} exited with status {code} while starting; see {self.log_path}:\n{tail(self.log_path)}"
                )
            if is_ready():
                return
            time.sleep(0.2)
        raise ServerStartError(
            f"{self.name} did not become healthy within {timeout:.0f} s; see {self.log_path}:\n{tail(self.log_path)}"
        )

    def stop(self, timeout: float = 15.0) -> None:
        """Send SIGTERM to the process group, then SIGKILL after ``timeout`` seconds."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        LOG.info("Stopping %s (process %s)", self.name, process.pid)
        self._signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            LOG.warning("%s did not stop within %s s; killing process group %s", self.name, timeout, process.pid)
            self._signal_group(process.pid, signal.SIGKILL)
            process.wait()
        # Children such as Lambda function processes share the group; make sure none outlives the server.
        self._signal_group(process.pid, signal.SIGKILL)

    @staticmethod
    def _signal_group(group_id: int, signal_number: int) -> None:
        try:
            os.killpg(group_id, signal_number)
        except ProcessLookupError:
            pass
