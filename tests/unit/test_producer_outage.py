"""FirehoseSender during an outage: a refused connection, the endpoint coming back, a lost stream, a stop request.

A real boto3 client talks to the fake Firehose of tests/fake_firehose.py, which
a test starts on a chosen port only after a few retries, as LocalStack comes
back after a restart. Sleeps are recorded and advance a fake clock.
"""

from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from catsvdogs.producer.firehose import (
    DestinationFailedError,
    FirehoseSender,
    OutageError,
    ProducerError,
    ReprovisionFailed,
    StreamLostError,
    create_firehose_client,
)
from catsvdogs.records import Origin, OutgoingRecord

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fake_firehose import DROP_CONNECTION, SERVICE_UNAVAILABLE, CallError, FakeFirehose, FirehoseScript  # noqa: E402

STREAM = "test-stream"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_records(count: int) -> list[OutgoingRecord]:
    return [OutgoingRecord(f'{{"id": "{line}"}}\n'.encode(), Origin("tweets.jsonl", line)) for line in range(1, count + 1)]


class Outage:
    """A fake clock and sleep; after ``down_for`` sleeps it starts the fake Firehose on ``port``."""

    def __init__(self, port: int, down_for: int, script: FirehoseScript | None = None) -> None:
        self.port = port
        self.down_for = down_for
        self.script = script or FirehoseScript(streams={STREAM})
        self.now = 0.0
        self.delays: list[float] = []
        self.server: FakeFirehose | None = None

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.now += seconds
        if len(self.delays) == self.down_for and self.server is None:
            self.server = FakeFirehose(self.script, port=self.port).__enter__()

    def close(self) -> None:
        if self.server is not None:
            self.server.__exit__(None, None, None)


@pytest.fixture
def outage():
    created: list[Outage] = []

    def start(down_for: int, script: FirehoseScript | None = None) -> Outage:
        created.append(Outage(free_port(), down_for, script))
        return created[-1]

    yield start
    for item in created:
        item.close()


def make_sender(outage: Outage, **kwargs: Any) -> FirehoseSender:
    client = create_firehose_client(
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{outage.port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        connect_timeout=1,
    )
    kwargs.setdefault("max_outage", 300)
    return FirehoseSender(client, STREAM, sleep=outage.sleep, random=lambda: 1.0, clock=outage.clock, **kwargs)


def test_outage_keeps_batch_until_endpoint_returns(outage) -> None:
    down = outage(down_for=12)
    records = make_records(3)

    result = make_sender(down).put_batch(records)

    assert result.sent == 3
    assert result.attempts == 1
    assert result.failed == ()
    assert down.server is not None
    assert down.server.accepted == [record.data for record in records]
    assert len(down.delays) == 12


def test_outage_delays_grow_to_the_cap(outage) -> None:
    down = outage(down_for=10)

    make_sender(down).put_batch(make_records(1))

    assert down.delays[:4] == pytest.approx([0.1, 0.2, 0.4, 0.8])
    assert max(down.delays) == pytest.approx(10.0)


def test_outage_logs_each_retry_with_batch_id(outage, caplog: pytest.LogCaptureFixture) -> None:
    down = outage(down_for=3)

    with caplog.at_level("WARNING", logger="catsvdogs.producer.firehose"):
        make_sender(down).put_batch(make_records(2))

    retries = [record.getMessage() for record in caplog.records if "unreachable" in record.getMessage()]
    assert len(retries) == 3
    assert all(message.startswith("Batch 1 to stream test-stream") for message in retries)
    assert all("keeping its 2 records" in message for message in retries)
    assert any("reachable again" in record.getMessage() for record in caplog.records)


def test_outage_budget_raises_outage_error(outage) -> None:
    down = outage(down_for=1000)

    with pytest.raises(OutageError) as raised:
        make_sender(down, max_outage=20).put_batch(make_records(4))

    assert "unreachable for 20 s" in str(raised.value)
    assert "4 records" in str(raised.value)
    assert sum(down.delays) == pytest.approx(20)


def test_stop_during_outage_raises_at_once(outage) -> None:
    down = outage(down_for=1000)
    stop = threading.Event()
    stop.set()

    with pytest.raises(OutageError) as raised:
        make_sender(down, stop=stop).put_batch(make_records(1))

    assert "Stop requested" in str(raised.value)
    assert down.delays == []


def test_stream_lost_after_outage_names_provision(outage) -> None:
    down = outage(down_for=2, script=FirehoseScript(streams=set()))

    with pytest.raises(StreamLostError) as raised:
        make_sender(down).put_batch(make_records(1))

    message = str(raised.value)
    assert f"'{STREAM}' not found" in message
    assert "catsvdogs provision" in message
    assert "restart" in message
    assert "\n" not in message


def test_reprovision_creates_stream_and_resends(outage) -> None:
    script = FirehoseScript(streams=set())
    down = outage(down_for=2, script=script)
    calls: list[int] = []

    def reprovision() -> None:
        calls.append(1)
        script.streams.add(STREAM)

    records = make_records(5)
    result = make_sender(down, reprovision=reprovision).put_batch(records)

    assert calls == [1]
    assert result.sent == 5
    assert result.attempts == 1
    assert down.server is not None
    assert down.server.accepted == [record.data for record in records]


def test_reprovision_runs_once_per_batch(outage) -> None:
    down = outage(down_for=1, script=FirehoseScript(streams=set()))
    calls: list[int] = []

    with pytest.raises(StreamLostError):
        make_sender(down, reprovision=lambda: calls.append(1)).put_batch(make_records(1))

    assert calls == [1]


def test_reprovision_failure_raises_with_cause(outage) -> None:
    down = outage(down_for=1, script=FirehoseScript(streams=set()))

    def reprovision() -> None:
        raise RuntimeError("Deploying stack catsvdogs failed: boom")

    with pytest.raises(ReprovisionFailed) as raised:
        make_sender(down, reprovision=reprovision).put_batch(make_records(1))

    assert "provisioning it again failed" in str(raised.value)
    assert "boom" in str(raised.value)
    assert isinstance(raised.value, ProducerError)


def test_failed_health_check_ends_outage(outage) -> None:
    down = outage(down_for=1000)
    checks: list[int] = []

    def health_check() -> str | None:
        checks.append(len(down.delays))
        return "LocalStack (process 1) stopped by itself" if len(checks) > 3 else None

    with pytest.raises(DestinationFailedError, match="LocalStack"):
        make_sender(down, health_check=health_check).put_batch(make_records(4))

    # Three tries and the wait after each, instead of waiting out the 300 s budget.
    assert len(down.delays) == 3


def test_negative_max_outage_is_invalid() -> None:
    with pytest.raises(ValueError, match="max_outage"):
        FirehoseSender(object(), STREAM, max_outage=-1)


def test_unavailable_without_error_type_is_outage() -> None:
    clock = [0.0]
    delays: list[float] = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        clock[0] += seconds

    with FakeFirehose(FirehoseScript(streams={STREAM}, call_errors=[SERVICE_UNAVAILABLE] * 10)) as fake:
        client = create_firehose_client(
            region_name="us-east-1", endpoint_url=fake.endpoint_url, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        sender = FirehoseSender(client, STREAM, sleep=sleep, random=lambda: 1.0, clock=lambda: clock[0])
        result = sender.put_batch(make_records(2))

    assert result.sent == 2
    assert result.attempts == 1
    assert len(delays) == 10


def test_dropped_connection_during_outage_extends_it(outage) -> None:
    down = outage(down_for=2, script=FirehoseScript(streams={STREAM}, call_errors=[DROP_CONNECTION] * 2))

    result = make_sender(down).put_batch(make_records(1))

    assert result.sent == 1
    assert result.attempts == 1
    assert len(down.delays) == 4


def test_batch_before_outage_sent_again(outage) -> None:
    down = outage(down_for=2)
    first_server = FakeFirehose(FirehoseScript(streams={STREAM}, close_connections=True), port=down.port).__enter__()
    sender = make_sender(down)
    before, after = make_records(2), make_records(3)[2:]
    try:
        sender.put_batch(before)
    finally:
        first_server.__exit__(None, None, None)

    result = sender.put_batch(after)

    assert first_server.accepted == [record.data for record in before]
    assert down.server is not None
    assert down.server.accepted == [record.data for record in after + before]
    assert result.sent == 1
    assert result.resent == 2


def test_stream_lost_marks_last_batch_unconfirmed(outage) -> None:
    down = outage(down_for=1, script=FirehoseScript(streams=set()))
    first_server = FakeFirehose(FirehoseScript(streams={STREAM}, close_connections=True), port=down.port).__enter__()
    sender = make_sender(down)
    try:
        sender.put_batch(make_records(1))
    finally:
        first_server.__exit__(None, None, None)

    with pytest.raises(StreamLostError) as raised:
        sender.put_batch(make_records(2))

    assert raised.value.last_batch_unconfirmed is True


def test_first_batch_lost_has_nothing_unconfirmed(outage) -> None:
    down = outage(down_for=1, script=FirehoseScript(streams=set()))

    with pytest.raises(StreamLostError) as raised:
        make_sender(down).put_batch(make_records(1))

    assert raised.value.last_batch_unconfirmed is False


def test_stream_lost_during_resend_marks_unconfirmed(outage) -> None:
    lost = CallError(400, "ResourceNotFoundException", f"Firehose {STREAM} under account 000000000000 not found.")
    # The first call after the outage succeeds; the resend of the batch before it finds the stream gone.
    down = outage(down_for=1, script=FirehoseScript(streams={STREAM}, call_errors=[None, lost]))  # type: ignore[list-item]
    first_server = FakeFirehose(FirehoseScript(streams={STREAM}, close_connections=True), port=down.port).__enter__()
    sender = make_sender(down)
    try:
        sender.put_batch(make_records(1))
    finally:
        first_server.__exit__(None, None, None)

    with pytest.raises(ProducerError) as raised:
        sender.put_batch(make_records(2)[1:])

    assert raised.value.last_batch_unconfirmed is True
