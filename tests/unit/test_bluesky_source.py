"""The Bluesky Jetstream source against fake Jetstream servers on 127.0.0.1 that cut, stall and reject on script."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from catsvdogs.records import PROVENANCE_KEY
from catsvdogs.sources.bluesky import FailoverSchedule, JetstreamConfigError, JetstreamSource, load_endpoints, subscribe_url
from catsvdogs.sources.recorded import read_file
from catsvdogs.sources.recorder import Recorder
from catsvdogs.transform.category import load_vocabulary
from tests.fake_jetstream import FakeJetstream, Script, delete, identity, post
from tests.live_helpers import RecordingSleep, SourceRun

VOCABULARY = load_vocabulary({})
START_US = 1_767_323_045_000_000
OVERLAP_SECONDS = 0.002


def event_log() -> list:
    """Twelve events one millisecond apart: six cat or dog posts, and posts and events to filter out."""
    events = []
    for index in range(8):
        time_us = START_US + index * 1000
        if index % 2 == 0:
            events.append(post(f"did:plc:user{index}", f"r{index}", time_us, f"post {index} #cats", tags=("cats",)))
        else:
            events.append(post(f"did:plc:user{index}", f"r{index}", time_us, f"post {index} #hiking", tags=("hiking",)))
    events.append(identity("did:plc:user1", START_US + 8000, "user1.bsky.social"))
    events.append(delete("did:plc:user2", "r2", START_US + 9000))
    events.append(post("did:plc:user10", "r10", START_US + 10_000, "🐶 #puppy", tags=("puppy",)))
    events.append(post("did:plc:user11", "r11", START_US + 11_000, "#dogs #cats", tags=("dogs", "cats")))
    return events


MATCHING_IDS = [f"at://did:plc:user{index}/app.bsky.feed.post/r{index}" for index in (0, 2, 4, 6, 10, 11)]


def open_source(endpoints: list[str], **options) -> tuple[JetstreamSource, RecordingSleep, threading.Event]:
    stop = threading.Event()
    sleep = RecordingSleep()
    options.setdefault("stall_timeout", 2.0)
    options.setdefault("resume_overlap", OVERLAP_SECONDS)
    source = JetstreamSource(endpoints, stop=stop, vocabulary=VOCABULARY, sleep=sleep, poll_seconds=0.05, **options)
    return source, sleep, stop


def run_until(source: JetstreamSource, stop: threading.Event, ids: list[str], timeout: float = 10.0) -> SourceRun:
    run = SourceRun(source, stop)
    run.wait_until(lambda r: len(r.ids) >= len(ids), timeout)
    # A short extra wait lets duplicates that would follow show up.
    run.wait_until(lambda r: False, 0.2)
    run.finish()
    return run


@pytest.fixture
def server():
    with FakeJetstream(event_log()) as fake:
        yield fake


def test_posts_filtered_by_vocabulary(server):
    source, _, stop = open_source([server.url])

    run = run_until(source, stop, MATCHING_IDS)

    assert run.ids == MATCHING_IDS
    assert source.stats.filtered_out == 6
    assert all(message[PROVENANCE_KEY]["source"] == "bluesky" for message in run.messages)
    query = parse_qs(urlsplit(server.requests[0]["path"]).query)
    assert query["wantedCollections"] == ["app.bsky.feed.post"]
    assert "cursor" not in query


@pytest.mark.parametrize("then", ["cut", "drop", "close"])
def test_resume_loses_and_repeats_nothing(server, then):
    server.scripts.extend([Script(send=5, then=then)])
    source, sleep, stop = open_source([server.url])

    run = run_until(source, stop, MATCHING_IDS)

    assert run.ids == MATCHING_IDS
    assert server.requests[1]["cursor"] == START_US + 4000 - int(OVERLAP_SECONDS * 1_000_000)
    assert source.stats.duplicates_dropped >= 1, "the overlap sends the last events again"
    assert sleep.waits == [], "a connection that delivered events is resumed at once"


def test_server_ignoring_cursor_sends_no_duplicates(server):
    server.scripts.extend([Script(send=7, then="cut"), Script(ignore_cursor=True, send=9, then="drop"), Script(ignore_cursor=True)])
    source, _, stop = open_source([server.url])

    run = run_until(source, stop, MATCHING_IDS)

    assert run.ids == MATCHING_IDS
    assert source.stats.posts_sent == len(MATCHING_IDS)


def test_events_sharing_time_us_survive_resume():
    # Jetstream stamps all operations of one commit with the same time_us.
    same = START_US + 5000
    events = [
        post("did:plc:a", "r1", START_US, "#cats", tags=("cats",)),
        post("did:plc:a", "r2", same, "#cats first", tags=("cats",)),
        post("did:plc:a", "r3", same, "#cats second", tags=("cats",)),
    ]
    with FakeJetstream(events) as fake:
        fake.scripts.append(Script(send=2, then="cut"))
        source, _, stop = open_source([fake.url], resume_overlap=0)

        run = run_until(source, stop, ["1", "2", "3"])

    assert [identifier.rsplit("/", 1)[1] for identifier in run.ids] == ["r1", "r2", "r3"]
    assert fake.requests[1]["cursor"] == same


def test_failover_to_next_endpoint(server):
    with FakeJetstream([]) as broken:
        broken.scripts.extend([Script(reject=503)] * 3)
        source, sleep, stop = open_source([broken.url, server.url])

        run = run_until(source, stop, MATCHING_IDS)

    assert run.ids == MATCHING_IDS
    assert len(broken.requests) == 1
    assert source.stats.failures["connect"] == 1
    assert sleep.waits == [], "the first failure moves to the next endpoint at once"


def test_backoff_doubles_after_repeated_failures(server):
    server.scripts.extend([Script(reject=503)] * 5)
    source, sleep, stop = open_source([server.url])

    run = run_until(source, stop, MATCHING_IDS)

    assert sleep.waits == [1.0, 2.0, 4.0, 8.0]
    assert run.ids == MATCHING_IDS


def test_schedule_rotates_and_caps():
    schedule = FailoverSchedule(["a", "b", "c"], backoff_start=1.0, backoff_max=30.0)

    waits = [schedule.after_failure() for _ in range(8)]

    assert waits == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert schedule.endpoint == "c"
    assert schedule.after_productive_connection() == 0.0
    assert schedule.endpoint == "c"
    assert schedule.after_failure() == 0.0


def test_stall_resumes_from_cursor(server):
    server.scripts.extend([Script(send=3, then="hold")])
    source, _, stop = open_source([server.url], stall_timeout=0.3)

    run = run_until(source, stop, MATCHING_IDS)

    assert run.ids == MATCHING_IDS
    assert source.stats.failures["stall"] == 1
    assert server.requests[1]["cursor"] == START_US + 2000 - int(OVERLAP_SECONDS * 1_000_000)


def test_invalid_messages_rejected_stream_continues():
    events = [
        "this is not JSON",
        json.dumps({"did": "did:plc:a", "kind": "commit", "time_us": START_US}),
        post("did:plc:a", "r1", START_US + 1, "#cats", tags=("cats",)),
    ]
    with FakeJetstream(events) as fake:
        source, _, stop = open_source([fake.url])

        run = run_until(source, stop, ["one"])

    assert len(run.ids) == 1
    assert run.rejections[0].startswith("invalid JSON")
    assert "'commit' is missing" in run.rejections[1]
    assert source.stats.invalid_messages == 2


def test_initial_cursor_sent(server):
    source, _, stop = open_source([server.url], cursor=START_US + 9500)

    run = run_until(source, stop, MATCHING_IDS[-2:])

    assert server.requests[0]["cursor"] == START_US + 9500
    assert run.ids == MATCHING_IDS[-2:]


def test_recording_replays_to_same_messages(server, tmp_path: Path):
    server.scripts.extend([Script(send=6, then="cut")])
    path = tmp_path / "bluesky.jsonl.gz"
    recorder = Recorder(path)
    source, _, stop = open_source([server.url], recorder=recorder)

    run = run_until(source, stop, MATCHING_IDS)
    recorder.close()
    replayed = [item.message for item in read_file(path) if hasattr(item, "message")]

    live = [{key: value for key, value in message.items() if key != PROVENANCE_KEY} for message in run.messages]
    assert recorder.lines == len(event_log())
    assert replayed == live


def test_subscribe_url_keeps_endpoint_query():
    url = subscribe_url("wss://example.test/subscribe?compress=false&cursor=5", 1234)

    query = parse_qs(urlsplit(url).query)
    assert query == {
        "compress": ["false"],
        "wantedCollections": ["app.bsky.feed.post"],
        "maxMessageSizeBytes": ["2097152"],
        "cursor": ["1234"],
    }


def test_endpoints_from_environment():
    assert load_endpoints({"BLUESKY_JETSTREAM_URLS": " ws://127.0.0.1:1/subscribe , wss://b.example/subscribe "}) == [
        "ws://127.0.0.1:1/subscribe",
        "wss://b.example/subscribe",
    ]
    assert load_endpoints({})[0].startswith("wss://jetstream")
    with pytest.raises(JetstreamConfigError, match="https://b.example"):
        load_endpoints({"BLUESKY_JETSTREAM_URLS": "https://b.example/subscribe"})
