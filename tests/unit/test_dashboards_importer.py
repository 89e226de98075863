"""The dashboards importer against a small fake OpenSearch Dashboards on 127.0.0.1.

The fake responds with 503 while it "starts", then serves /api/status in the 2.19
format, the saved-objects import (multipart, overwrite semantics by type and
id) and the advanced settings API, and records every request it receives.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from catsvdogs import cli
from catsvdogs.dashboards import panels
from catsvdogs.dashboards.importer import (
    DashboardsClient,
    DashboardsError,
    install_dashboards,
    landing_route,
    saved_objects,
)

VERSION = "2.19.6"
FAST_POLL = 0.01


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeDashboards:
    """State and behaviour of the fake server. Tests set the counters before the importer runs."""

    unavailable_answers: int = 0
    not_green_answers: int = 0
    import_unavailable_answers: int = 0
    import_errors: list[dict[str, Any]] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: RecordedRequest) -> tuple[int, Any]:
        with self.lock:
            self.requests.append(request)
            if self.unavailable_answers > 0:
                self.unavailable_answers -= 1
                return 503, "OpenSearch Dashboards server is not ready yet"
            if request.path == "/api/status" and request.method == "GET":
                return 200, self.status_body()
            if request.path == "/api/saved_objects/_import" and request.method == "POST":
                if self.import_unavailable_answers > 0:
                    self.import_unavailable_answers -= 1
                    return 503, "Service Unavailable"
                return self.import_objects(request)
            if request.path == "/api/opensearch-dashboards/settings" and request.method == "POST":
                return self.update_settings(request)
            return 404, {"statusCode": 404, "error": "Not Found"}

    def status_body(self) -> dict[str, Any]:
        state = "green"
        if self.not_green_answers > 0:
            self.not_green_answers -= 1
            state = "yellow"
        return {
            "name": "fake",
            "version": {"number": VERSION, "build_snapshot": False},
            "status": {"overall": {"since": "2026-01-01T00:00:00.000Z", "state": state, "title": state.title()}, "statuses": []},
        }

    def import_objects(self, request: RecordedRequest) -> tuple[int, Any]:
        if request.headers.get("osd-xsrf") != "true":
            return 400, {"statusCode": 400, "message": "Request must contain a osd-xsrf header."}
        part = multipart_file(request)
        if part is None or not part[0].endswith(".ndjson"):
            return 400, {"statusCode": 400, "message": "Invalid file extension"}
        if self.import_errors:
            return 200, {"success": False, "successCount": 0, "errors": self.import_errors}
        overwrite = request.query.get("overwrite") == ["true"]
        written, errors = 0, []
        for line in part[1].decode("utf-8").splitlines():
            saved_object = json.loads(line)
            key = (saved_object["type"], saved_object["id"])
            if key in self.objects and not overwrite:
                errors.append({"id": key[1], "type": key[0], "error": {"type": "conflict"}})
                continue
            self.objects[key] = saved_object
            written += 1
        return 200, {"success": not errors, "successCount": written, "errors": errors}

    def update_settings(self, request: RecordedRequest) -> tuple[int, Any]:
        if request.headers.get("osd-xsrf") != "true":
            return 400, {"statusCode": 400, "message": "Request must contain a osd-xsrf header."}
        self.settings.update(json.loads(request.body)["changes"])
        return 200, {"settings": {name: {"userValue": value} for name, value in self.settings.items()}}


def multipart_file(request: RecordedRequest) -> tuple[str, bytes] | None:
    """Return the filename and content of the form field 'file', or None when the body has none."""
    content_type = request.headers.get("content-type", "")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + request.body
    )
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            return part.get_filename() or "", part.get_payload(decode=True)
    return None


def make_handler(fake: FakeDashboards) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, payload = fake.handle(RecordedRequest(self.command, url.path, parse_qs(url.query), headers, body))
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _serve
        do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def fake() -> FakeDashboards:
    return FakeDashboards()


@pytest.fixture
def dashboards_url(fake: FakeDashboards) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(fake))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def requests_to(fake: FakeDashboards, path: str) -> list[RecordedRequest]:
    return [request for request in fake.requests if request.path == path]


def packaged_object_keys() -> set[tuple[str, str]]:
    lines = saved_objects().decode("utf-8").splitlines()
    return {(json.loads(line)["type"], json.loads(line)["id"]) for line in lines}


def test_importer_waits_through_503s(fake: FakeDashboards, dashboards_url: str) -> None:
    fake.unavailable_answers = 3
    fake.not_green_answers = 2

    summary = install_dashboards(DashboardsClient(dashboards_url, poll_interval=FAST_POLL), timeout=10)

    assert summary.version == VERSION
    assert len(requests_to(fake, "/api/status")) == 6
    assert [request.path for request in fake.requests[-2:]] == ["/api/saved_objects/_import", "/api/opensearch-dashboards/settings"]


def test_import_request_is_multipart_with_overwrite(fake: FakeDashboards, dashboards_url: str) -> None:
    install_dashboards(DashboardsClient(dashboards_url, poll_interval=FAST_POLL), timeout=10)

    (request,) = requests_to(fake, "/api/saved_objects/_import")
    assert request.method == "POST"
    assert request.query == {"overwrite": ["true"]}
    assert request.headers["osd-xsrf"] == "true"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    filename, content = multipart_file(request)
    assert filename.endswith(".ndjson")
    assert content == saved_objects()


def test_settings_request_sets_default_index_and_route(fake: FakeDashboards, dashboards_url: str) -> None:
    summary = install_dashboards(DashboardsClient(dashboards_url, poll_interval=FAST_POLL), timeout=10)

    (request,) = requests_to(fake, "/api/opensearch-dashboards/settings")
    assert request.headers["osd-xsrf"] == "true"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == {
        "changes": {"defaultIndex": panels.INDEX_PATTERN_ID, "defaultRoute": f"/app/dashboards#/view/{panels.DASHBOARD_ID}"}
    }
    assert summary.default_route == landing_route()


def test_importing_twice_leaves_one_copy(fake: FakeDashboards, dashboards_url: str) -> None:
    for _ in range(2):
        summary = install_dashboards(DashboardsClient(dashboards_url, poll_interval=FAST_POLL), timeout=10)
        assert summary.imported == len(packaged_object_keys())

    assert set(fake.objects) == packaged_object_keys()
    assert len(requests_to(fake, "/api/saved_objects/_import")) == 2


def test_import_retried_on_503(fake: FakeDashboards, dashboards_url: str) -> None:
    fake.import_unavailable_answers = 2

    summary = install_dashboards(DashboardsClient(dashboards_url, poll_interval=FAST_POLL), timeout=10)

    assert len(requests_to(fake, "/api/saved_objects/_import")) == 3
    assert summary.imported == len(packaged_object_keys())


def test_timeout_names_url_and_last_response(fake: FakeDashboards, dashboards_url: str) -> None:
    fake.unavailable_answers = 10**6

    with pytest.raises(DashboardsError) as raised:
        install_dashboards(DashboardsClient(dashboards_url, poll_interval=FAST_POLL), timeout=0.3)

    message = str(raised.value)
    assert dashboards_url in message
    assert "did not report ready" in message
    assert "HTTP 503" in message
    assert not requests_to(fake, "/api/saved_objects/_import")


def test_unreachable_server_times_out() -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        port = closed.server_address[1]
    url = f"http://127.0.0.1:{port}"

    with pytest.raises(DashboardsError) as raised:
        install_dashboards(DashboardsClient(url, poll_interval=FAST_POLL), timeout=0.3)

    assert url in str(raised.value)
    assert "ConnectionError" in str(raised.value)


def test_import_errors_are_reported(fake: FakeDashboards, dashboards_url: str) -> None:
    fake.import_errors = [
        {
            "id": panels.DASHBOARD_ID,
            "type": "dashboard",
            "error": {"type": "missing_references", "references": [{"type": "visualization", "id": "gone"}]},
        }
    ]

    with pytest.raises(DashboardsError) as raised:
        install_dashboards(DashboardsClient(dashboards_url, poll_interval=FAST_POLL), timeout=10)

    assert f"dashboard/{panels.DASHBOARD_ID}: missing_references (visualization/gone)" in str(raised.value)
    assert not requests_to(fake, "/api/opensearch-dashboards/settings")


def test_dashboards_command_prints_summary(
    fake: FakeDashboards, dashboards_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENSEARCH_DASHBOARDS_URL", dashboards_url + "/")
    fake.unavailable_answers = 1
    monkeypatch.setattr("catsvdogs.dashboards.importer.DEFAULT_POLL_INTERVAL", FAST_POLL)

    status = cli.main(["dashboards", "--timeout", "30"])

    output = capsys.readouterr().out
    assert status == 0
    assert f"at {dashboards_url}" in output
    assert f"{dashboards_url}{landing_route()}" in output
    assert set(fake.objects) == packaged_object_keys()


def test_dashboards_command_fails_clearly(
    fake: FakeDashboards, dashboards_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENSEARCH_DASHBOARDS_URL", dashboards_url)
    fake.unavailable_answers = 10**6

    status = cli.main(["dashboards", "--timeout", "0.2"])

    error = capsys.readouterr().err
    assert status == 1
    assert error.startswith(f"catsvdogs dashboards: OpenSearch Dashboards at {dashboards_url} did not report ready")
