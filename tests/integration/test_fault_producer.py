"""Fault tests of the producer on the shared native stack: kills, a search server that rejects documents,
bad input at volume, secrets in output and logs, and the addresses that servers listen on.

Every test reconciles exact counts: what the test wrote, what the producer's
summary reports, and what OpenSearch contains after `catsvdogs reindex`.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from catsvdogs.native.servers import NativeStack
from tests.conftest import CLI, Deployment, provision
from tests.fake_x_stream import FakeXServer, line, tweet
from tests.fault_helpers import (
    checkpoint_line,
    file_query,
    finish,
    index_counts,
    recording_lines,
    reindex_counts,
    rejected_by_reason,
    search_client,
    start_cli,
    summary_counts,
    tweet_ids,
    wait_until,
    write_lines,
)

MAX_BATCH_RECORDS = 500
QUIET = ("--no-progress", "--log-interval", "0")


@pytest.fixture(scope="module")
def fault_deployment(native_stack: NativeStack) -> Deployment:
    return provision(native_stack, "fault")


def test_sigterm_then_sigkill_then_resume(fault_deployment: Deployment, tmp_path: Path) -> None:
    lines = recording_lines(3001, 1500)
    path = write_lines(tmp_path / "killed.jsonl", lines)
    checkpoint = tmp_path / "checkpoint.json"
    # A short queue keeps the reader close to the sender, so that a stop leaves lines for the resumed runs.
    replay = ["replay", str(path), *QUIET, "--checkpoint", str(checkpoint), "--queue-size", "50"]

    # SIGTERM: everything read is sent, and the checkpoint covers it.
    # At this pace the 1,500 tweets take about 25 s, so both stops come well before the end.
    first = start_cli(fault_deployment, *replay, "--speed", "20", log=tmp_path / "first.log")
    wait_until(lambda: checkpoint_line(checkpoint) >= 200, first, 60, "the first batches")
    first.send_signal(signal.SIGTERM)
    status, stdout, stderr = finish(first, tmp_path / "first.log")
    terminated = summary_counts(stdout)
    term_line = checkpoint_line(checkpoint)

    assert status == 0, stderr
    assert terminated["pending"] == 0
    assert terminated["rejected"] == 0
    assert terminated["sent"] == terminated["read"] == term_line
    assert json.loads(checkpoint.read_text())["finished"] is False

    # SIGKILL during a resumed run: the checkpoint is where the last acknowledged batch ended.
    second = start_cli(fault_deployment, *replay, "--resume", "--speed", "20", log=tmp_path / "second.log")
    wait_until(lambda: checkpoint_line(checkpoint) >= term_line + 200, second, 60, "the resumed batches")
    assert second.poll() is None, "the resumed replay finished before it could be killed"
    second.send_signal(signal.SIGKILL)
    second.wait(timeout=30)
    kill_line = checkpoint_line(checkpoint)

    third = fault_deployment.run_cli(*replay, "--resume", "--speed", "max")
    finished = summary_counts(third.stdout)
    documents, distinct = index_counts(fault_deployment, file_query(path))

    assert finished["read"] == finished["sent"] == len(lines) - kill_line
    assert json.loads(checkpoint.read_text())["finished"] is True
    assert distinct == len(lines)
    assert 0 <= documents - len(lines) <= MAX_BATCH_RECORDS

    reconciled = reindex_counts(fault_deployment.run_cli("reindex").stdout)

    assert reconciled["deleted"] == documents - len(lines)
    assert index_counts(fault_deployment, file_query(path)) == (len(lines), len(lines))


def test_search_rejects_documents_then_reindex(fault_deployment: Deployment, tmp_path: Path) -> None:
    lines = recording_lines(5001, 600)
    path = write_lines(tmp_path / "blocked.jsonl", lines)
    client = search_client(fault_deployment)
    index = fault_deployment.settings.index_name

    client.indices.put_settings(index=index, body={"index.blocks.write": True})
    try:
        result = fault_deployment.run_cli("replay", str(path), *QUIET, "--max-attempts", "2", check=False)
    finally:
        client.indices.put_settings(index=index, body={"index.blocks.write": False})
    counts = summary_counts(result.stdout)

    assert result.returncode == 1, result.stderr  # no tweet was sent and some were rejected
    assert counts["sent"] == 0
    assert counts["rejected"] == counts["not delivered"] == len(lines)
    assert rejected_by_reason(result.stdout) == {"InternalError": len(lines)}
    assert "cluster_block_exception" in result.stdout
    assert "'catsvdogs reindex' indexes the backed-up records" in result.stdout
    assert index_counts(fault_deployment, file_query(path)) == (0, 0)

    reconciled = reindex_counts(fault_deployment.run_cli("reindex").stdout)

    assert reconciled["indexed"] == len(lines)
    assert reconciled["failed"] == 0
    assert index_counts(fault_deployment, file_query(path)) == (len(lines), len(lines))


def bad_input_file(path: Path) -> tuple[list[str], dict[str, int]]:
    """Write 1,350 good tweets and 150 bad records (10%) in a fixed shuffled order.

    Returns the good lines and the expected rejections per reason category.
    """
    good = recording_lines(6001, 1350)
    template = json.loads(good[0])

    def variant(number: int, **data: object) -> dict:
        message = json.loads(json.dumps(template))
        message["data"].update({"id": f"8{number:018d}", **data})
        return message

    bad: list[bytes] = []
    expected: dict[str, int] = {}

    def add(category: str, records: list[bytes]) -> None:
        bad.extend(records)
        expected[category] = len(records)

    add("invalid JSON", [good[i][: len(good[i]) // 2].encode() for i in range(80)])
    add("not a stream message", [json.dumps({"foo": i}).encode() for i in range(15)])
    add("invalid UTF-8", [json.dumps(variant(i, text="cats XX")).encode().replace(b"XX", b"\xff\xfe") for i in range(15)])
    likes = [variant(100 + i, public_metrics={"like_count": "12", "retweet_count": 0}) for i in range(15)]
    add("rejected by the transform", [json.dumps(message).encode() for message in likes])
    add("not a tweet", [json.dumps(variant(200 + i, text=12345)).encode() for i in range(15)])
    surrogates = [json.dumps(variant(300 + i, text="cat XX")).replace("XX", "\\ud83d").encode() for i in range(5)]
    add("invalid Unicode", surrogates)
    add("record too large", [json.dumps(variant(400 + i, text="#cats " + "a" * 1_100_000)).encode() for i in range(5)])

    # The first lines stay good, because the first records decide the file's format.
    rows: list[bytes] = [line.encode() for line in good[10:]] + bad
    random.Random(7).shuffle(rows)
    rows = [line.encode() for line in good[:10]] + rows
    path.write_bytes(b"\n".join(rows) + b"\n")
    return good, expected


def test_bad_input_at_volume(fault_deployment: Deployment, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good, expected = bad_input_file(path)
    bad_count = sum(expected.values())

    result = fault_deployment.run_cli("replay", str(path), *QUIET)
    counts = summary_counts(result.stdout)

    assert bad_count == len(good) // 9  # 10% of all records
    assert counts["read"] == len(good) + bad_count
    assert counts["sent"] == len(good)
    assert counts["rejected"] == bad_count
    assert counts["pending"] == 0
    assert rejected_by_reason(result.stdout) == expected
    assert f"Rejected {path}:" in result.stderr
    assert index_counts(fault_deployment, file_query(path)) == (len(good), len(good))
    indexed = search_client(fault_deployment).search(
        index=fault_deployment.settings.index_name,
        body={"size": 2000, "_source": ["tweet_id"], "query": file_query(path)},
    )
    assert {hit["_source"]["tweet_id"] for hit in indexed["hits"]["hits"]} == tweet_ids(good)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_with(environment: dict[str, str], *arguments: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), *arguments], env=environment, capture_output=True, text=True, timeout=timeout)


def test_no_secret_in_output_or_logs(native_stack: NativeStack, fault_deployment: Deployment, tmp_path: Path) -> None:
    secret = f"FAKE-SECRET-{uuid.uuid4().hex}"
    token = f"FAKE-TOKEN-{uuid.uuid4().hex}"
    environment = dict(fault_deployment.environment, AWS_SECRET_ACCESS_KEY=secret, X_BEARER_TOKEN=token)
    path = write_lines(tmp_path / "small.jsonl", recording_lines(7901, 20))
    unreachable = dict(environment, AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")
    debug = ("--log-level", "DEBUG")

    results = [
        run_with(environment, *debug, "provision"),
        run_with(environment, *debug, "replay", str(path), *QUIET),
        run_with(environment, *debug, "reindex", "--dry-run"),
        run_with(unreachable, *debug, "provision"),
        run_with(unreachable, *debug, "replay", str(path), *QUIET, "--max-outage", "1"),
    ]
    with FakeXServer(token=token) as server:
        server.scripts.append([line(tweet("1900000000000000001", "a #cats post"))])
        x_environment = dict(environment, X_API_URL=server.url)
        results.append(run_with(x_environment, *debug, "stream", "--source", "x", "--duration", "3", "--log-interval", "0"))
    with FakeXServer(token="another-token") as server:
        results.append(run_with(dict(environment, X_API_URL=server.url), *debug, "stream", "--source", "x", "--log-interval", "0"))

    assert [result.returncode for result in results] == [0, 0, 0, 1, 1, 0, 1]
    assert "Cannot reach" in results[3].stderr
    assert "unreachable" in results[4].stderr
    assert "401" in results[6].stderr or "token" in results[6].stderr.lower()
    for result in results:
        output = result.stdout + result.stderr
        assert secret not in output, result.args
        assert token not in output, result.args
    logs = [file for file in native_stack.workdir.rglob("*") if file.is_file() and file.stat().st_size < 200_000_000]
    assert any(file.name == "localstack.log" for file in logs)
    for file in logs:
        content = file.read_bytes()
        assert secret.encode() not in content, file
        assert token.encode() not in content, file


def process_tree(root: int) -> set[int]:
    """Return ``root`` and every process descended from it, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return tree


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return inodes
    for descriptor in descriptors:
        try:
            target = os.readlink(descriptor)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def decode_address(hex_address: str) -> tuple[str, int]:
    """Decode an address of /proc/net/tcp or tcp6 (little-endian words) into text and port."""
    address, port = hex_address.split(":")
    raw = bytes.fromhex(address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if len(words) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, words), int(port, 16)


def listening_sockets(pids: set[int]) -> list[tuple[int, str, int]]:
    """Return (pid, address, port) of every listening TCP socket and bound UDP socket of ``pids``."""
    owners = {inode: pid for pid in pids for inode in socket_inodes(pid)}
    found = []
    for table, listening_state in (("tcp", "0A"), ("tcp6", "0A"), ("udp", "07"), ("udp6", "07")):
        for row in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = row.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if inode not in owners or state != listening_state:
                continue
            if table.startswith("udp") and int(remote.split(":")[1], 16) != 0:
                continue  # a connected UDP socket, such as a DNS query, is not a server
            address, port = decode_address(local)
            found.append((owners[inode], address, port))
    return found


def test_every_listening_port_is_loopback(native_stack: NativeStack, fault_deployment: Deployment) -> None:
    # The processes of the tests' servers and their children, such as the transform function's processes.
    sockets = listening_sockets(process_tree(os.getpid()))
    ports = {port for _, _, port in sockets}

    assert native_stack.localstack is not None and native_stack.search is not None
    assert native_stack.localstack.port in ports
    assert native_stack.search.port in ports
    assert [entry for entry in sockets if entry[1] != "127.0.0.1"] == []
