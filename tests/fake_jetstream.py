"""A fake Bluesky Jetstream on 127.0.0.1: a WebSocket server that plays an event log from the client's cursor.

Jetstream replays from a connection's ``cursor``. This fake sends the events
whose ``time_us`` is at or after the cursor, the event at the cursor included,
so a resuming client receives its last events again and must drop them.
A connection without a cursor starts at the beginning of the log. Each
connection follows the next Script; when the scripts run out, a connection
sends every remaining event and then stays open and silent.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections import deque
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Request, ServerConnection, serve


@dataclass(frozen=True)
class Script:
    """What one connection does: send ``send`` events (None: all), then ``then``.

    ``then`` is one of: ``hold`` (stay open, silent), ``close`` (close frame),
    ``cut`` (send half of the next frame and drop the TCP connection),
    ``drop`` (drop the TCP connection between frames). ``reject`` rejects the
    handshake with that HTTP status instead. ``ignore_cursor`` replays from the
    start of the log whatever cursor the client sent. ``interval`` is the pause
    in seconds before each event, as on a live stream.
    """

    send: int | None = None
    then: str = "hold"
    reject: int | None = None
    ignore_cursor: bool = False
    interval: float = 0.0


def post(did: str, rkey: str, time_us: int, text: str, *, tags: tuple[str, ...] = (), extra_tags: tuple[str, ...] = (), langs: tuple[str, ...] = ("en",), created_at: str = "2026-01-02T03:04:05.678Z") -> dict[str, Any]:
    """A Jetstream commit event that creates a post; ``tags`` become #tag facets at their byte offsets in ``text``."""
    encoded = text.encode("utf-8")
    facets = []
    for tag in tags:
        start = encoded.find(f"#{tag}".encode())
        assert start >= 0, f"#{tag} is not in the text"
        facets.append(
            {
                "index": {"byteStart": start, "byteEnd": start + len(tag.encode()) + 1},
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}],
            }
        )
    record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": text, "createdAt": created_at, "langs": list(langs)}
    if facets:
        record["facets"] = facets
    if extra_tags:
        record["tags"] = list(extra_tags)
    return {
        "did": did,
        "time_us": time_us,
        "kind": "commit",
        "commit": {
            "rev": f"rev{time_us}",
            "operation": "create",
            "collection": "app.bsky.feed.post",
            "rkey": rkey,
            "record": record,
            "cid": f"cid{time_us}",
        },
    }


def delete(did: str, rkey: str, time_us: int) -> dict[str, Any]:
    return {
        "did": did,
        "time_us": time_us,
        "kind": "commit",
        "commit": {"rev": f"rev{time_us}", "operation": "delete", "collection": "app.bsky.feed.post", "rkey": rkey},
    }


def identity(did: str, time_us: int, handle: str) -> dict[str, Any]:
    return {"did": did, "time_us": time_us, "kind": "identity", "identity": {"did": did, "handle": handle, "seq": time_us, "time": "2026-01-02T03:04:05.000Z"}}


class FakeJetstream:
    """The fake server; ``events`` are dicts (sent as JSON) or strings (sent as they are)."""

    def __init__(self, events: list[dict[str, Any] | str]) -> None:
        self.events = list(events)
        self.scripts: deque[Script] = deque()
        self.requests: list[dict[str, Any]] = []
        self.sent: list[list[dict[str, Any] | str]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            compression=None,
            ping_interval=None,
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-jetstream", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/subscribe"

    def start(self) -> FakeJetstream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()

    def __enter__(self) -> FakeJetstream:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _next_script(self) -> Script:
        with self._lock:
            return self.scripts.popleft() if self.scripts else Script()

    def _process_request(self, connection: ServerConnection, request: Request):
        query = parse_qs(urlsplit(request.path).query)
        script = self._next_script()
        cursor = int(query["cursor"][0]) if "cursor" in query else None
        with self._lock:
            self.requests.append({"path": request.path, "cursor": cursor, "query": query})
        connection.fake_script = script  # type: ignore[attr-defined]
        connection.fake_cursor = cursor  # type: ignore[attr-defined]
        if script.reject is not None:
            return connection.respond(HTTPStatus(script.reject), f"fake rejection {script.reject}\n")
        return None

    def _handle(self, connection: ServerConnection) -> None:
        script: Script = connection.fake_script  # type: ignore[attr-defined]
        cursor: int | None = connection.fake_cursor  # type: ignore[attr-defined]
        pending = [event for event in self.events if cursor is None or script.ignore_cursor or self._time_us(event) >= cursor]
        count = len(pending) if script.send is None else min(script.send, len(pending))
        sent: list[dict[str, Any] | str] = []
        with self._lock:
            self.sent.append(sent)
        try:
            for event in pending[:count]:
                if script.interval and self._stopping.wait(script.interval):
                    return
                connection.send(event if isinstance(event, str) else json.dumps(event))
                sent.append(event)
            if script.then == "close":
                connection.close()
                return
            if script.then in ("cut", "drop"):
                if script.then == "cut" and count < len(pending):
                    self._send_partial_frame(connection, pending[count])
                connection.socket.shutdown(socket.SHUT_RDWR)
                connection.socket.close()
                return
            while not self._stopping.is_set():
                try:
                    connection.recv(timeout=0.1)
                except TimeoutError:
                    continue
        except (ConnectionClosed, OSError):
            return

    @staticmethod
    def _time_us(event: dict[str, Any] | str) -> int:
        if isinstance(event, str):
            try:
                return int(json.loads(event).get("time_us", 0))
            except (ValueError, AttributeError):
                return 0
        return int(event.get("time_us", 0))

    @staticmethod
    def _send_partial_frame(connection: ServerConnection, event: dict[str, Any] | str) -> None:
        payload = (event if isinstance(event, str) else json.dumps(event)).encode()
        # An unmasked text frame header announcing the whole payload, then only half of it.
        if len(payload) < 126:
            length = bytes([len(payload)])
        elif len(payload) < 65536:
            length = bytes([126]) + struct.pack("!H", len(payload))
        else:
            length = bytes([127]) + struct.pack("!Q", len(payload))
        header = b"\x81" + length
        connection.socket.sendall(header + payload[: len(payload) // 2])
