"""`catsvdogs down`: stop the native stack that `catsvdogs up` started, by the process ids in its state file."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from catsvdogs.commands.up import parse_timeout
from catsvdogs.native.compose import ComposeError
from catsvdogs.native.state import StateError, StateFile, state_dir
from catsvdogs.native.supervisor import remove_scratch, stop_recorded

# `up` sends the records it has already read before it stops its servers. A full queue of 10,000
# records took about 80 s on the native stack, so the default leaves room for that and the stop.
DEFAULT_TIMEOUT = 150.0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "down",
        help="stop the native stack that `catsvdogs up` started",
        description=(
            "Send SIGTERM to the `catsvdogs up` process, which sends the records already read and stops its "
            "servers, then stop any server process group that is left (SIGTERM, SIGKILL after a timeout), check "
            "that the ports are free and remove the state file. The logs stay in the state folder."
        ),
    )
    parser.add_argument(
        "--timeout",
        type=parse_timeout,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"maximum seconds to wait for `catsvdogs up` to stop by itself before it is killed (default: {DEFAULT_TIMEOUT:g})",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        folder = state_dir()
        state_file = StateFile(folder)
        state = state_file.read()
    except (ComposeError, StateError) as error:
        print(f"catsvdogs down: {error}", file=sys.stderr)
        return 1
    if state is None:
        print(f"Nothing to stop: no state file in {folder}")
        return 0

    supervisor = state.supervisor
    if supervisor.pid != os.getpid() and supervisor.is_running():
        print(f"Stopping catsvdogs up (process {supervisor.pid}), which stops its servers")
        os.kill(supervisor.pid, signal.SIGTERM)
        deadline = time.monotonic() + args.timeout
        while supervisor.is_running() and time.monotonic() < deadline:
            time.sleep(0.2)
        if supervisor.is_running():
            print(f"catsvdogs up (process {supervisor.pid}) did not stop within {args.timeout:g} s; killing it")
            os.kill(supervisor.pid, signal.SIGKILL)
            deadline = time.monotonic() + 5.0
            while supervisor.is_running() and time.monotonic() < deadline:
                time.sleep(0.1)

    # Whatever `up` did not stop, for example after it was killed, is stopped here.
    result = stop_recorded(state, print)
    if result.survivors:
        print(f"catsvdogs down: processes still running: {result.survivors}; run `catsvdogs down` again", file=sys.stderr)
    if result.busy_ports:
        ports = ", ".join(map(str, result.busy_ports))
        print(f"catsvdogs down: ports still in use on 127.0.0.1: {ports}", file=sys.stderr)
    if not result.clean:
        return 1
    state_file.remove()
    remove_scratch(folder)
    print(f"Stopped. No catsvdogs process is left and the ports are free. Logs are in {folder}")
    return 0
