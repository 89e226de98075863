"""Filtered-stream rule sync through tweepy against the fake X server: the diff, idempotence and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catsvdogs.sources.x_client import XApiClient, XApiError
from catsvdogs.sources.x_rules import (
    ExistingRule,
    Rule,
    RulesError,
    configured_rules,
    diff_rules,
    sync_rules,
    sync_rules_with_retries,
)
from tests.fake_x_stream import FakeXServer, status
from tests.live_helpers import RecordingSleep

TOKEN = "fake-rules-token"
CATS = Rule("(#cat OR #cats) -is:retweet", "cats")
DOGS = Rule("(#dog OR #dogs) -is:retweet", "dogs")


@pytest.fixture
def server():
    with FakeXServer(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def client(server):
    return XApiClient(TOKEN, api_url=server.url)


def current_rules(server: FakeXServer) -> set[Rule]:
    return {Rule(rule["value"], rule.get("tag")) for rule in server.rules.values()}


def test_diff_keeps_deletes_and_adds():
    existing = [
        ExistingRule("1", CATS),
        ExistingRule("2", Rule("#hamster", "hamsters")),
        ExistingRule("3", Rule(DOGS.value, "puppies")),
        ExistingRule("4", CATS),
    ]

    diff = diff_rules(existing, [CATS, DOGS])

    assert [item.id for item in diff.keep] == ["1"]
    assert [item.id for item in diff.delete] == ["2", "3", "4"]
    assert diff.add == (DOGS,)


def test_sync_changes_only_what_differs(server, client):
    kept = server.add_rule(CATS.value, CATS.tag)
    stale = server.add_rule("#hamster", "hamsters")

    diff = sync_rules(client, [CATS, DOGS])

    assert [item.id for item in diff.keep] == [kept]
    assert [item.id for item in diff.delete] == [stale]
    assert diff.add == (DOGS,)
    assert current_rules(server) == {CATS, DOGS}
    assert kept in server.rules, "a rule that is already there is left alone"


def test_second_sync_changes_nothing(server, client):
    sync_rules(client, [CATS, DOGS])
    requests_before = len(server.rule_requests)

    diff = sync_rules(client, [CATS, DOGS])

    assert not diff.changes
    assert server.rule_requests[requests_before:] == [("GET", None)]


def test_dry_run_prints_diff_without_changes(server, client):
    server.add_rule("#hamster", "hamsters")

    diff = sync_rules(client, [CATS], dry_run=True)
    text = diff.describe()

    assert current_rules(server) == {Rule("#hamster", "hamsters")}
    assert all(method == "GET" for method, _ in server.rule_requests)
    assert "0 kept, 1 to delete, 1 to add" in text
    assert "  - '#hamster' tag 'hamsters'" in text
    assert f"  + {CATS.value!r} tag 'cats'" in text


def test_rule_without_tag_read_and_kept(server, client):
    server.add_rule("#cats")

    diff = sync_rules(client, [Rule("#cats")])

    assert not diff.changes
    assert diff.keep[0].rule == Rule("#cats", None)


def test_rejected_rule_raises(server, client):
    with pytest.raises(XApiError, match="adding filtered-stream rules failed: Invalid Rule"):
        sync_rules(client, [Rule("(#cats", "cats")])


def test_sync_retries_transient_errors(server, client):
    server.rule_failures.extend([status(503), status(429), status(500)])
    sleep = RecordingSleep()

    diff = sync_rules_with_retries(client, [CATS, DOGS], sleep=sleep)

    assert sleep.waits == [5.0, 60.0, 10.0]
    assert diff.add == (CATS, DOGS)
    assert current_rules(server) == {CATS, DOGS}


def test_sync_gives_up_after_attempts(server, client):
    server.rule_failures.extend([status(503)] * 3)
    sleep = RecordingSleep()

    with pytest.raises(XApiError, match="HTTP 503"):
        sync_rules_with_retries(client, [CATS], attempts=3, sleep=sleep)

    assert sleep.waits == [5.0, 10.0]


def test_sync_does_not_retry_forbidden(server, client):
    server.rule_failures.append(status(403, {"title": "Client Forbidden", "reason": "client-not-enrolled"}))
    sleep = RecordingSleep()

    with pytest.raises(XApiError, match="HTTP 403"):
        sync_rules_with_retries(client, [CATS], sleep=sleep)

    assert sleep.waits == []


def test_bad_token_explains_fix(server):
    with pytest.raises(XApiError) as raised:
        sync_rules(XApiClient("not-the-token", api_url=server.url), [CATS])

    assert raised.value.status == 401
    assert "X_BEARER_TOKEN" in str(raised.value)


def test_rules_file_replaces_defaults(tmp_path: Path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps([{"value": "#meow lang:en", "tag": "cats"}, {"value": "#woof"}]), encoding="utf-8")

    rules = configured_rules(("cat",), ("dog",), {"X_STREAM_RULES_FILE": str(path)})

    assert rules == [Rule("#meow lang:en", "cats"), Rule("#woof", None)]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("[", "invalid JSON"),
        ('{"value": "#cats"}', "expected a JSON list"),
        ('[{"tag": "cats"}]', "rule 0 must be an object"),
        ('[{"value": "#cats", "tag": 5}]', "'tag' must be a string"),
        ('[{"value": "#cats"}, {"value": "#cats"}]', "configured twice"),
        (json.dumps([{"value": "#" + "a" * 1100}]), "at most 1024"),
        ("[]", "no filtered-stream rules"),
    ],
)
def test_rules_file_errors(tmp_path: Path, content: str, reason: str):
    path = tmp_path / "rules.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(RulesError, match=reason):
        configured_rules((), (), {"X_STREAM_RULES_FILE": str(path)})
