"""A Firehose PutRecordBatch endpoint on 127.0.0.1 that accepts every record and keeps none.

The memory benchmark points `catsvdogs replay` at it, so the producer runs at
its own full speed and its memory is measured without the emulator's limits.
It counts the records of each call by the occurrences of the "Data" key in the
request body, which is enough for the JSON that botocore sends.
"""

from __future__ import annotations

import http.server
import json
import threading

from tests.fake_firehose import PUT_RECORD_BATCH_TARGET, NoDelayHTTPServer


class FirehoseSink:
    """Threaded HTTP server with the number of ``calls`` and ``records`` accepted; a context manager."""

    def __init__(self) -> None:
        self.calls = 0
        self.records = 0
        self._lock = threading.Lock()
        self._responses: dict[int, bytes] = {}
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.sink = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FirehoseSink:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def accept(self, body: bytes) -> bytes:
        """Count the records of one call and return the response body, built once per record count."""
        count = body.count(b'"Data"')
        with self._lock:
            self.calls += 1
            self.records += count
            response = self._responses.get(count)
            if response is None:
                entries = [{"RecordId": f"{number:056d}"} for number in range(count)]
                response = json.dumps({"FailedPutCount": 0, "Encrypted": False, "RequestResponses": entries}).encode()
                self._responses[count] = response
        return response


class _Server(NoDelayHTTPServer):
    sink: FirehoseSink


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - name fixed by http.server
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("X-Amz-Target", "") != PUT_RECORD_BATCH_TARGET:
            self._send(400, json.dumps({"__type": "UnknownOperationException", "message": "only PutRecordBatch"}).encode())
            return
        self._send(200, self.server.sink.accept(body))

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature fixed by http.server
        """Log nothing, since the benchmark makes thousands of calls."""
