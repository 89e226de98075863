"""Producer tests against a fake Firehose over real HTTP, with a real boto3 client.

Covers resending failed records, backoff, giving up, fatal errors, batch limits on the
wire, the stop event, source errors, counters and the summary text.
"""

from __future__ import annotations

import logging
import random
import signal
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from catsvdogs.producer.backoff import RetryPolicy
from catsvdogs.producer.batcher import Batcher
from catsvdogs.producer.counters import Counters, Summary, format_summary, rejection_category
from catsvdogs.producer.firehose import (
    BatchResult,
    DestinationFailedError,
    FirehoseSender,
    OutageError,
    ProducerError,
    create_firehose_client,
)
from catsvdogs.producer.limits import MAX_BATCH_BYTES, MAX_RECORD_BYTES
from catsvdogs.producer.pipeline import install_stop_signals, run_producer
from catsvdogs.producer.rejection_log import log_rejection
from catsvdogs.records import Origin, OutgoingRecord, RejectedInput, SourceItem

# The fake server module sits in tests/, which pytest does not put on sys.path for tests/unit.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fake_firehose import (  # noqa: E402
    DROP_CONNECTION,
    THROTTLED,
    CallError,
    FakeFirehose,
    FirehoseScript,
)

STREAM = "test-stream"


class SleepRecorder:
    """Replacement for time.sleep that records the requested delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def fake() -> Iterator[FakeFirehose]:
    with FakeFirehose(FirehoseScript(streams={STREAM})) as server:
        yield server


def make_client(endpoint_url: str, **kwargs: Any) -> Any:
    # Dummy credentials passed here keep boto3 from searching its credential chain.
    return create_firehose_client(
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        **kwargs,
    )


def make_sender(
    fake: FakeFirehose,
    *,
    stream: str = STREAM,
    policy: RetryPolicy | None = None,
    sleep: SleepRecorder | None = None,
    jitter: float = 1.0,
    health_check: Callable[[], str | None] | None = None,
    **client_kwargs: Any,
) -> FirehoseSender:
    return FirehoseSender(
        make_client(fake.endpoint_url, **client_kwargs),
        stream,
        policy=policy,
        sleep=sleep or SleepRecorder(),
        random=lambda: jitter,
        health_check=health_check,
    )


def make_records(count: int, size: int = 0) -> list[OutgoingRecord]:
    records = []
    for line in range(1, count + 1):
        data = f'{{"id": "{line}"}}'.encode().ljust(size, b" ") + b"\n"
        records.append(OutgoingRecord(data=data, origin=Origin("tweets.jsonl", line)))
    return records


def every_third_fails_first(call_number: int, position: int, data: bytes) -> tuple[str, str] | None:
    if call_number == 0 and position % 3 == 2:
        return ("ServiceUnavailableException", "Slow down.")
    return None


# --- FirehoseSender: partial failures, throttling, backoff, giving up ---


def test_client_turns_botocore_retries_off(fake: FakeFirehose) -> None:
    client = make_client(fake.endpoint_url)

    assert client.meta.config.retries["total_max_attempts"] == 1


def test_partial_failure_resends_only_failed(fake: FakeFirehose) -> None:
    fake.script.record_failure = every_third_fails_first
    sleep = SleepRecorder()
    records = make_records(10)

    result = make_sender(fake, sleep=sleep).put_batch(records)

    assert result.sent == 10
    assert result.failed == ()
    assert result.attempts == 2
    assert result.resent == 3
    assert len(fake.calls) == 2
    assert fake.calls[0].records == [record.data for record in records]
    assert fake.calls[1].records == [records[i].data for i in (2, 5, 8)]
    assert Counter(fake.accepted) == Counter(record.data for record in records)
    assert len(sleep.delays) == 1


def test_throttled_calls_retry_whole_batch(fake: FakeFirehose) -> None:
    fake.script.call_errors = [THROTTLED] * 3
    records = make_records(7)

    result = make_sender(fake).put_batch(records)

    assert result.sent == 7
    assert result.attempts == 4
    assert result.resent == 21
    assert [call.outcome for call in fake.calls] == ["ServiceUnavailableException"] * 3 + ["accepted"]
    assert all(len(call.records) == 7 for call in fake.calls)
    assert fake.accepted == [record.data for record in records]


def test_empty_batch_makes_no_call(fake: FakeFirehose) -> None:
    result = make_sender(fake).put_batch([])

    assert result.sent == 0
    assert result.attempts == 0
    assert fake.calls == []


def test_limit_exceeded_and_server_errors_retry(fake: FakeFirehose) -> None:
    fake.script.call_errors = [
        CallError(400, "LimitExceededException", "Rate exceeded"),
        CallError(500, "InternalFailure", "Internal failure"),
        CallError(503, "SomethingNew", "Try later"),
    ]
    records = make_records(4)

    result = make_sender(fake).put_batch(records)

    assert result.sent == 4
    assert result.attempts == 4
    assert fake.accepted == [record.data for record in records]


def test_dropped_connection_is_retried(fake: FakeFirehose) -> None:
    fake.script.call_errors = [DROP_CONNECTION]
    records = make_records(3)

    result = make_sender(fake).put_batch(records)

    assert result.sent == 3
    assert result.attempts == 2
    assert fake.accepted == [record.data for record in records]


def test_read_timeout_is_retried(fake: FakeFirehose) -> None:
    fake.script.call_delays = [1.0]
    records = make_records(2)

    result = make_sender(fake, read_timeout=0.2).put_batch(records)

    assert result.sent == 2
    assert result.attempts == 2
    # The late call is still processed by the server, so Firehose may hold duplicates.
    assert set(fake.accepted) == {record.data for record in records}


def test_refused_connection_counts_as_outage_not_attempts() -> None:
    # A port that was free a moment ago: nothing listens there, so connecting fails at once.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    clock = [0.0]
    sleep = SleepRecorder()

    def sleep_and_advance(seconds: float) -> None:
        sleep(seconds)
        clock[0] += seconds

    sender = FirehoseSender(
        make_client(f"http://127.0.0.1:{port}", connect_timeout=1),
        STREAM,
        policy=RetryPolicy(max_attempts=3),
        sleep=sleep_and_advance,
        random=lambda: 1.0,
        max_outage=30,
        clock=lambda: clock[0],
    )

    with pytest.raises(OutageError) as raised:
        sender.put_batch(make_records(2))

    message = str(raised.value)
    assert "unreachable for 30 s" in message
    assert "EndpointConnectionError" in message
    assert "2 records" in message
    assert sum(sleep.delays) == pytest.approx(30)
    assert len(sleep.delays) > 3


def test_backoff_delays_grow_and_are_capped(fake: FakeFirehose) -> None:
    fake.script.call_errors = [THROTTLED] * 8
    sleep = SleepRecorder()
    policy = RetryPolicy(max_attempts=8, base_delay=0.1, max_delay=1.0)

    make_sender(fake, policy=policy, sleep=sleep, jitter=1.0).put_batch(make_records(1))

    assert sleep.delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])


def test_backoff_uses_full_jitter(fake: FakeFirehose) -> None:
    fake.script.call_errors = [THROTTLED] * 3
    sleep = SleepRecorder()

    make_sender(fake, sleep=sleep, jitter=0.5).put_batch(make_records(1))

    assert sleep.delays == pytest.approx([0.05, 0.1, 0.2])


def test_retry_policy_default_ceilings() -> None:
    policy = RetryPolicy()

    ceilings = [policy.delay_ceiling(retry) for retry in range(1, 12)]

    assert ceilings[:4] == pytest.approx([0.1, 0.2, 0.4, 0.8])
    assert ceilings[-1] == 10.0
    assert policy.max_attempts == 8
    assert policy.delay_ceiling(10_000) == 10.0


def test_retry_policy_draws_below_ceiling() -> None:
    policy = RetryPolicy()
    generator = random.Random(3)

    delays = [policy.delay(5, generator.random) for _ in range(200)]

    assert all(0.0 <= delay < 1.6 for delay in delays)
    assert len(set(delays)) > 100


def test_retry_policy_rejects_invalid_values() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(base_delay=-1)


def test_max_attempts_reports_records_failed(fake: FakeFirehose) -> None:
    fake.script.record_failure = lambda call, position, data: (
        ("ServiceUnavailableException", "Slow down.") if position == 0 else None
    )
    sleep = SleepRecorder()
    records = make_records(3)

    result = make_sender(fake, policy=RetryPolicy(max_attempts=4), sleep=sleep).put_batch(records)

    assert result.sent == 2
    assert result.attempts == 4
    assert result.resent == 3
    assert len(sleep.delays) == 3
    assert [failure.record for failure in result.failed] == [records[0]]
    assert result.failed[0].error_code == "ServiceUnavailableException"
    assert result.failed[0].error_message == "Slow down."
    rejections = result.rejections()
    assert len(rejections) == 1
    assert rejections[0].origin == records[0].origin
    assert rejections[0].reason.startswith("ServiceUnavailableException: Slow down.")
    assert "4 attempts" in rejections[0].reason


def test_missing_stream_raises_with_provision_hint(fake: FakeFirehose) -> None:
    sender = make_sender(fake, stream="no-such-stream")

    with pytest.raises(ProducerError) as raised:
        sender.put_batch(make_records(1))

    message = str(raised.value)
    assert "'no-such-stream'" in message
    assert "not found" in message
    assert "catsvdogs provision" in message
    assert "\n" not in message
    assert len(fake.calls) == 1


def test_invalid_argument_raises_without_retry(fake: FakeFirehose) -> None:
    fake.script.call_errors = [CallError(400, "InvalidArgumentException", "Records size exceeds 4 MB limit")]

    with pytest.raises(ProducerError) as raised:
        make_sender(fake).put_batch(make_records(1))

    message = str(raised.value)
    assert f"'{STREAM}'" in message
    assert "InvalidArgumentException" in message
    assert "\n" not in message
    assert len(fake.calls) == 1


def test_access_denied_raises_without_retry(fake: FakeFirehose) -> None:
    fake.script.call_errors = [CallError(400, "AccessDeniedException", "User is not authorized")]

    with pytest.raises(ProducerError) as raised:
        make_sender(fake).put_batch(make_records(1))

    assert "Access denied" in str(raised.value)
    assert f"'{STREAM}'" in str(raised.value)
    assert len(fake.calls) == 1


# --- run_producer: batching on the wire, rejections, stop, errors ---


def test_producer_delivers_each_record_once(fake: FakeFirehose) -> None:
    fake.script.record_failure = every_third_fails_first
    records = make_records(1234)

    summary = run_producer(records, make_sender(fake), stop=threading.Event())

    assert Counter(fake.accepted) == Counter(record.data for record in records)
    assert summary.read == 1234
    assert summary.sent == 1234
    assert summary.rejected == 0
    assert summary.pending == 0
    # The first call fails every third record; later calls fail none.
    assert summary.retried == 500 // 3


def test_producer_respects_batch_limits_on_wire(fake: FakeFirehose) -> None:
    # Many small records reach the 500-record limit first; the large ones reach the byte limit.
    generator = random.Random(11)
    small = [generator.choice([50, 300, 2_000, 9_000]) for _ in range(1200)]
    large = [generator.choice([300_000, 700_000, MAX_RECORD_BYTES]) for _ in range(30)]
    sizes = small[:600] + large + small[600:]
    records = [
        OutgoingRecord(data=bytes([line % 256]) * size, origin=Origin("mixed.jsonl", line))
        for line, size in enumerate(sizes, 1)
    ]
    oversize = OutgoingRecord(data=b"o" * (MAX_RECORD_BYTES + 1), origin=Origin("mixed.jsonl", 9999))
    records.insert(610, oversize)

    summary = run_producer(records, make_sender(fake), stop=threading.Event())

    assert fake.limit_violations == []
    assert all(len(call.records) <= 500 for call in fake.calls)
    assert all(sum(len(data) for data in call.records) <= MAX_BATCH_BYTES for call in fake.calls)
    assert any(len(call.records) == 500 for call in fake.calls)
    assert any(sum(len(data) for data in call.records) > MAX_BATCH_BYTES - MAX_RECORD_BYTES for call in fake.calls)
    assert oversize.data not in fake.accepted
    assert fake.accepted == [record.data for record in records if record is not oversize]
    assert summary.read == 1231
    assert summary.sent == 1230
    assert summary.rejected == 1
    assert summary.rejected_by_category == {"record too large": 1}
    assert summary.rejection_samples[0].origin == oversize.origin


def test_producer_counts_rejected_inputs(fake: FakeFirehose) -> None:
    items: list[SourceItem] = []
    for record in make_records(30):
        items.append(record)
        if record.origin.line % 10 == 0:
            items.append(RejectedInput(Origin("tweets.jsonl", record.origin.line + 1000), "invalid JSON: cut off"))

    summary = run_producer(items, make_sender(fake), stop=threading.Event())

    assert summary.read == 33
    assert summary.sent == 30
    assert summary.rejected == 3
    assert summary.read == summary.sent + summary.rejected
    assert summary.rejected_by_category == {"invalid JSON": 3}


def test_producer_reports_given_up_records(fake: FakeFirehose) -> None:
    fake.script.call_errors = [THROTTLED] * 3
    sender = make_sender(fake, policy=RetryPolicy(max_attempts=3))

    summary = run_producer(make_records(5), sender, stop=threading.Event())

    assert summary.read == 5
    assert summary.sent == 0
    assert summary.rejected == 5
    assert summary.retried == 10
    assert summary.rejected_by_category == {"ServiceUnavailableException": 5}
    assert fake.accepted == []


def test_producer_sends_partial_batch_after_wait(fake: FakeFirehose) -> None:
    records = make_records(3)
    seen_before_end: list[int] = []

    def live_source() -> Iterator[SourceItem]:
        yield from records
        # A live source that goes quiet: the three records must not wait for more.
        deadline = time.monotonic() + 5
        while len(fake.accepted) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        seen_before_end.append(len(fake.accepted))

    run_producer(live_source(), make_sender(fake), stop=threading.Event(), batcher=Batcher(max_wait=0.05))

    assert seen_before_end == [3]


def test_stop_event_flushes_records_read(fake: FakeFirehose) -> None:
    stop = threading.Event()
    records = make_records(10)

    def source() -> Iterator[SourceItem]:
        yield from records[:5]
        stop.set()
        yield from records[5:]

    summary = run_producer(source(), make_sender(fake), stop=stop)

    assert fake.accepted == [record.data for record in records[:5]]
    assert summary.read == 5
    assert summary.sent == 5
    assert summary.pending == 0


def test_stop_returns_while_source_blocks(fake: FakeFirehose) -> None:
    stop = threading.Event()
    release = threading.Event()
    records = make_records(3)

    def silent_live_source() -> Iterator[SourceItem]:
        yield from records
        release.wait(10)
        yield from make_records(2)

    # The sender exists before the timer starts: creating a boto3 client can take
    # longer than the timer on a loaded machine, and then nothing would be read.
    sender = make_sender(fake)
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    started = time.monotonic()
    try:
        summary = run_producer(silent_live_source(), sender, stop=stop, batcher=Batcher(max_wait=5))
    finally:
        release.set()
        timer.cancel()
    elapsed = time.monotonic() - started

    assert elapsed < 3
    assert summary.read == 3
    assert summary.sent == 3
    assert fake.accepted == [record.data for record in records]


def test_source_error_propagates_after_flush(fake: FakeFirehose) -> None:
    records = make_records(4)

    def broken_source() -> Iterator[SourceItem]:
        yield from records
        raise OSError("disk read failed")

    with pytest.raises(OSError, match="disk read failed"):
        run_producer(broken_source(), make_sender(fake), stop=threading.Event())

    assert fake.accepted == [record.data for record in records]


def test_producer_error_propagates_from_sender(fake: FakeFirehose) -> None:
    sender = make_sender(fake, stream="missing")

    with pytest.raises(ProducerError, match="catsvdogs provision"):
        run_producer(make_records(600), sender, stop=threading.Event())


def test_queue_bounds_read_ahead(fake: FakeFirehose) -> None:
    fake.script.call_delays = [0.01] * 40
    queue_size = 5
    max_ahead: list[int] = [0]

    def source() -> Iterator[SourceItem]:
        for index, record in enumerate(make_records(40)):
            max_ahead[0] = max(max_ahead[0], index - len(fake.accepted))
            yield record

    summary = run_producer(
        source(), make_sender(fake), queue_size=queue_size, stop=threading.Event(), batcher=Batcher(max_records=1)
    )

    assert summary.sent == 40
    # Queued items, plus one held by the reader and one being sent.
    assert max_ahead[0] <= queue_size + 2


def test_progress_callback_sees_counters(fake: FakeFirehose) -> None:
    seen: list[int] = []

    run_producer(make_records(1200), make_sender(fake), stop=threading.Event(), progress=lambda c: seen.append(c.sent))

    assert seen == sorted(seen)
    assert seen[-1] == 1200


def test_producer_logs_start_and_stop(fake: FakeFirehose, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="catsvdogs.producer")

    run_producer(make_records(3), make_sender(fake), stop=threading.Event())

    messages = [record.getMessage() for record in caplog.records]
    assert any(message.startswith(f"Producer started: stream {STREAM}") for message in messages)
    assert any(message.startswith("Producer stopped: read 3, sent 3") for message in messages)


def test_rejections_logged_with_rate_limit(fake: FakeFirehose, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="catsvdogs.producer.rejection_log")
    items = [RejectedInput(Origin("bad.jsonl", line), f"invalid JSON: line {line}") for line in range(1, 2501)]

    summary = run_producer(items, make_sender(fake), stop=threading.Event())

    lines = [record.getMessage() for record in caplog.records]
    assert summary.rejected == 2500
    assert len(lines) == 22
    assert lines[0] == "Rejected bad.jsonl:1: invalid JSON: line 1"
    assert "logged once every 1000" in lines[19]
    assert lines[20].startswith("Rejected bad.jsonl:1000:")
    assert lines[21].startswith("Rejected bad.jsonl:2000:")


# --- counters, summary text, rejection log, signals ---


def test_counters_snapshot_keeps_invariant() -> None:
    counters = Counters(sample_limit=2)
    counters.add_read(10)
    counters.add_sent(6)
    counters.add_retried(4)
    for line in (1, 2, 3):
        counters.add_rejected(RejectedInput(Origin("a.jsonl", line), "invalid JSON: x"))

    summary = counters.snapshot()

    assert summary.read == 10
    assert summary.sent == 6
    assert summary.rejected == 3
    assert summary.pending == 1
    assert summary.retried == 4
    assert len(summary.rejection_samples) == 2


def test_counters_keep_samples_per_category() -> None:
    counters = Counters(sample_limit=2)
    counters.add_read(4)
    for line in (1, 2, 3):
        counters.add_rejected(RejectedInput(Origin("a.jsonl", line), "invalid JSON: x"))
    counters.add_rejected(RejectedInput(Origin("a.jsonl", 4), "record too large: y"))

    summary = counters.snapshot()
    text = format_summary(summary)

    assert len(summary.rejection_samples) == 3
    assert summary.rejection_samples[-1].origin == Origin("a.jsonl", 4)
    assert "at a.jsonl:4" in text


def test_counters_are_thread_safe() -> None:
    counters = Counters()

    def work() -> None:
        for _ in range(10_000):
            counters.add_read()
            counters.add_sent(1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert counters.snapshot().read == 40_000
    assert counters.snapshot().sent == 40_000


def test_summary_rejects_inconsistent_counts() -> None:
    with pytest.raises(ValueError, match="inconsistent"):
        Summary(
            read=1,
            sent=2,
            rejected=0,
            pending=-1,
            retried=0,
            elapsed_seconds=1,
            rejected_by_category={},
            rejection_samples=(),
        )
    with pytest.raises(ValueError, match="inconsistent"):
        Summary(
            read=5,
            sent=2,
            rejected=0,
            pending=0,
            retried=0,
            elapsed_seconds=1,
            rejected_by_category={},
            rejection_samples=(),
        )


def test_rejection_category_is_text_before_colon() -> None:
    assert rejection_category("invalid JSON: Expecting value") == "invalid JSON"
    assert rejection_category("empty line") == "empty line"
    assert rejection_category(": odd") == ": odd"


def test_format_summary_groups_rejections() -> None:
    counters = Counters(clock=iter([0.0, 4.0]).__next__)
    counters.add_read(110)
    counters.add_sent(100)
    for line in range(1, 9):
        counters.add_rejected(RejectedInput(Origin("t.jsonl", line), f"invalid JSON: error {line}"))
    counters.add_rejected(RejectedInput(Origin("t.jsonl", 50), "record too large: t.jsonl:50 has 2,000,000 bytes"))
    counters.add_rejected(RejectedInput(Origin("stream", 0), "record too large: stream has 1,500,000 bytes"))

    text = format_summary(counters.snapshot(), stream_name="tweets", max_origins=3)

    lines = text.splitlines()
    assert lines[0] == "Sent 100 of 110 records read to Firehose delivery stream 'tweets' in 4.0 s (25.0 records/s)."
    assert "  rejected: 10" in lines
    assert "  pending:  0" in lines
    assert "  8 x invalid JSON" in lines
    assert "      first: invalid JSON: error 1" in lines
    assert "      at t.jsonl:1, t.jsonl:2, t.jsonl:3 and 5 more" in lines
    assert "  2 x record too large" in lines
    assert "      at t.jsonl:50, stream" in lines
    assert lines.index("  8 x invalid JSON") < lines.index("  2 x record too large")


def test_summary_suggests_reindex_after_resends() -> None:
    counters = Counters()
    counters.add_read(3)
    counters.add_sent(3)
    quiet = format_summary(counters.snapshot())
    counters.add_retried(2)

    text = format_summary(counters.snapshot())

    assert "catsvdogs reindex" not in quiet
    assert "  retried:  2 record resends" in text
    assert "'catsvdogs reindex' removes duplicate documents" in text


def test_log_rejection_first_twenty_then_every_thousand(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    rejection = RejectedInput(Origin("x.jsonl", 1), "empty line")

    logged = [count for count in range(1, 3001) if log_rejection(rejection, count)]

    assert logged == list(range(1, 21)) + [1000, 2000, 3000]
    assert len(caplog.records) == 23


def test_stop_signals_set_event_then_force_quit() -> None:
    stop = threading.Event()
    previous = signal.getsignal(signal.SIGINT)
    restore = install_stop_signals(stop)
    try:
        signal.raise_signal(signal.SIGINT)
        assert stop.is_set()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    finally:
        restore()

    assert signal.getsignal(signal.SIGINT) is previous


def test_sigterm_sets_stop_event() -> None:
    stop = threading.Event()
    restore = install_stop_signals(stop)
    try:
        signal.raise_signal(signal.SIGTERM)
        assert stop.is_set()
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        restore()


class SlowFirstCallSender:
    """Sender that records when each batch arrives and its size, and delays the first call."""

    stream_name = STREAM

    def __init__(self, first_call_seconds: float) -> None:
        self.first_call_seconds = first_call_seconds
        self.calls: list[tuple[float, int]] = []

    def put_batch(self, records: Any) -> BatchResult:
        self.calls.append((time.monotonic(), len(records)))
        if len(self.calls) == 1:
            time.sleep(self.first_call_seconds)
        return BatchResult(batch_id=len(self.calls), sent=len(records), resent=0, attempts=1, failed=())


def test_records_queued_during_call_leave_together() -> None:
    first_call_seconds = 1.5
    sender = SlowFirstCallSender(first_call_seconds)
    records = make_records(6)

    def source() -> Iterator[SourceItem]:
        yield replace(records[0], read_at=time.monotonic())
        while not sender.calls:
            time.sleep(0.01)
        # These records wait in the queue while the first call runs.
        for record in records[1:]:
            yield replace(record, read_at=time.monotonic())
        deadline = time.monotonic() + 10
        while len(sender.calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)

    run_producer(source(), sender, stop=threading.Event(), batcher=Batcher(max_wait=1.0))

    assert [size for _, size in sender.calls] == [1, 5]
    first_call_end = sender.calls[0][0] + first_call_seconds
    # They waited longer than max_wait already, so no second wait of up to 1 s follows the call.
    assert sender.calls[1][0] - first_call_end < 0.6


def test_failed_health_check_stops_sending(fake: FakeFirehose) -> None:
    checks: list[int] = []

    def health_check() -> str | None:
        checks.append(len(fake.accepted))
        return "search server stopped" if len(checks) > 1 else None

    with pytest.raises(DestinationFailedError, match="search server stopped") as raised:
        run_producer(make_records(1200), make_sender(fake, health_check=health_check), stop=threading.Event())

    assert len(fake.accepted) == 500
    summary = raised.value.summary
    assert summary is not None
    assert summary.sent == 500
    assert summary.pending == summary.read - 500


def test_failed_health_check_ends_retries(fake: FakeFirehose) -> None:
    fake.script.record_failure = lambda call, position, data: ("ServiceUnavailableException", "Slow down.")
    problems = iter([None, None, "search server stopped"])
    sleep = SleepRecorder()
    sender = make_sender(fake, sleep=sleep, health_check=lambda: next(problems))

    with pytest.raises(DestinationFailedError, match="search server stopped"):
        sender.put_batch(make_records(4))

    # Two calls and the wait after each, then the check before the third call ends the batch.
    assert len(fake.calls) == 2
    assert len(sleep.delays) == 2
