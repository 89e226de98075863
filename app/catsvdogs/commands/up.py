"""`catsvdogs up`: the whole pipeline without Docker, in the foreground, until Ctrl-C or `catsvdogs down`.

It installs or reuses the emulator environments, starts the search server and
LocalStack on 127.0.0.1, provisions, and replays a recording in this process
with the same functions as `catsvdogs replay`. When the replay ends, the stack
keeps running for `catsvdogs top` and `catsvdogs status`. Whatever ends `up`
(Ctrl-C, SIGTERM from `catsvdogs down`, an error) stops every process it
started, by process group id.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import IO

from catsvdogs.commands import stream
from catsvdogs.commands.arguments import parse_number
from catsvdogs.commands.live import LIVE_SOURCES
from catsvdogs.commands.replay import ProgressBar, parse_speed
from catsvdogs.config import load_settings
from catsvdogs.native.compose import ComposeError, find_project_root
from catsvdogs.native.environments import EnvironmentSetupError, ensure_localstack_environment, ensure_search_server
from catsvdogs.native.process import ServerStartError
from catsvdogs.native.servers import LOCALSTACK_START_TIMEOUT
from catsvdogs.native.state import (
    NATIVE_CREDENTIALS,
    OTHER_CREDENTIAL_VARIABLES,
    STATE_DIR_VARIABLE,
    StateError,
    StateFile,
    describe_state,
    state_dir,
)
from catsvdogs.native.supervisor import NativeSupervisor, PortInUseError, check_port_free
from catsvdogs.producer.counters import format_summary
from catsvdogs.producer.firehose import FirehoseSender, ProducerError
from catsvdogs.producer.pipeline import install_stop_signals, run_producer
from catsvdogs.provisioning.lambda_package import PackageBuildError
from catsvdogs.provisioning.provision import ProvisionError, provision
from catsvdogs.sources.bluesky import JetstreamConfigError, load_endpoints
from catsvdogs.sources.replay import ReplayOptions, replay
from catsvdogs.sources.x_client import CredentialsError, load_bearer_token

DEFAULT_SPEED = 10.0
DEFAULT_RECORDING = Path("replay_data") / "cats_v_dogs.jsonl.gz"
# The same variables set the host ports of the compose file's localstack and opensearch services.
LOCALSTACK_PORT_VARIABLE = "LOCALSTACK_PORT"
SEARCH_PORT_VARIABLE = "OPENSEARCH_PORT"
SOURCES = ("replay", *LIVE_SOURCES)
LOCK_NAME = "up.lock"
ENVIRONMENT_LOG = "environment.log"
# Seconds between checks that the servers still run, once the replay has ended.
WATCH_INTERVAL = 1.0

ENVIRONMENT_HELP = f"""environment variables:
  {STATE_DIR_VARIABLE:<34} state folder: state.json and the logs (default: .native in the checkout)
  {LOCALSTACK_PORT_VARIABLE:<34} default of --localstack-port
  {SEARCH_PORT_VARIABLE:<34} default of --search-port
  CATSVDOGS_LOCALSTACK_BASE_PYTHON   Python 3.12 or newer that creates .venv-localstack (default: python3.13 or
                                     python3.12 from PATH or pyenv)
  CATSVDOGS_LOCALSTACK_PYTHON        use this LocalStack interpreter as it is instead of .venv-localstack
"""


class UpError(RuntimeError):
    """`up` cannot start. The message explains why and what to do next."""


PORT_HINT = "use a whole number from 1 to 65535, or 0 for a free port"


def parse_port(value: str) -> int:
    """Parse a TCP port, 0 meaning any free port."""
    return parse_number(value, int, "port", accepted=lambda port: 0 <= port <= 65535, not_a_number=PORT_HINT, out_of_range=PORT_HINT)


def parse_timeout(value: str) -> float:
    """Parse a timeout in seconds, greater than 0."""
    return parse_number(
        value, float, "timeout",
        accepted=lambda seconds: seconds > 0,
        not_a_number="use a number of seconds such as 90",
        out_of_range="use a number of seconds greater than 0",
    )


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "up",
        help="run the whole pipeline without Docker: LocalStack and the search server on 127.0.0.1, then a replay",
        description=(
            "Install or reuse the emulator environments, start the search server and LocalStack on 127.0.0.1, "
            "wait until both are healthy, provision, and replay the bundled recording in the foreground. "
            "When the replay ends the stack keeps running. Ctrl-C (or `catsvdogs down` from another terminal) "
            "stops everything it started. Ports, process ids and logs are kept in the state folder, "
            "where `catsvdogs status`, `top` and `down` find them."
        ),
        epilog=ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--file",
        action="append",
        type=Path,
        metavar="PATH",
        help=f"recorded stream file to replay; repeat it for several (default: {DEFAULT_RECORDING} in the checkout)",
    )
    parser.add_argument(
        "--speed",
        type=parse_speed,
        default=DEFAULT_SPEED,
        metavar="FACTOR|max",
        help=f"replay speed as a multiple of the recorded pace, or 'max' (default: {DEFAULT_SPEED:g})",
    )
    parser.add_argument("--loop", action="store_true", help="replay the files again and again until stopped")
    parser.add_argument(
        "--source",
        choices=SOURCES,
        default="replay",
        help="where the posts come from: 'replay' replays the files; 'x' and 'bluesky' run `catsvdogs stream "
        "--source NAME` with its defaults instead, until stopped (default: replay)",
    )
    parser.add_argument(
        "--localstack-port",
        type=parse_port,
        metavar="PORT",
        help=f"port of LocalStack on 127.0.0.1 (default: ${LOCALSTACK_PORT_VARIABLE}, else a free port)",
    )
    parser.add_argument(
        "--search-port",
        type=parse_port,
        metavar="PORT",
        help=f"port of the search server on 127.0.0.1 (default: ${SEARCH_PORT_VARIABLE}, else a free port)",
    )
    parser.add_argument(
        "--start-timeout",
        type=parse_timeout,
        default=LOCALSTACK_START_TIMEOUT,
        metavar="SECONDS",
        help=f"maximum seconds each server may take to become healthy (default: {LOCALSTACK_START_TIMEOUT:g})",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar for the replay, even on a terminal")
    parser.set_defaults(run=run)


def report(message: str) -> None:
    """Print a progress line. A closed stdout (a terminal or pipe that went away) is ignored, so it never stops the cleanup."""
    try:
        print(message, flush=True)
    except OSError:
        pass


def report_error(message: str) -> None:
    try:
        print(f"catsvdogs up: {message}", file=sys.stderr, flush=True)
    except OSError:
        pass


def port_setting(option_value: int | None, variable: str, option: str) -> int:
    """Return the port from the option, else from the environment variable, else 0 (a free port)."""
    if option_value is not None:
        return option_value
    value = os.environ.get(variable, "").strip()
    if not value:
        return 0
    try:
        return parse_port(value)
    except argparse.ArgumentTypeError as error:
        raise UpError(f"{variable}: {error}; fix it or pass {option}") from None


def check_live_source(source: str) -> None:
    """Raise UpError for a live source whose settings cannot work, before any server starts."""
    try:
        if source == "x":
            load_bearer_token()
        elif source == "bluesky":
            load_endpoints()
    except (CredentialsError, JetstreamConfigError) as error:
        raise UpError(f"--source {source}: {error}") from None


def create_state_folder(folder: Path) -> None:
    """Create the state folder, raising UpError that names it when it cannot be a folder."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UpError(
            f"Cannot create the state folder {folder}: {error.strerror or error}; set {STATE_DIR_VARIABLE} to a "
            "folder you can write to, or unset it to use .native in the checkout"
        ) from None


@contextlib.contextmanager
def up_lock(folder: Path) -> Iterator[bool]:
    """Hold the state folder's lock for this `up`, or yield False when another `up` holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    lock_file: IO[str] = open(folder / LOCK_NAME, "w", encoding="utf-8")
    try:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        lock_file.close()


def already_running_message(folder: Path) -> str:
    lines = [f"a native stack is already running from {folder}:"]
    try:
        state = StateFile(folder).read()
    except StateError:
        state = None
    if state is not None:
        lines += [f"  {line}" for line in describe_state(state)]
    lines.append("Watch it with `catsvdogs top`, check it with `catsvdogs status`, or stop it with `catsvdogs down`.")
    return "\n".join(lines)


@contextlib.contextmanager
def stop_signals_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt, so that `down`, a closed terminal and Ctrl-C all end
    `up` through the same cleanup. During the replay its own handlers take SIGINT and SIGTERM."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, interrupt) for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def point_at_stack(supervisor: NativeSupervisor) -> None:
    """Point this process's boto3 and OpenSearch clients at the stack, with LocalStack's dummy credentials."""
    for name in OTHER_CREDENTIAL_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(supervisor.state.environment)
    os.environ.update(NATIVE_CREDENTIALS)


def run(args: argparse.Namespace) -> int:
    try:
        root = find_project_root()
        check_live_source(args.source)
        folder = state_dir()
        create_state_folder(folder)
        files = args.file or [root / DEFAULT_RECORDING]
        folders = [str(path) for path in files if path.is_dir()]
        if folders:
            raise UpError(f"Not a recorded file but a folder: {', '.join(folders)}; pass the files inside it")
        missing = [str(path) for path in files if not path.is_file()]
        if missing:
            raise UpError(f"Recorded file not found: {', '.join(missing)}")
        localstack_port = port_setting(args.localstack_port, LOCALSTACK_PORT_VARIABLE, "--localstack-port")
        search_port = port_setting(args.search_port, SEARCH_PORT_VARIABLE, "--search-port")
    except (UpError, ComposeError) as error:
        report_error(str(error))
        return 1

    with up_lock(folder) as locked:
        if not locked:
            report_error(already_running_message(folder))
            return 1
        try:
            existing = StateFile(folder).read()
        except StateError as error:
            report_error(str(error))
            return 1
        if existing is not None and not existing.is_stale():
            report_error(already_running_message(folder))
            return 1
        if existing is not None:
            report(f"Replacing the state of a stack started at {existing.started_at}: none of its processes runs any more")
        return start_and_run(args, root, folder, files, localstack_port, search_port)


def start_and_run(
    args: argparse.Namespace, root: Path, folder: Path, files: list[Path], localstack_port: int, search_port: int
) -> int:
    try:
        check_port_free(search_port, "search server", "--search-port")
        check_port_free(localstack_port, "LocalStack", "--localstack-port")
        environment_log = folder / ENVIRONMENT_LOG
        ensure_search_server(report, log_path=environment_log)
        localstack_python = ensure_localstack_environment(root, report, log_path=environment_log)
    except (PortInUseError, EnvironmentSetupError, ServerStartError) as error:
        report_error(str(error))
        return 1
    os.environ["CATSVDOGS_LOCALSTACK_PYTHON"] = str(localstack_python)

    source = {"name": args.source, "files": [str(path) for path in files], "speed": args.speed, "loop": args.loop}
    supervisor = NativeSupervisor(folder, report, source)
    status = 1
    with stop_signals_as_interrupt():
        try:
            report(f"State folder: {folder}")
            supervisor.start(search_port, localstack_port, timeout=args.start_timeout)
            point_at_stack(supervisor)
            report("Provisioning:")
            provision(load_settings(), report=lambda line: report(f"  {line}"))
            print_usage(supervisor)
            if args.source == "replay":
                status = replay_then_wait(args, supervisor, files)
            else:
                status = stream_live(args.source, supervisor)
        except KeyboardInterrupt:
            report("Interrupted")
            status = 0
        except (ServerStartError, ProvisionError, PackageBuildError) as error:
            report_error(str(error))
        finally:
            status = stop_everything(supervisor, folder, status)
    return status


def print_usage(supervisor: NativeSupervisor) -> None:
    environment = supervisor.state.environment
    exports = " ".join(f"{name}={value}" for name, value in {**environment, **NATIVE_CREDENTIALS}.items())
    report(
        "\nReady. In another terminal of this checkout:\n"
        "  catsvdogs top       cats v dogs, live\n"
        "  catsvdogs status    health and document counts\n"
        "  catsvdogs down      stop everything (or press Ctrl-C here)\n"
        f"Other tools reach the stack with: export {exports}\n"
    )


def replay_then_wait(args: argparse.Namespace, supervisor: NativeSupervisor, files: list[Path]) -> int:
    """Replay the files in the foreground, then keep the stack running until a stop signal, and return the exit status."""
    settings = load_settings()
    speed = "max" if args.speed is None else f"{args.speed:g}"
    loop = ", in a loop" if args.loop else ""
    report(f"Replaying {', '.join(map(str, files))} at speed {speed}{loop} to {settings.stream_name}. Ctrl-C stops everything.")
    supervisor.set_stage("replaying")

    stop = threading.Event()
    restore_signals = install_stop_signals(stop)
    bar = ProgressBar() if sys.stderr.isatty() and not args.no_progress else None
    try:
        summary = run_producer(
            replay(files, ReplayOptions(speed=args.speed, loop=args.loop), stop),
            FirehoseSender.from_settings(settings, stop=stop, health_check=lambda: describe_failure(supervisor)),
            stop=stop,
            progress=bar.update if bar else None,
        )
    except ProducerError as error:
        report_error(f"the replay failed: {error}")
        if error.summary is not None:
            report(format_summary(error.summary, stream_name=settings.stream_name))
        problem = describe_failure(supervisor)
        if problem is not None and problem not in str(error):
            report_error(problem)
        if problem is not None:
            report_error(
                "up now stops the other server too, and the stack's in-memory index and S3 backup go with it. The "
                "input files are unchanged: run `catsvdogs up` again to replay them from the start."
            )
        return 1
    finally:
        if bar:
            bar.close()
        restore_signals()
    report(format_summary(summary, stream_name=settings.stream_name))
    supervisor.set_stage(
        "replay stopped" if stop.is_set() else "replay finished",
        read=summary.read,
        sent=summary.sent,
        rejected=summary.rejected,
    )
    if stop.is_set():
        return 0
    report(
        "Replay finished. The stack keeps running for `catsvdogs top` and `catsvdogs status`; "
        "press Ctrl-C or run `catsvdogs down` to stop it."
    )
    return wait_for_stop(supervisor)


def describe_failure(supervisor: NativeSupervisor) -> str | None:
    """Return a line that names the server of the stack that stopped by itself and its log, or None if both run."""
    failed = supervisor.failed_component()
    if failed is None:
        return None
    return f"{failed.name} (process {failed.pid}) stopped by itself; see {failed.log}"


def live_source_arguments(source: str) -> argparse.Namespace:
    """Parse `catsvdogs stream --source SOURCE` with the stream command's own parser and defaults."""
    parser = argparse.ArgumentParser(prog="catsvdogs")
    stream.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["stream", "--source", source])


def stream_live(source: str, supervisor: NativeSupervisor) -> int:
    """Run `catsvdogs stream` in this process until a stop signal or an error, and return its exit status."""
    report(f"Streaming live posts from {source}, as `catsvdogs stream --source {source}` does. Ctrl-C stops everything.")
    supervisor.set_stage("streaming")
    status = int(stream.run(live_source_arguments(source), health_check=lambda: describe_failure(supervisor)))
    supervisor.set_stage("stream stopped")
    if describe_failure(supervisor) is not None:
        report_error(
            "up now stops the other server too, and the stack's in-memory index and S3 backup go with it. "
            "Run `catsvdogs up` again to start a new stack."
        )
    return status


def wait_for_stop(supervisor: NativeSupervisor) -> int:
    """Wait for SIGINT or SIGTERM while checking the servers, and return 1 when one of them stops by itself."""
    stop = threading.Event()
    restore_signals = install_stop_signals(stop)
    try:
        while not stop.wait(WATCH_INTERVAL):
            problem = describe_failure(supervisor)
            if problem is not None:
                report_error(problem)
                report_error("the other server is stopped too, so the stack's index and S3 backup are gone; run `catsvdogs up` to start again")
                return 1
    finally:
        restore_signals()
    return 0


def stop_everything(supervisor: NativeSupervisor, folder: Path, status: int) -> int:
    """Stop the servers, report any process or port that was left, and return the final exit status."""
    report("Stopping the native stack")
    # A second Ctrl-C while the servers stop would leave them running, so both signals are ignored until the
    # end. The stop is bounded, because each server gets SERVER_STOP_TIMEOUT seconds before its group is killed.
    ignored = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in ignored}
    try:
        result = supervisor.stop()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if not result.clean:
        if result.survivors:
            report_error(f"processes still running after the stop: {result.survivors}")
        if result.busy_ports:
            report_error(f"ports still in use after the stop: {result.busy_ports}")
        report_error(f"run `catsvdogs down` to retry; the state stays in {folder}")
        return 1
    report(f"Stopped everything that catsvdogs up started. Logs are in {folder}")
    return status

