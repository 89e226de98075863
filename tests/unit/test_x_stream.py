"""The X filtered-stream source against a fake X server on 127.0.0.1 that misbehaves on script."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest

from catsvdogs.records import OutgoingRecord
from catsvdogs.sources.recorder import Recorder
from catsvdogs.sources.x_client import CredentialsError, XApiClient, XApiError, load_bearer_token, stream_parameters
from catsvdogs.sources.x_rules import Rule, configured_rules, sync_rules
from catsvdogs.sources.x_stream import ReconnectSchedule, XStream, XStreamError
from tests.fake_x_stream import FakeXServer, cut, end, keepalive, line, raw, stall, status, tweet
from tests.live_helpers import RecordingSleep, SourceRun

TOKEN = "AAAAfake-bearer-token-0123456789secret"


@pytest.fixture
def server():
    with FakeXServer(token=TOKEN) as fake:
        yield fake


def open_stream(server: FakeXServer, token: str = TOKEN, **options) -> tuple[XStream, RecordingSleep, threading.Event]:
    stop = threading.Event()
    sleep = RecordingSleep()
    client = XApiClient(token, api_url=server.url)
    options.setdefault("stall_timeout", 2.0)
    source = XStream(client, stop=stop, params=stream_parameters(), sleep=sleep, **options)
    return source, sleep, stop


def run_until_ids(source: XStream, stop: threading.Event, count: int) -> SourceRun:
    run = SourceRun(source, stop)
    run.wait_until(lambda r: len(r.ids) >= count)
    run.finish()
    return run


def test_stream_requests_fields_and_expansions(server):
    server.scripts.append([line(tweet("1"))])
    source, _, stop = open_stream(server)

    run = run_until_ids(source, stop, 1)

    query = server.stream_requests[0]["query"]
    assert "tweet.fields=created_at%2Clang%2Cauthor_id%2Cpublic_metrics%2Centities" in query
    assert "expansions=author_id" in query
    assert "user.fields=username" in query
    assert run.ids == ["1"]


def test_records_carry_live_provenance(server):
    server.scripts.append([keepalive(), line(tweet("7")), keepalive()])
    source, _, stop = open_stream(server)

    run = run_until_ids(source, stop, 1)

    message = run.messages[0]
    assert message["__catsvdogs"]["source"] == "x"
    assert message["__catsvdogs"]["read_at"].endswith("Z")
    assert message["includes"]["users"][0]["username"] == "catlover"
    assert all(isinstance(item, OutgoingRecord) and item.data.endswith(b"\n") for item in run.items)
    assert source.stats.keep_alives >= 2


def test_cut_mid_message_loses_and_repeats_nothing(server):
    # The second connection repeats tweets 1 and 2, as a backfill would.
    server.scripts.extend(
        [
            [line(tweet("1")), line(tweet("2")), cut(tweet("3"))],
            [line(tweet("1")), line(tweet("2")), line(tweet("3")), line(tweet("4"))],
        ]
    )
    source, sleep, stop = open_stream(server)

    run = run_until_ids(source, stop, 4)

    assert run.ids == ["1", "2", "3", "4"]
    assert source.stats.duplicates_dropped == 2
    assert source.stats.failures["cut"] == 1
    assert sleep.waits == [], "a connection that delivered posts is reconnected at once"


def test_http_error_backoff_doubles_from_five_seconds(server):
    server.scripts.extend([[status(503)], [status(500)], [status(502)], [line(tweet("1"))]])
    source, sleep, stop = open_stream(server)

    run = run_until_ids(source, stop, 1)

    assert sleep.waits == [5.0, 10.0, 20.0]
    assert run.ids == ["1"]


def test_rate_limit_backoff_starts_at_one_minute(server):
    server.scripts.extend([[status(429)], [status(429)], [status(429)], [line(tweet("1"))]])
    source, sleep, stop = open_stream(server)

    run = run_until_ids(source, stop, 1)

    assert sleep.waits == [60.0, 120.0, 240.0]
    assert source.stats.failures["HTTP 429"] == 3
    assert run.ids == ["1"]


def test_rate_limit_waits_for_reset_header(server):
    server.scripts.extend([[status(429, headers={"x-rate-limit-reset": "1000300"})], [line(tweet("1"))]])
    source, sleep, stop = open_stream(server, wall_clock=lambda: 1_000_000.0)

    run_until_ids(source, stop, 1)

    assert sleep.waits == [300.0]


def test_network_backoff_is_linear(server):
    # Connections that end before a post count as network errors.
    server.scripts.extend([[end()], [keepalive(), end()], [cut(tweet("9"))], [end()], [line(tweet("1"))]])
    source, sleep, stop = open_stream(server)

    run = run_until_ids(source, stop, 1)

    # The source may reconnect once more between post "1" and the stop request,
    # so only the waits before that post are fixed.
    assert sleep.waits[:4] == [0.25, 0.5, 0.75, 1.0]
    assert run.ids == ["1"]


def test_schedule_caps_each_backoff():
    schedule = ReconnectSchedule()

    network = [schedule.after_network_error() for _ in range(80)]
    http = [schedule.after_http_error() for _ in range(10)]
    rate_limited = [schedule.after_rate_limit() for _ in range(8)]

    assert network[:3] == [0.25, 0.5, 0.75]
    assert max(network) == 16.0
    assert http == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 320.0, 320.0, 320.0]
    assert rate_limited == [60.0, 120.0, 240.0, 480.0, 960.0, 960.0, 960.0, 960.0]
    assert schedule.after_productive_connection() == 0.0
    assert schedule.after_network_error() == 0.25


def test_connection_refused_is_network_error():
    stop = threading.Event()
    sleep = RecordingSleep()
    with FakeXServer(token=TOKEN) as fake:
        url = fake.url
    client = XApiClient(TOKEN, api_url=url)
    source = XStream(client, stop=stop, params=stream_parameters(), sleep=sleep, connect_timeout=1)

    run = SourceRun(source, stop)
    run.wait_until(lambda r: len(sleep.waits) >= 3)
    run.finish()

    assert sleep.waits[:3] == [0.25, 0.5, 0.75]
    assert source.stats.failures["network"] >= 3


def test_stall_triggers_reconnect(server):
    server.keepalive_interval = 5.0
    server.scripts.extend([[line(tweet("1")), stall(5)], [line(tweet("2"))]])
    source, _, stop = open_stream(server, stall_timeout=0.3)

    run = run_until_ids(source, stop, 2)

    assert run.ids == ["1", "2"]
    assert source.stats.failures["stall"] == 1


def test_error_only_message_counted_and_rejected(server):
    disconnect = {"errors": [{"title": "operational-disconnect", "disconnect_type": "UpstreamOperationalDisconnect", "detail": "This stream has been disconnected upstream for operational reasons.", "type": "https://api.twitter.com/2/problems/operational-disconnect"}]}
    server.scripts.extend([[line(tweet("1")), line(disconnect), end()], [line(tweet("2"))]])
    source, sleep, stop = open_stream(server)

    run = run_until_ids(source, stop, 2)

    assert run.ids == ["1", "2"]
    assert source.stats.error_messages["operational-disconnect"] == 1
    assert len(run.rejections) == 1
    assert run.rejections[0].startswith("stream error message, no tweet: operational-disconnect")
    assert sleep.waits == []


def test_new_connection_after_clean_end(server):
    # A connection returned to the pool may be closed by the server just as
    # the next request goes out on it, which fails with no response.
    server.scripts.extend([[line(tweet("1")), end(keep_open=True)], [line(tweet("2"))]])
    source, sleep, stop = open_stream(server)

    run = run_until_ids(source, stop, 2)

    assert run.ids == ["1", "2"]
    first, second = (request["client"] for request in server.stream_requests[:2])
    assert first != second
    assert sleep.waits == []


def test_matching_rules_without_tag_accepted(server):
    untagged = tweet("1", rules=[{"id": 1}, {"id": "2", "tag": None}])
    server.scripts.append([line(untagged)])
    source, _, stop = open_stream(server)

    run = run_until_ids(source, stop, 1)

    assert run.messages[0]["matching_rules"] == [{"id": 1}, {"id": "2", "tag": None}]


def test_invalid_line_rejected_and_stream_continues(server):
    server.scripts.append([raw(b"{not json\r\n"), raw(b'{"data": {"id": "8"}}\r\n'), line(tweet("1"))])
    source, _, stop = open_stream(server)

    run = run_until_ids(source, stop, 1)

    assert run.ids == ["1"]
    assert run.rejections[0].startswith("invalid JSON")
    assert "data.text" in run.rejections[1]


def test_message_split_across_chunks_joined(server):
    data = json.dumps(tweet("1")).encode() + b"\r\n"
    server.scripts.append([raw(data[:10]), raw(data[10:40]), raw(data[40:]), line(tweet("2"))])
    source, _, stop = open_stream(server)

    run = run_until_ids(source, stop, 2)

    assert run.ids == ["1", "2"]


def test_unauthorized_stops_with_advice(server, caplog):
    caplog.set_level(logging.DEBUG)
    source, sleep, stop = open_stream(server, token="wrong-token")

    run = SourceRun(source, stop)
    run.wait_until(lambda r: r.finished)
    run.finish()

    assert isinstance(run.error, XStreamError)
    message = str(run.error)
    assert "HTTP 401" in message
    assert "X_BEARER_TOKEN" in message
    assert sleep.waits == [], "a rejected token is not retried"
    assert "wrong-token" not in caplog.text
    assert "wrong-token" not in message


def test_forbidden_names_plan_requirement(server):
    body = {"title": "Client Forbidden", "detail": "This request must be made using an approved developer account that is enrolled in the requested endpoint.", "reason": "client-not-enrolled"}
    server.scripts.append([status(403, body)])
    source, sleep, stop = open_stream(server)

    run = SourceRun(source, stop)
    run.wait_until(lambda r: r.finished)
    run.finish()

    message = str(run.error)
    assert "HTTP 403" in message
    assert "client-not-enrolled" in message
    assert "project" in message
    assert sleep.waits == []


def test_token_never_logged(server, caplog):
    caplog.set_level(logging.DEBUG)
    echo = {"title": "Too Many Requests", "detail": f"token {TOKEN} is rate limited"}
    server.scripts.extend([[status(429, echo)], [line(tweet("1")), cut(tweet("2"))], [line(tweet("2"))]])
    source, _, stop = open_stream(server)
    client = source.client

    sync_rules(client, [Rule("#cats", "cats")])
    run_until_ids(source, stop, 2)
    with pytest.raises(XApiError) as rejected:
        XApiClient("bad-token", api_url=server.url).get_rules()

    assert caplog.records, "the run logged nothing, so the check below proves nothing"
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(client)
    assert "bad-token" not in str(rejected.value)


def test_recording_holds_messages_as_received(server, tmp_path: Path):
    error = {"errors": [{"title": "operational-disconnect", "detail": "bye"}]}
    first = json.dumps(tweet("1"), indent=None)
    server.scripts.extend([[raw(first.encode() + b"\r\n"), keepalive(), line(error), cut(tweet("2"))], [raw(first.encode() + b"\r\n"), line(tweet("2"))]])
    recorder = Recorder(tmp_path / "x.jsonl")
    source, _, stop = open_stream(server, recorder=recorder)

    run_until_ids(source, stop, 2)
    recorder.close()

    lines = (tmp_path / "x.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines[0] == first
    assert json.loads(lines[1]) == error
    assert json.loads(lines[2]) == tweet("2")
    assert len(lines) == 3, "a post sent again is not recorded again"


def test_bearer_token_from_environment_or_file(tmp_path: Path):
    token_file = tmp_path / "token"
    token_file.write_text(f"{TOKEN}\n", encoding="utf-8")

    assert load_bearer_token({"X_BEARER_TOKEN": f" {TOKEN} "}) == TOKEN
    assert load_bearer_token({"X_BEARER_TOKEN_FILE": str(token_file)}) == TOKEN


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"X_BEARER_TOKEN": TOKEN, "X_BEARER_TOKEN_FILE": "/nonexistent"},
        {"X_BEARER_TOKEN_FILE": "/nonexistent/token"},
        {"X_BEARER_TOKEN": f"{TOKEN} with spaces"},
        {"X_BEARER_TOKEN": f"{TOKEN}\u00e9"},
    ],
)
def test_bearer_token_errors_hide_value(environ):
    with pytest.raises(CredentialsError) as raised:
        load_bearer_token(environ)

    assert TOKEN not in str(raised.value)
    assert "X_BEARER_TOKEN" in str(raised.value)


def test_rules_default_to_vocabulary_hashtags():
    rules = configured_rules(("cat", "kitten"), ("dog",), {})

    assert rules == [Rule("(#cat OR #kitten) -is:retweet", "cats"), Rule("(#dog) -is:retweet", "dogs")]


def test_tweepy_filter_uses_configured_host(server):
    received: list[bytes] = []

    class Collector(XApiClient):
        def on_data(self, raw_data):
            received.append(raw_data)
            self.disconnect()

    server.scripts.append([line(tweet("1"))])
    client = Collector(TOKEN, api_url=server.url)

    client.filter(tweet_fields=["created_at"])

    assert [json.loads(data)["data"]["id"] for data in received] == ["1"]
    assert "tweet.fields=created_at" in server.stream_requests[0]["query"]


def test_endless_line_drops_connection(server):
    server.scripts.extend([[raw(b"x" * 5000)], [line(tweet("1"))]])
    source, sleep, stop = open_stream(server, max_message_bytes=1000)

    run = run_until_ids(source, stop, 1)

    assert run.ids == ["1"]
    assert source.stats.invalid_messages == 1
    assert sleep.waits == [0.25]
