"""`catsvdogs up`, `status`, `top` and `down` run as a user runs them, each in its own process.

Every test has a private state folder and unique AWS resource names, and reads
the endpoints from the state file as a user's shell would (AWS_ENDPOINT_URL and
OPENSEARCH_URL unset). After each stop the tests check that no process of the
stack is left, including LocalStack's Lambda function processes, and that the
ports are free.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from catsvdogs.native.state import STATE_FILE_NAME, group_members, is_running, port_is_free
from tests.conftest import CLI, REPLAY_DATA
from tests.expected_counts import expected_category
from tests.fake_jetstream import FakeJetstream, Script, post

SUBSET_SIZE = 300
ANIMALS = ("cat", "dog", "both")
UP_READY_TIMEOUT = 150.0
DOWN_TIMEOUT = 90.0


def engagement(message: dict) -> int:
    metrics = message["data"].get("public_metrics", {})
    return (
        metrics.get("like_count", 0)
        + 2 * metrics.get("retweet_count", 0)
        + 2 * metrics.get("quote_count", 0)
        + metrics.get("reply_count", 0)
    )


@pytest.fixture(scope="module")
def subset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    """The first tweets of the bundled recording, as a plain JSON-lines file."""
    with gzip.open(REPLAY_DATA / "cats_v_dogs.jsonl.gz", "rt", encoding="utf-8") as source:
        lines = [next(source).rstrip("\n") for _ in range(SUBSET_SIZE)]
    path = tmp_path_factory.mktemp("native-up") / "subset.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    messages = [json.loads(line) for line in lines]
    # The counts below assume every line is sent: no repeated or edited tweet is skipped.
    assert len({message["data"]["id"] for message in messages}) == len(messages)
    return path, messages


@dataclass
class UserShell:
    """The environment of a user's shell: a private state folder and unique names, no endpoint variables."""

    environment: dict[str, str]
    state_dir: Path

    def run(self, *arguments: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CLI), *arguments], env=self.environment, capture_output=True, text=True, timeout=timeout, check=False
        )

    def start_up(self, *arguments: str, log: Path) -> subprocess.Popen[bytes]:
        """Start `catsvdogs up` in the background, in a session of its own as a terminal's foreground job would be."""
        with open(log, "wb") as output:
            return subprocess.Popen(
                [str(CLI), "up", "--no-progress", *arguments],
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def state(self) -> dict:
        return json.loads((self.state_dir / STATE_FILE_NAME).read_text(encoding="utf-8"))


@pytest.fixture
def shell(tmp_path: Path) -> UserShell:
    suffix = uuid.uuid4().hex[:8]
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "OPENSEARCH_"))}
    environment.update(
        {
            "CATSVDOGS_STATE_DIR": str(tmp_path / "state"),
            # LocalStack's S3 storage is shared machine-wide, so bucket names are unique per test.
            "CATSVDOGS_STACK": f"up-{suffix}",
            "CATSVDOGS_BUCKET": f"up-backup-{suffix}",
            "CATSVDOGS_ARTIFACT_BUCKET": f"up-artifacts-{suffix}",
            "CATSVDOGS_STREAM": f"up-tweets-{suffix}",
            "CATSVDOGS_FUNCTION": f"up-transform-{suffix}",
            "CATSVDOGS_DOMAIN": f"up-{suffix}",
            "CATSVDOGS_INDEX": f"up-tweets-{suffix}",
        }
    )
    return UserShell(environment, tmp_path / "state")


def output_of(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""


def wait_for_stage(shell: UserShell, up: subprocess.Popen[bytes], log: Path, stages: set[str]) -> dict:
    """Wait until the state file shows one of ``stages``; fail with up's output if it exits or time runs out."""
    deadline = time.monotonic() + UP_READY_TIMEOUT
    while time.monotonic() < deadline:
        if up.poll() is not None:
            pytest.fail(f"catsvdogs up exited with {up.returncode}:\n{output_of(log)}")
        try:
            state = shell.state()
        except (OSError, ValueError):
            state = {}
        if state.get("stage") in stages:
            return state
        time.sleep(0.5)
    pytest.fail(f"catsvdogs up did not reach {stages} within {UP_READY_TIMEOUT:g} s:\n{output_of(log)}")


def processes_mentioning(text: str) -> list[str]:
    """Return the command lines of running processes that contain ``text``, such as a state folder path."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in command and is_running(int(entry.name)):
            found.append(f"{entry.name}: {command}")
    return found


def assert_nothing_left(state: dict, state_dir: Path) -> None:
    components = state["components"].values()
    for component in [state["supervisor"], *components]:
        assert not is_running(component["pid"], component["start_ticks"]), component
    for component in components:
        assert group_members(component["pid"]) == [], component
        assert port_is_free(component["port"]), component
    # LocalStack's Lambda function processes run code unzipped under the state folder.
    assert processes_mentioning(str(state_dir)) == []
    assert not (state_dir / STATE_FILE_NAME).exists()


@pytest.fixture
def stopper(shell: UserShell) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes of `up` to stop after the test, also when it fails half-way."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for up in started:
        if up.poll() is None:
            shell.run("down", timeout=DOWN_TIMEOUT)
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
        up.wait(timeout=10)


def test_up_status_top_down(shell: UserShell, subset: tuple[Path, list[dict]], stopper: list, tmp_path: Path) -> None:
    path, messages = subset
    categories = Counter(expected_category(message) for message in messages)
    animal_messages = [message for message in messages if expected_category(message) in ANIMALS]
    log = tmp_path / "up.log"
    # At --speed 60 the 68 recorded seconds take about a second, and each created_at is shifted to its send time.
    # At --speed max the shifted times would run up to 68 s into the future, outside the view's window.
    up = shell.start_up("--file", str(path), "--speed", "60", log=log)
    stopper.append(up)

    state = wait_for_stage(shell, up, log, {"replay finished"})
    assert state["source"]["sent"] == len(messages)

    status = shell.run("status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    report = json.loads(status.stdout)
    assert report["healthy"] is True
    assert {check["name"] for check in report["checks"] if not check["healthy"]} == set()
    assert report["native"]["stage"] == "replay finished"
    contents = report["contents"]
    assert contents["documents"] == {**{name: categories[name] for name in (*ANIMALS, "none")}, "error": 0}
    assert contents["total_documents"] == len(messages)
    assert contents["backup_objects"] >= 1
    assert 0 <= contents["newest_age_seconds"] < 300

    text_status = shell.run("status")
    assert text_status.returncode == 0, text_status.stdout + text_status.stderr
    assert text_status.stdout.rstrip().endswith("Healthy")

    top = shell.run("top", "--once", "--json")
    assert top.returncode == 0, top.stderr
    figures = json.loads(top.stdout)
    for category in ANIMALS:
        of_category = [message for message in messages if expected_category(message) == category]
        likes = sum(message["data"]["public_metrics"]["like_count"] for message in of_category)
        retweets = sum(message["data"]["public_metrics"]["retweet_count"] for message in of_category)
        assert figures["share"][category]["tweets"] == categories[category], category
        assert sum(bucket[category] for bucket in figures["tweets_per_minute"]["buckets"]) == categories[category]
        assert figures["popularity"][category] == {"likes": likes, "retweets": retweets}, category
        assert sum(figures["sentiment"][category].values()) == categories[category], category
    assert sum(share["percent"] for share in figures["share"].values()) == pytest.approx(100, abs=0.05)
    top_engagement = max(engagement(message) for message in animal_messages)
    best = {message["data"]["text"] for message in animal_messages if engagement(message) == top_engagement}
    assert figures["most_engaging_tweet"]["engagement"] == top_engagement
    assert figures["most_engaging_tweet"]["text"] in best

    second = shell.run("up", "--file", str(path))
    assert second.returncode == 1
    assert "already running" in second.stderr
    assert shell.state()["supervisor"]["pid"] == up.pid

    down = shell.run("down", timeout=DOWN_TIMEOUT)
    assert down.returncode == 0, down.stdout + down.stderr
    assert up.wait(timeout=30) == 0, output_of(log)
    assert "Stopped everything that catsvdogs up started" in output_of(log)
    assert_nothing_left(state, shell.state_dir)

    after = shell.run("status")
    assert after.returncode == 3
    assert "No native stack is running" in after.stdout


def test_interrupt_stops_everything(shell: UserShell, subset: tuple[Path, list[dict]], stopper: list, tmp_path: Path) -> None:
    path, _ = subset
    log = tmp_path / "up.log"
    up = shell.start_up("--file", str(path), "--speed", "60", "--loop", log=log)
    stopper.append(up)
    state = wait_for_stage(shell, up, log, {"replaying"})

    # What Ctrl-C sends to the foreground process of a terminal.
    up.send_signal(signal.SIGINT)

    assert up.wait(timeout=DOWN_TIMEOUT) == 0, output_of(log)
    output = output_of(log)
    assert "Sent " in output
    assert "pending:  0" in output
    assert "Stopped everything that catsvdogs up started" in output
    assert_nothing_left(state, shell.state_dir)


@pytest.mark.parametrize("component", ["search server", "LocalStack"])
def test_server_death_stops_replay(
    shell: UserShell, subset: tuple[Path, list[dict]], stopper: list, tmp_path: Path, component: str
) -> None:
    path, _ = subset
    log = tmp_path / "up.log"
    # In a loop the replay runs until stopped, and at full speed a Firehose call is
    # nearly always under way, so the failure happens mid-replay and mostly mid-call.
    up = shell.start_up("--file", str(path), "--loop", log=log)
    stopper.append(up)
    state = wait_for_stage(shell, up, log, {"replaying"})
    server = state["components"][component]

    os.kill(server["pid"], signal.SIGKILL)

    # A dead LocalStack looks like an outage, which the sender would otherwise wait out for 300 s.
    assert up.wait(timeout=DOWN_TIMEOUT) == 1, output_of(log)
    output = output_of(log)
    assert f"the replay failed: {component} (process {server['pid']}) stopped by itself; see " in output
    assert "pending:" in output
    assert "run `catsvdogs up` again to replay them from the start" in output
    assert "Stopped everything that catsvdogs up started" in output
    assert_nothing_left(state, shell.state_dir)


def test_search_server_death_stops_stream(shell: UserShell, stopper: list, tmp_path: Path) -> None:
    # One cat post every 0.05 s for a minute: the stream is still sending when the server dies.
    events = [
        post("did:plc:up", f"3u{index:04d}", 1_767_323_045_000_000 + index, f"post {index} #cats", tags=("cats",))
        for index in range(1200)
    ]
    log = tmp_path / "up.log"
    with FakeJetstream(events) as server:
        server.scripts.append(Script(interval=0.05))
        shell.environment["BLUESKY_JETSTREAM_URLS"] = server.url
        up = shell.start_up("--source", "bluesky", log=log)
        stopper.append(up)
        state = wait_for_stage(shell, up, log, {"streaming"})
        deadline = time.monotonic() + 30
        while sum(map(len, server.sent)) < 40 and time.monotonic() < deadline:
            time.sleep(0.2)
        search = state["components"]["search server"]

        os.kill(search["pid"], signal.SIGKILL)

        assert up.wait(timeout=DOWN_TIMEOUT) == 1, output_of(log)
        still_to_send = len(events) - sum(map(len, server.sent))
    output = output_of(log)
    assert f"search server (process {search['pid']}) stopped by itself; see " in output
    assert "pending:" in output
    assert "Run `catsvdogs up` again to start a new stack" in output
    assert "Stopped everything that catsvdogs up started" in output
    assert still_to_send > 0
    assert_nothing_left(state, shell.state_dir)


def test_stale_state_reported_and_removed(shell: UserShell, tmp_path: Path) -> None:
    shell.state_dir.mkdir(parents=True)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead = int(finished.stdout)
    stale = {
        "version": 1,
        "started_at": "2025-01-01T00:00:00Z",
        "supervisor": {"name": "catsvdogs up", "pid": dead, "start_ticks": 1},
        "components": {},
        "environment": {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "OPENSEARCH_URL": "http://127.0.0.1:9"},
    }
    (shell.state_dir / STATE_FILE_NAME).write_text(json.dumps(stale), encoding="utf-8")

    status = shell.run("status")
    down = shell.run("down")

    assert status.returncode == 3
    assert "stale" in status.stdout
    assert down.returncode == 0, down.stderr
    assert not (shell.state_dir / STATE_FILE_NAME).exists()


def test_port_in_use_named(shell: UserShell) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = shell.run("up", "--search-port", str(port))

    assert result.returncode == 1
    assert f"Port {port} on 127.0.0.1 for the search server is already in use" in result.stderr
    assert "--search-port" in result.stderr
    assert not (shell.state_dir / STATE_FILE_NAME).exists()


def fake_localstack(tmp_path: Path, body: str) -> Path:
    """Write a fake LocalStack interpreter, which ignores its arguments `-m localstack.runtime.main`."""
    script = tmp_path / "fake-localstack"
    script.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    script.chmod(0o755)
    return script


def test_unhealthy_localstack_named_and_stopped(shell: UserShell, tmp_path: Path) -> None:
    # A LocalStack that starts but never responds to its health check.
    shell.environment["CATSVDOGS_LOCALSTACK_PYTHON"] = str(fake_localstack(tmp_path, "echo starting; exec sleep 120"))

    started = time.monotonic()
    result = shell.run("up", "--start-timeout", "2")

    log = shell.state_dir / "localstack.log"
    assert result.returncode == 1
    assert f"LocalStack did not become healthy within 2 s; see {log}" in result.stderr
    assert "starting" in result.stderr
    assert time.monotonic() - started < 60
    assert processes_mentioning(str(tmp_path / "fake-localstack")) == []
    assert not (shell.state_dir / STATE_FILE_NAME).exists()


def test_crashed_localstack_named(shell: UserShell, tmp_path: Path) -> None:
    shell.environment["CATSVDOGS_LOCALSTACK_PYTHON"] = str(fake_localstack(tmp_path, "echo cannot start >&2; exit 3"))

    result = shell.run("up")

    assert result.returncode == 1
    assert f"LocalStack exited with status 3 while starting; see {shell.state_dir / 'localstack.log'}" in result.stderr
    assert "cannot start" in result.stderr
    assert not (shell.state_dir / STATE_FILE_NAME).exists()


def test_down_without_stack(shell: UserShell) -> None:
    result = shell.run("down")

    assert result.returncode == 0
    assert f"Nothing to stop: no state file in {shell.state_dir}" in result.stdout


def test_missing_recording_named(shell: UserShell, tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl"

    result = shell.run("up", "--file", str(missing))

    assert result.returncode == 1
    assert f"Recorded file not found: {missing}" in result.stderr


def test_folder_as_recording_named(shell: UserShell, tmp_path: Path) -> None:
    result = shell.run("up", "--file", str(tmp_path))

    assert result.returncode == 1
    assert f"Not a recorded file but a folder: {tmp_path}; pass the files inside it" in result.stderr


def test_state_folder_file_named(shell: UserShell, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    shell.environment["CATSVDOGS_STATE_DIR"] = str(blocker)

    result = shell.run("up")

    assert result.returncode == 1
    assert f"Cannot create the state folder {blocker}: File exists; set CATSVDOGS_STATE_DIR" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_x_token_named_before_start(shell: UserShell) -> None:
    shell.environment.pop("X_BEARER_TOKEN", None)
    shell.environment.pop("X_BEARER_TOKEN_FILE", None)

    result = shell.run("up", "--source", "x", timeout=30)

    assert result.returncode == 1
    assert "--source x: no X bearer token" in result.stderr
    # It failed before any server started, so there is no state file and no server log.
    assert not (shell.state_dir / STATE_FILE_NAME).exists()
    assert "started as process" not in result.stdout + result.stderr
