"""Sampling profiles of running Python processes with py-spy, summarised as shares of the samples.

py-spy samples only the thread that holds the GIL (``--gil``), so a share of
the samples is a share of the Python CPU time of the process, and threads that
wait for a socket or a lock do not count. py-spy is not a dependency of the
app; ``ensure_py_spy`` installs it into the app's virtual environment (.venv)
on first use.
"""

from __future__ import annotations

import collections
import signal
import subprocess
from pathlib import Path
from typing import Any

from bench import common

PY_SPY = common.VENV_PYTHON.with_name("py-spy")
RECORD_OPTIONS = ("--rate", "100", "--format", "raw", "--gil", "--nonblocking")
STOP_TIMEOUT = 30.0
TOP_FRAMES = 25


def ensure_py_spy() -> Path:
    """Return the path of py-spy in .venv, installing it with pip if it is missing."""
    if not PY_SPY.exists():
        common.LOG.info("Installing py-spy into %s", PY_SPY.parent.parent)
        subprocess.run(
            [str(common.VENV_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "py-spy"],
            check=True,
        )
    return PY_SPY


class Recording:
    """A py-spy recording of one process id into a raw (collapsed stack) file, from ``start`` to ``stop``."""

    def __init__(self, pid: int, output: Path) -> None:
        self.pid = pid
        self.output = output
        self.process: subprocess.Popen[bytes] | None = None
        self.log = output.with_suffix(".log")

    def start(self) -> None:
        self.output.parent.mkdir(parents=True, exist_ok=True)
        command = [str(ensure_py_spy()), "record", "--pid", str(self.pid), *RECORD_OPTIONS, "--output", str(self.output)]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        """Stop sampling with SIGINT, which makes py-spy write its file, and wait for it to exit."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            common.LOG.warning("py-spy (process %d) did not stop within %.0f s; killing it", self.process.pid, STOP_TIMEOUT)
            self.process.kill()
            self.process.wait()


def summarize(raw: Path, frames_of_interest: dict[str, str]) -> dict[str, Any]:
    """Summarise a raw py-spy file: the share of samples in each frame of interest, and the top frames.

    ``frames_of_interest`` maps a label to a function name as py-spy prints it, such
    as "FirehoseProvider._put_to_search_db". A sample counts for a label when any
    frame of its stack has that name.
    """
    if not raw.exists():
        return {"error": f"py-spy wrote no file at {raw}; see {raw.with_suffix('.log')}"}
    total = 0
    inclusive: collections.Counter[str] = collections.Counter()
    self_time: collections.Counter[str] = collections.Counter()
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        names = [frame.split(" (", 1)[0] for frame in stack.split(";")]
        self_time[names[-1]] += count
        for name in set(names):
            inclusive[name] += count

    def share(count: int) -> float:
        return round(count / total, 3) if total else 0.0

    return {
        "samples": total,
        "frames_of_interest": {label: share(inclusive[name]) for label, name in frames_of_interest.items()},
        "top_self": [{"function": name, "share": share(count)} for name, count in self_time.most_common(TOP_FRAMES)],
    }
