"""A fake X API v2 filtered stream on 127.0.0.1: rules endpoints and a scripted, chunked stream endpoint.

Each stream connection plays the next script, a list of steps. The stream uses
HTTP/1.1 chunked transfer encoding with ``\\r\\n`` keep-alives, as X does. When
the scripts run out, a connection stays open and sends keep-alives until the
client leaves or the server stops.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STREAM_PATH = "/2/tweets/search/stream"
RULES_PATH = "/2/tweets/search/stream/rules"


@dataclass(frozen=True)
class Step:
    """One step of a stream connection script."""

    kind: str
    """status, line, raw, keepalive, cut, stall or end."""
    payload: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def status(code: int, body: dict | None = None, headers: dict[str, str] | None = None) -> Step:
    """Respond to the connection with an HTTP error status and a JSON body."""
    return Step("status", body or {"title": f"HTTP {code}", "detail": f"fake error {code}"}, code, headers or {})


def line(message: dict | str) -> Step:
    """Send one message followed by CR LF, in one chunk."""
    return Step("line", message)


def raw(data: bytes) -> Step:
    """Send bytes as they are, in one chunk."""
    return Step("raw", data)


def keepalive() -> Step:
    return Step("keepalive")


def cut(message: dict | str) -> Step:
    """Send the first half of a message, announce another chunk, and close the socket in its middle."""
    return Step("cut", message)


def stall(seconds: float) -> Step:
    """Send nothing for ``seconds``."""
    return Step("stall", seconds)


def end(keep_open: bool = False) -> Step:
    """End the response cleanly with the last chunk; close the connection unless ``keep_open``."""
    return Step("end", keep_open)


def tweet(tweet_id: str, text: str = "a post #cats", *, tags: tuple[str, ...] = ("cats",), rules: list | None = None) -> dict:
    """A filtered-stream message for one tweet with hashtags and a matching rule."""
    hashtags = [{"start": 0, "end": len(tag) + 1, "tag": tag} for tag in tags]
    return {
        "data": {
            "id": tweet_id,
            "text": text,
            "created_at": "2026-01-02T03:04:05.000Z",
            "lang": "en",
            "author_id": "42",
            "entities": {"hashtags": hashtags},
            "public_metrics": {"retweet_count": 1, "reply_count": 2, "like_count": 3, "quote_count": 4},
        },
        "includes": {"users": [{"id": "42", "username": "catlover"}]},
        "matching_rules": rules if rules is not None else [{"id": "1", "tag": "cats"}],
    }


def encode(message: dict | str) -> bytes:
    return (message if isinstance(message, str) else json.dumps(message)).encode("utf-8")


class FakeXServer:
    """The fake X API: ``scripts`` play in order, one per stream connection; ``rules`` contains the stream rules."""

    def __init__(self, token: str = "fake-bearer-token", keepalive_interval: float = 0.05) -> None:
        self.token = token
        self.keepalive_interval = keepalive_interval
        self.scripts: deque[list[Step]] = deque()
        self.rules: dict[str, dict[str, str]] = {}
        self.stream_requests: list[dict[str, Any]] = []
        self.rule_requests: list[tuple[str, dict | None]] = []
        self.rule_failures: deque[Step] = deque()
        """Status steps that respond to the next rules requests, one each, before the rules endpoints work again."""
        self._next_rule_id = 1000
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A client that drops its connection is part of the scripts, not an error to print.
        self._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        # A short poll interval, so stop() returns in a twentieth of a second instead of half a second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-x", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeXServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeXServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def add_rule(self, value: str, tag: str | None = None) -> str:
        with self._lock:
            rule_id = str(self._next_rule_id)
            self._next_rule_id += 1
            self.rules[rule_id] = {"id": rule_id, "value": value, **({"tag": tag} if tag is not None else {})}
            return rule_id

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                server._dispatch(self, "GET")

            def do_POST(self) -> None:
                server._dispatch(self, "POST")

        return Handler

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path, _, query = handler.path.partition("?")
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            self._send_json(handler, 401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})
            return
        if path == RULES_PATH:
            self._rules(handler, method)
        elif path == STREAM_PATH and method == "GET":
            self._stream(handler, query)
        else:
            self._send_json(handler, 404, {"title": "Not Found", "detail": path})

    @staticmethod
    def _send_json(handler: BaseHTTPRequestHandler, code: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _rules(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        with self._lock:
            failure = self.rule_failures.popleft() if self.rule_failures else None
        if failure is not None:
            length = int(handler.headers.get("Content-Length", "0"))
            handler.rfile.read(length)
            self.rule_requests.append((method, None))
            self._send_json(handler, failure.status, failure.payload, failure.headers)
            return
        if method == "GET":
            self.rule_requests.append(("GET", None))
            with self._lock:
                data = list(self.rules.values())
            body: dict[str, Any] = {"meta": {"sent": "2026-01-01T00:00:00.000Z", "result_count": len(data)}}
            if data:
                body["data"] = data
            self._send_json(handler, 200, body)
            return

        length = int(handler.headers.get("Content-Length", "0"))
        request = json.loads(handler.rfile.read(length) or b"{}")
        self.rule_requests.append(("POST", request))
        if "delete" in request:
            ids = request["delete"].get("ids", [])
            with self._lock:
                deleted = [rule_id for rule_id in ids if self.rules.pop(rule_id, None) is not None]
            summary = {"deleted": len(deleted), "not_deleted": len(ids) - len(deleted)}
            self._send_json(handler, 200, {"meta": {"sent": "2026-01-01T00:00:00.000Z", "summary": summary}})
            return

        created, errors = [], []
        for rule in request.get("add", []):
            if rule["value"].count("(") != rule["value"].count(")"):
                errors.append({"value": rule["value"], "title": "Invalid Rule", "details": ["unbalanced parentheses"]})
                continue
            if any(existing["value"] == rule["value"] for existing in self.rules.values()):
                errors.append({"value": rule["value"], "title": "DuplicateRule", "type": "https://api.x.com/2/problems/duplicate-rules"})
                continue
            rule_id = self.add_rule(rule["value"], rule.get("tag"))
            created.append(self.rules[rule_id])
        summary = {"created": len(created), "not_created": len(errors), "valid": len(created), "invalid": len(errors)}
        body = {"meta": {"sent": "2026-01-01T00:00:00.000Z", "summary": summary}}
        if created:
            body["data"] = created
        if errors:
            body["errors"] = errors
        self._send_json(handler, 200, body)

    def _stream(self, handler: BaseHTTPRequestHandler, query: str) -> None:
        with self._lock:
            script = self.scripts.popleft() if self.scripts else []
            self.stream_requests.append({"query": query, "time": time.monotonic(), "client": handler.client_address})
        if script and script[0].kind == "status":
            step = script[0]
            self._send_json(handler, step.status, step.payload, step.headers)
            return

        handler.send_response(200)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        try:
            for step in script:
                if not self._play(handler, step):
                    return
            while not self._stopping.wait(self.keepalive_interval):
                self._chunk(handler, b"\r\n")
        except (BrokenPipeError, ConnectionResetError, OSError):
            return

    def _play(self, handler: BaseHTTPRequestHandler, step: Step) -> bool:
        """Play one step; return False when the connection is over."""
        if step.kind == "line":
            self._chunk(handler, encode(step.payload) + b"\r\n")
        elif step.kind == "raw":
            self._chunk(handler, step.payload)
        elif step.kind == "keepalive":
            self._chunk(handler, b"\r\n")
        elif step.kind == "stall":
            self._stopping.wait(step.payload)
        elif step.kind == "end":
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
            handler.close_connection = not step.payload
            return False
        elif step.kind == "cut":
            data = encode(step.payload) + b"\r\n"
            half = len(data) // 2
            self._chunk(handler, data[:half])
            handler.wfile.write(f"{len(data) - half:x}\r\n".encode() + data[half : half + 5])
            handler.wfile.flush()
            handler.connection.shutdown(socket.SHUT_RDWR)
            handler.close_connection = True
            return False
        return True

    @staticmethod
    def _chunk(handler: BaseHTTPRequestHandler, data: bytes) -> None:
        handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        handler.wfile.flush()
