"""A scripted Firehose PutRecordBatch endpoint on 127.0.0.1 for tests that use a real boto3 client.

It speaks the AWS JSON 1.1 protocol of Firehose_20150804.PutRecordBatch. A test chooses
which records fail, which calls get an error response, and which calls drop the
connection; the server records every call and every record it accepted.
"""

from __future__ import annotations

import base64
import http.server
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PUT_RECORD_BATCH_TARGET = "Firehose_20150804.PutRecordBatch"

# Limits that AWS enforces on one PutRecordBatch call, checked here so a test
# fails if the producer ever sends a call that real Firehose would reject.
AWS_MAX_BATCH_RECORDS = 500
AWS_MAX_BATCH_BYTES = 4 * 1024 * 1024
AWS_MAX_RECORD_BYTES = 1_024_000


@dataclass(frozen=True)
class CallError:
    """Error response for a whole call: HTTP status, ``__type`` code and message."""

    status: int
    code: str
    message: str


THROTTLED = CallError(400, "ServiceUnavailableException", "Slow down.")
DROP_CONNECTION = CallError(0, "", "")
"""Close the connection without a response, which botocore raises as ConnectionClosedError."""
SERVICE_UNAVAILABLE = CallError(503, "", "")
"""A 503 with an empty body and no AWS error type, as LocalStack 4.14 sends while it shuts down."""

RecordFailure = Callable[[int, int, bytes], tuple[str, str] | None]
"""Given the call number (0-based), the record's position in the call and its data,
return (ErrorCode, ErrorMessage) to fail that record, or None to accept it."""


@dataclass
class Call:
    """One PutRecordBatch request as received."""

    stream_name: str
    records: list[bytes]
    outcome: str
    """"accepted" (possibly with failed records), "dropped", or the error code of the whole call."""


@dataclass
class FirehoseScript:
    """Responses the fake sends; tests may change them between calls."""

    streams: set[str] = field(default_factory=lambda: {"test-stream"})
    call_errors: list[CallError] = field(default_factory=list)
    """Error responses for the next calls, used up one per call before any record is checked."""
    record_failure: RecordFailure | None = None
    call_delays: list[float] = field(default_factory=list)
    """Seconds to wait before responding to the next calls, used up one per call, to provoke read timeouts."""
    close_connections: bool = False
    """Close each connection after its response, so that a client's next call needs a new connection."""


class FakeFirehose:
    """Threaded HTTP server with the recorded ``calls`` and ``accepted`` records, usable as a context manager."""

    def __init__(self, script: FirehoseScript | None = None, port: int = 0) -> None:
        self.script = script or FirehoseScript()
        self.calls: list[Call] = []
        self.accepted: list[bytes] = []
        self.limit_violations: list[str] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-firehose",
            daemon=True,
        )

    @property
    def endpoint_url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def __enter__(self) -> FakeFirehose:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def take_call_delay(self) -> float:
        with self._lock:
            return self.script.call_delays.pop(0) if self.script.call_delays else 0.0

    def handle_put_record_batch(self, body: dict[str, Any]) -> CallError | dict[str, Any]:
        """Record one call and return its error or its response body."""
        stream_name = body.get("DeliveryStreamName", "")
        records = [base64.b64decode(entry["Data"]) for entry in body.get("Records", [])]
        with self._lock:
            call_number = len(self.calls)
            call = Call(stream_name=stream_name, records=records, outcome="accepted")
            self.calls.append(call)

            error = self._call_error(stream_name, records)
            if error is not None:
                call.outcome = error.code or "dropped"
                return error
            return self._respond_to_records(call_number, records)

    def _call_error(self, stream_name: str, records: list[bytes]) -> CallError | None:
        if self.script.call_errors:
            return self.script.call_errors.pop(0)
        if stream_name not in self.script.streams:
            return CallError(
                400,
                "ResourceNotFoundException",
                f"Firehose {stream_name} under account 000000000000 not found.",
            )
        return self._check_limits(records)

    def _check_limits(self, records: list[bytes]) -> CallError | None:
        problems = []
        if len(records) > AWS_MAX_BATCH_RECORDS:
            problems.append(f"{len(records)} records, over {AWS_MAX_BATCH_RECORDS}")
        total = sum(len(data) for data in records)
        if total > AWS_MAX_BATCH_BYTES:
            problems.append(f"{total} bytes, over {AWS_MAX_BATCH_BYTES}")
        largest = max((len(data) for data in records), default=0)
        if largest > AWS_MAX_RECORD_BYTES:
            problems.append(f"a record of {largest} bytes, over {AWS_MAX_RECORD_BYTES}")
        if not problems:
            return None

        message = "PutRecordBatch over the AWS limits: " + ", ".join(problems)
        self.limit_violations.append(message)
        return CallError(400, "InvalidArgumentException", message)

    def _respond_to_records(self, call_number: int, records: list[bytes]) -> dict[str, Any]:
        responses: list[dict[str, str]] = []
        failed = 0
        for position, data in enumerate(records):
            failure = None
            if self.script.record_failure is not None:
                failure = self.script.record_failure(call_number, position, data)
            if failure is None:
                self.accepted.append(data)
                responses.append({"RecordId": uuid.uuid4().hex})
            else:
                failed += 1
                responses.append({"ErrorCode": failure[0], "ErrorMessage": failure[1]})
        return {"FailedPutCount": failed, "Encrypted": False, "RequestResponses": responses}


class NoDelayHTTPServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server whose connections send each write at once; the benchmarks' Firehose sink uses it too."""

    daemon_threads = True

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        # Without TCP_NODELAY, http.server's separate header and body writes meet the
        # client's delayed ACK (Nagle's algorithm), and each response stalls about 40 ms.
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


class _Server(NoDelayHTTPServer):
    fake: FakeFirehose


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - name fixed by http.server
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        target = self.headers.get("X-Amz-Target", "")
        if target != PUT_RECORD_BATCH_TARGET:
            self._send_json(400, {"__type": "UnknownOperationException", "message": f"unsupported target {target}"})
            return

        fake = self.server.fake
        delay = fake.take_call_delay()
        if delay:
            time.sleep(delay)
        response = fake.handle_put_record_batch(json.loads(body))
        if response is DROP_CONNECTION:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if isinstance(response, CallError) and not response.code:
            self.send_response(response.status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if isinstance(response, CallError):
            self._send_json(response.status, {"__type": response.code, "message": response.message})
            return
        self._send_json(200, response)
        if fake.script.close_connections:
            self.close_connection = True

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by http.server
        """Keep test output quiet; the calls are recorded in FakeFirehose.calls."""
