"""Shared parts of the benchmarks: the native stack, a provisioned deployment, input files, statistics, results.

Every benchmark module has ``NAME``, ``NEEDS_STACK``, ``add_arguments(parser)``
and ``run(context, args) -> dict``. ``bench/run`` runs several of them on one
stack; ``python bench/NAME.py`` runs one (see ``run_alone``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gzip
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.unique_names import unique_environment

ROOT = Path(__file__).resolve().parents[1]
RECORDING = ROOT / "replay_data" / "cats_v_dogs.jsonl.gz"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
LOCALSTACK_PYTHON = ROOT / ".venv-localstack" / "bin" / "python"
CLI = VENV_PYTHON.with_name("catsvdogs")
RESULTS_DIR = ROOT / "bench" / "results"

LOG = logging.getLogger("bench")


class BenchError(RuntimeError):
    """A benchmark could not run or its run was invalid; the message names what failed."""


# --- the stack and the deployment -------------------------------------------------


@dataclass
class Deployment:
    """A pipeline provisioned on the native stack with unique names, and the environment that points at it."""

    environment: dict[str, str]

    @property
    def stream(self) -> str:
        return self.environment["CATSVDOGS_STREAM"]

    @property
    def index(self) -> str:
        return self.environment["CATSVDOGS_INDEX"]

    @property
    def bucket(self) -> str:
        return self.environment["CATSVDOGS_BUCKET"]

    @property
    def domain(self) -> str:
        return self.environment["CATSVDOGS_DOMAIN"]

    @property
    def aws_endpoint(self) -> str:
        return self.environment["AWS_ENDPOINT_URL"]

    @property
    def search_url(self) -> str:
        return self.environment["OPENSEARCH_URL"]

    def client(self, service: str) -> Any:
        """Create a boto3 client for this stack's LocalStack, with botocore's default retries."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.aws_endpoint,
            region_name=self.environment["AWS_REGION"],
            aws_access_key_id=self.environment["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.environment["AWS_SECRET_ACCESS_KEY"],
        )

    def run_cli(self, *arguments: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """Run the catsvdogs command with this deployment's environment; raise BenchError if it fails."""
        result = subprocess.run(
            [str(CLI), *arguments], env=self.environment, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise BenchError(
                f"catsvdogs {' '.join(arguments)} exited with {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr[-4000:]}"
            )
        return result


@dataclass
class Context:
    """Work folder of a benchmark run and, for benchmarks that need it, the native stack and a deployment."""

    workdir: Path
    stack: Any | None = None
    deployment: Deployment | None = None

    def require_deployment(self) -> Deployment:
        if self.deployment is None:
            raise BenchError("this benchmark needs the native stack, but the context has none")
        return self.deployment


@contextlib.contextmanager
def open_context(need_stack: bool, keep_workdir: bool = False) -> Iterator[Context]:
    """Create a temporary work folder and, if ``need_stack``, start a NativeStack in it and provision a deployment.

    The stack is stopped by process id on exit, whatever happened.
    """
    workdir = Path(tempfile.mkdtemp(prefix="catsvdogs-bench-"))
    context = Context(workdir=workdir)
    try:
        if not need_stack:
            yield context
            return

        from catsvdogs.native.servers import NativeStack

        started = time.monotonic()
        stack = NativeStack(workdir=workdir / "native", lambda_python=str(VENV_PYTHON))
        context.stack = stack
        try:
            stack.start()
            LOG.info("Native stack started in %.1f s", time.monotonic() - started)
            deployment = Deployment(unique_environment(stack, "bench"))
            provisioned = time.monotonic()
            deployment.run_cli("provision")
            LOG.info("Provisioned stream %s in %.1f s", deployment.stream, time.monotonic() - provisioned)
            context.deployment = deployment
            yield context
        finally:
            stack.stop()
            LOG.info("Native stack stopped")
    finally:
        if keep_workdir:
            LOG.info("Work folder kept: %s", workdir)
        else:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)


# --- input data -------------------------------------------------------------------


def recording_lines(count: int | None = None, skip: int = 0) -> list[str]:
    """Return lines of the bundled recording without their newline: ``count`` lines after the first ``skip``."""
    lines: list[str] = []
    with gzip.open(RECORDING, "rt", encoding="utf-8") as source:
        for number, line in enumerate(source):
            if number < skip:
                continue
            if count is not None and len(lines) >= count:
                break
            lines.append(line.rstrip("\n"))
    if count is not None and len(lines) < count:
        raise BenchError(f"the recording {RECORDING} has only {skip + len(lines)} lines, fewer than {skip + count}")
    return lines


def write_lines(path: Path, lines: Sequence[str]) -> Path:
    """Write ``lines`` as a plain JSON-lines file and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as target:
        for line in lines:
            target.write(line)
            target.write("\n")
    return path


# --- the search server --------------------------------------------------------------


def search_client(deployment: Deployment) -> Any:
    from opensearchpy import OpenSearch

    return OpenSearch(hosts=[deployment.search_url], timeout=30)


def count_documents(client: Any, index: str) -> int:
    """Return the number of documents in ``index``, or 0 if it does not exist yet."""
    from opensearchpy.exceptions import NotFoundError

    try:
        return int(client.count(index=index)["count"])
    except NotFoundError:
        return 0


def wait_for_count(client: Any, index: str, expected: int, timeout: float, interval: float = 0.05) -> float:
    """Poll until ``index`` contains ``expected`` documents, and return time.monotonic() of the poll that found them.

    Raises BenchError on timeout or if more documents arrive than expected.
    """
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        count = count_documents(client, index)
        if count == expected:
            return time.monotonic()
        if count > expected:
            raise BenchError(f"index {index} contains {count} documents, more than the {expected} expected")
        time.sleep(interval)
    raise BenchError(f"index {index} held {count} of {expected} documents after {timeout:.0f} s")


# --- statistics and processes ---------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the ``fraction`` percentile (0..1) of ``values`` with linear interpolation, as numpy's default does."""
    if not values:
        raise BenchError("percentile of an empty sample")
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def verdict(met: bool, judged: bool = True) -> str:
    """Return the "met" cell of a table row: yes or no when the row is judged against a target, else empty."""
    if not judged:
        return ""
    return "yes" if met else "no"


def rss_kib(pid: int) -> int | None:
    """Return the resident set size of process ``pid`` in KiB from /proc, or None once it has exited."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """Return the user plus system CPU time of process ``pid`` and its reaped children, or None once it has exited."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # Fields 14-17 of proc(5): utime, stime, cutime, cstime, in clock ticks; index 0 here is field 3.
    ticks = sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pids: dict[str, int | None]) -> dict[str, float]:
    """Return the CPU seconds of each named process that is still running."""
    seconds = {}
    for name, pid in pids.items():
        value = cpu_seconds(pid) if pid else None
        if value is not None:
            seconds[name] = value
    return seconds


def stack_pids(context: Context) -> dict[str, int | None]:
    """Return the process ids of LocalStack and the search server of the context's stack."""
    stack = context.stack
    if stack is None:
        return {}
    return {
        "localstack": stack.localstack.process.pid if stack.localstack and stack.localstack.process else None,
        "search_server": stack.search.process.pid if stack.search and stack.search.process else None,
    }


def lambda_pids(localstack_pid: int | None) -> list[int]:
    """Return the ids of the Lambda function processes, which are children of LocalStack's process."""
    if not localstack_pid:
        return []
    children: list[int] = []
    # Each thread lists the children it started, and LocalStack starts functions from worker threads.
    for task in Path(f"/proc/{localstack_pid}/task").glob("*"):
        try:
            children.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return children


@dataclass
class Measured:
    """A finished child process: exit code, monotonic start and end, CPU seconds, peak RSS and output."""

    returncode: int
    started: float
    ended: float
    cpu_seconds: float
    max_rss_kib: int
    stdout: str
    stderr: str

    @property
    def wall_seconds(self) -> float:
        return self.ended - self.started


def run_measured(
    command: Sequence[str],
    environment: dict[str, str],
    workdir: Path,
    on_start: Callable[[int], None] | None = None,
    check: bool = True,
) -> Measured:
    """Run ``command`` to its end and return its times and peak memory from wait4(2).

    ``on_start`` is called with the process id right after the start, for samplers.
    Raises BenchError if ``check`` and the exit code is not 0.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    stdout_path = workdir / f"{uuid.uuid4().hex[:8]}.stdout"
    stderr_path = stdout_path.with_suffix(".stderr")
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        started = time.monotonic()
        process = subprocess.Popen(list(command), env=environment, stdout=stdout, stderr=stderr)
        if on_start is not None:
            on_start(process.pid)
        # wait4 and not Popen.wait, because only wait4 returns the child's own resource usage.
        _, status, usage = os.wait4(process.pid, 0)
        ended = time.monotonic()
    process.returncode = os.waitstatus_to_exitcode(status)
    measured = Measured(
        returncode=process.returncode,
        started=started,
        ended=ended,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        max_rss_kib=usage.ru_maxrss,
        stdout=stdout_path.read_text(encoding="utf-8", errors="replace"),
        stderr=stderr_path.read_text(encoding="utf-8", errors="replace"),
    )
    if check and measured.returncode != 0:
        raise BenchError(
            f"{' '.join(command)} exited with {measured.returncode}\n"
            f"stdout:\n{measured.stdout[-2000:]}\nstderr:\n{measured.stderr[-4000:]}"
        )
    return measured


# --- the machine and the results -----------------------------------------------------


def _first_line(command: Sequence[str]) -> str:
    try:
        output = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False).stdout
    except OSError:
        return "unknown"
    return output.strip().splitlines()[0] if output.strip() else "unknown"


def machine_info() -> dict[str, Any]:
    """Describe the machine and the software versions that the figures depend on."""
    cpu_model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    memory_kib = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    version_of = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))"
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "app_python": platform.python_version(),
        "localstack_python": _first_line([str(LOCALSTACK_PYTHON), "--version"]).removeprefix("Python "),
        "localstack_core": _first_line([str(LOCALSTACK_PYTHON), "-c", version_of, "localstack-core"]),
        "osmem_server": _first_line([str(VENV_PYTHON), "-c", version_of, "osmem-server"]),
        "load_average_at_start": list(os.getloadavg()),
    }


def source_info() -> dict[str, Any]:
    """Describe the code that ran: the commit, and the files of the app and LocalStack setup changed since it."""
    commit = _first_line(["git", "-C", str(ROOT), "rev-parse", "HEAD"])
    try:
        status = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "app", "localstack"],
            capture_output=True, text=True, timeout=30, check=False,
        ).stdout
    except OSError:
        status = ""
    return {"commit": commit, "uncommitted_changes": [line[3:] for line in status.splitlines() if line.strip()]}


def now_utc() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_results(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("botocore", "boto3", "urllib3", "opensearch"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run_alone(module: ModuleType, argv: Sequence[str] | None = None) -> int:
    """Run one benchmark module on its own stack (if it needs one) and print its result as JSON."""
    configure_logging()
    parser = argparse.ArgumentParser(description=(module.__doc__ or "").splitlines()[0])
    parser.add_argument("--keep-workdir", action="store_true", help="keep the temporary work folder and its logs")
    module.add_arguments(parser)
    args = parser.parse_args(argv)
    with open_context(module.NEEDS_STACK, keep_workdir=args.keep_workdir) as context:
        result = module.run(context, args)
    print(json.dumps(result, indent=2))
    return 0


