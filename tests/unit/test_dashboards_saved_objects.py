"""The dashboard's saved objects: they parse, their references resolve, and they fit the index template.

OpenSearch Dashboards cannot run on this machine, so these tests check the
NDJSON as a file. They check its shape and references, and the fields each
panel reads against the strict index template. They also check that it agrees
with panels.py, which keeps the ids, fields, 1-minute buckets and category
filter. The query bodies in panels.py run against the OpenSearch-compatible
test server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from opensearchpy import OpenSearch

from catsvdogs.config import DEFAULT_INDEX_NAME
from catsvdogs.dashboards import panels
from catsvdogs.dashboards.importer import landing_route, saved_objects
from catsvdogs.provisioning.index_setup import apply_index_template, index_template

# Attributes that contain JSON documents serialised as strings.
JSON_STRING_ATTRIBUTES = ("visState", "uiStateJSON", "panelsJSON", "optionsJSON", "fields")
SEARCH_SOURCE = "kibanaSavedObjectMeta.searchSourceJSON"
# The migration versions that Dashboards 2.19 stamps on exported objects.
MIGRATION_VERSIONS = {"index-pattern": "7.6.0", "visualization": "7.10.0", "search": "7.9.3", "dashboard": "7.9.3"}
# Index pattern field types for each mapping type.
PATTERN_TYPES = {"keyword": "string", "text": "string", "date": "date", "long": "number", "float": "number"}
# Mapping types each aggregation accepts.
AGGREGATION_TYPES = {
    "date_histogram": {"date"},
    "terms": {"keyword", "long", "float", "date"},
    "sum": {"long", "float"},
    "avg": {"long", "float"},
    "max": {"long", "float", "date"},
    "min": {"long", "float", "date"},
}
SORTABLE_TYPES = {"keyword", "long", "float", "date"}


def load_objects() -> list[dict[str, Any]]:
    lines = saved_objects().decode("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def template_fields() -> dict[str, dict[str, Any]]:
    """Map every leaf field of the index template, dotted for objects, to its mapping."""
    properties = index_template(DEFAULT_INDEX_NAME)["template"]["mappings"]["properties"]

    def walk(mapping: dict[str, Any], prefix: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for name, spec in mapping.items():
            if "properties" in spec:
                yield from walk(spec["properties"], f"{prefix}{name}.")
            else:
                yield f"{prefix}{name}", spec

    return dict(walk(properties, ""))


def search_source(saved_object: dict[str, Any]) -> dict[str, Any]:
    return json.loads(saved_object["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])


def vis_state(saved_object: dict[str, Any]) -> dict[str, Any]:
    return json.loads(saved_object["attributes"]["visState"])


def aggregation_fields(state: dict[str, Any]) -> list[tuple[str, str]]:
    """List (aggregation type, field) for every aggregation of a visState that reads a field."""
    return [(agg["type"], agg["params"]["field"]) for agg in state["aggs"] if "field" in agg.get("params", {})]


def by_id(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {saved_object["id"]: saved_object for saved_object in objects}


def body_fields(body: Any) -> set[str]:
    """Collect the field names an OpenSearch request body reads."""
    found: set[str] = set()
    if isinstance(body, dict):
        for key, value in body.items():
            if key == "field" and isinstance(value, str):
                found.add(value)
            elif key in ("terms", "range") and isinstance(value, dict) and "field" not in value:
                found.update(value)
            elif key == "sort" and isinstance(value, list):
                for item in value:
                    found.update(item)
            elif key == "_source" and isinstance(value, list):
                found.update(value)
            found |= body_fields(value)
    elif isinstance(body, list):
        for item in body:
            found |= body_fields(item)
    return found


OBJECTS = load_objects()
FIELDS = template_fields()


def test_saved_objects_parse_with_unique_ids() -> None:
    assert OBJECTS, "saved_objects.ndjson is empty"
    keys = [(saved_object["type"], saved_object["id"]) for saved_object in OBJECTS]
    assert len(keys) == len(set(keys)), f"duplicate ids: {keys}"
    for saved_object in OBJECTS:
        assert isinstance(saved_object["attributes"].get("title"), str), saved_object["id"]
        assert isinstance(saved_object["references"], list), saved_object["id"]
        for name in JSON_STRING_ATTRIBUTES:
            if name in saved_object["attributes"]:
                json.loads(saved_object["attributes"][name])
        if "kibanaSavedObjectMeta" in saved_object["attributes"]:
            assert isinstance(search_source(saved_object), dict), saved_object["id"]


def test_saved_objects_carry_migration_versions() -> None:
    for saved_object in OBJECTS:
        assert saved_object["migrationVersion"] == {saved_object["type"]: MIGRATION_VERSIONS[saved_object["type"]]}


def test_saved_objects_match_panel_ids() -> None:
    expected = {(panel.object_type, panel.object_id) for panel in panels.PANELS}
    expected |= {("index-pattern", panels.INDEX_PATTERN_ID), ("dashboard", panels.DASHBOARD_ID)}
    assert {(saved_object["type"], saved_object["id"]) for saved_object in OBJECTS} == expected
    assert landing_route().endswith(panels.DASHBOARD_ID)


def test_every_reference_resolves() -> None:
    known = {(saved_object["type"], saved_object["id"]) for saved_object in OBJECTS}
    for saved_object in OBJECTS:
        for reference in saved_object["references"]:
            assert (reference["type"], reference["id"]) in known, f"{saved_object['id']}: unresolved {reference}"


def test_every_reference_name_is_used() -> None:
    for saved_object in OBJECTS:
        names = {reference["name"] for reference in saved_object["references"]}
        assert len(names) == len(saved_object["references"]), f"{saved_object['id']}: duplicate reference names"
        used = set()
        if "kibanaSavedObjectMeta" in saved_object["attributes"]:
            index_ref = search_source(saved_object).get("indexRefName")
            if index_ref:
                used.add(index_ref)
        if saved_object["type"] == "dashboard":
            used |= {panel["panelRefName"] for panel in json.loads(saved_object["attributes"]["panelsJSON"])}
        assert used == names, f"{saved_object['id']}: references {names}, used {used}"


def test_index_pattern_matches_template() -> None:
    pattern = by_id(OBJECTS)[panels.INDEX_PATTERN_ID]["attributes"]
    assert pattern["title"] == panels.INDEX_PATTERN_TITLE
    assert index_template(DEFAULT_INDEX_NAME)["index_patterns"] == [panels.INDEX_PATTERN_TITLE]
    assert FIELDS[pattern["timeFieldName"]]["type"] == "date"
    assert pattern["timeFieldName"] == panels.TIME_FIELD


def test_index_pattern_fields_match_template() -> None:
    pattern_fields = json.loads(by_id(OBJECTS)[panels.INDEX_PATTERN_ID]["attributes"]["fields"])
    mapped = {field["name"]: field for field in pattern_fields if not field["name"].startswith("_")}
    assert set(mapped) == set(FIELDS)
    for name, field in mapped.items():
        mapping_type = FIELDS[name]["type"]
        assert field["esTypes"] == [mapping_type], name
        assert field["type"] == PATTERN_TYPES[mapping_type], name
        assert field["aggregatable"] is (mapping_type != "text"), name
        assert field["searchable"] is FIELDS[name].get("index", True), name


@pytest.mark.parametrize("panel", [panel for panel in panels.PANELS if panel.object_type == "visualization"], ids=lambda p: p.object_id)
def test_visualisation_fields_fit_template(panel: panels.Panel) -> None:
    state = vis_state(by_id(OBJECTS)[panel.object_id])
    used = aggregation_fields(state)
    assert {field for _, field in used} == set(panel.fields)
    for aggregation, field in used:
        assert field in FIELDS, f"{panel.object_id}: {field} is not in the index template"
        assert FIELDS[field]["type"] in AGGREGATION_TYPES[aggregation], f"{panel.object_id}: {aggregation} on {field}"


@pytest.mark.parametrize("panel", [panel for panel in panels.PANELS if panel.object_type == "visualization"], ids=lambda p: p.object_id)
def test_visualisation_matches_panel_spec(panel: panels.Panel) -> None:
    saved_object = by_id(OBJECTS)[panel.object_id]
    state = vis_state(saved_object)
    assert saved_object["attributes"]["title"] == panel.title
    assert state["title"] == panel.title
    assert search_source(saved_object)["query"] == {"query": panels.ANIMAL_QUERY, "language": panels.QUERY_LANGUAGE}
    for agg in state["aggs"]:
        if agg["type"] == "date_histogram":
            assert agg["params"]["interval"] == panels.BUCKET_INTERVAL
        if agg["type"] == "terms" and agg["params"]["field"] == panels.CATEGORY_FIELD:
            assert agg["params"]["size"] == len(panels.ANIMAL_CATEGORIES)
            assert agg["params"]["otherBucket"] is False


def test_tweets_per_minute_uses_one_minute_buckets() -> None:
    state = vis_state(by_id(OBJECTS)[panels.TWEETS_PER_MINUTE.object_id])
    histograms = [agg for agg in state["aggs"] if agg["type"] == "date_histogram"]
    assert len(histograms) == 1
    assert histograms[0]["params"]["field"] == panels.TIME_FIELD
    assert histograms[0]["params"]["interval"] == "1m"


def test_animal_query_names_each_category() -> None:
    assert panels.ANIMAL_QUERY == "category:(cat or dog or both)"


def test_top_tweets_search_fits_template() -> None:
    attributes = by_id(OBJECTS)[panels.TOP_TWEETS.object_id]["attributes"]
    assert attributes["title"] == panels.TOP_TWEETS.title
    assert tuple(attributes["columns"]) == panels.TOP_TWEETS.fields
    assert attributes["sort"] == [[panels.ENGAGEMENT_FIELD, "desc"]]
    for column in attributes["columns"]:
        assert column in FIELDS, column
    for field, _ in attributes["sort"]:
        assert FIELDS[field]["type"] in SORTABLE_TYPES, field
    query = search_source(by_id(OBJECTS)[panels.TOP_TWEETS.object_id])["query"]
    assert query == {"query": panels.ANIMAL_QUERY, "language": panels.QUERY_LANGUAGE}


def test_dashboard_time_and_refresh() -> None:
    attributes = by_id(OBJECTS)[panels.DASHBOARD_ID]["attributes"]
    assert attributes["title"] == panels.DASHBOARD_TITLE
    assert attributes["timeRestore"] is True
    assert attributes["timeFrom"] == "now-15m"
    assert attributes["timeTo"] == "now"
    assert attributes["refreshInterval"] == {"pause": False, "value": 5000}


def test_dashboard_shows_every_panel_once() -> None:
    dashboard = by_id(OBJECTS)[panels.DASHBOARD_ID]
    references = {reference["name"]: reference for reference in dashboard["references"]}
    panel_states = json.loads(dashboard["attributes"]["panelsJSON"])
    panel_ids = [references[state["panelRefName"]]["id"] for state in panel_states]
    assert panel_ids == [panel.object_id for panel in panels.PANELS]
    indexes = [state["panelIndex"] for state in panel_states]
    assert len(indexes) == len(set(indexes))
    for state in panel_states:
        assert state["gridData"]["i"] == state["panelIndex"]
        assert state["gridData"]["x"] >= 0
        assert state["gridData"]["x"] + state["gridData"]["w"] <= 48, "Dashboards grids are 48 columns wide"


def test_dashboard_panel_time_ranges() -> None:
    dashboard = by_id(OBJECTS)[panels.DASHBOARD_ID]
    references = {reference["name"]: reference["id"] for reference in dashboard["references"]}
    configs = {references[state["panelRefName"]]: state["embeddableConfig"] for state in json.loads(dashboard["attributes"]["panelsJSON"])}
    for panel in panels.PANELS:
        if panel.time_from is None:
            assert "timeRange" not in configs[panel.object_id], panel.object_id
        else:
            assert configs[panel.object_id]["timeRange"] == {"from": panel.time_from, "to": "now"}
    assert configs[panels.TOP_TWEETS.object_id]["sort"] == [[panels.ENGAGEMENT_FIELD, "desc"]]


QUERY_BODIES = {
    panels.TWEETS_PER_MINUTE: panels.tweets_per_minute_body(),
    panels.CATEGORY_SHARE: panels.category_share_body(),
    panels.ENGAGEMENT: panels.engagement_body(),
    panels.SENTIMENT: panels.sentiment_body(),
    panels.TOP_TWEETS: panels.top_tweets_body(),
}


@pytest.mark.parametrize("panel", list(QUERY_BODIES), ids=lambda p: p.object_id)
def test_query_body_reads_panel_fields(panel: panels.Panel) -> None:
    read = body_fields(QUERY_BODIES[panel])
    assert read == set(panel.fields) | {panels.CATEGORY_FIELD, panels.TIME_FIELD}
    for field in read:
        assert field in FIELDS, field


def tweet(minutes_ago: float, category: str, likes: int, retweets: int, label: str, text: str) -> dict[str, Any]:
    created = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    return {
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "text": text,
        "category": category,
        "likes": likes,
        "retweets": retweets,
        "engagement": likes + 2 * retweets,
        "sentiment_label": label,
    }


@pytest.fixture
def search_client(osmem_url: str) -> OpenSearch:
    client = OpenSearch(hosts=[osmem_url])
    apply_index_template(client, DEFAULT_INDEX_NAME)
    documents = [
        tweet(2, "cat", 10, 1, "positive", "cat two minutes ago"),
        tweet(2.2, "dog", 3, 0, "negative", "dog two minutes ago"),
        tweet(5, "dog", 1, 4, "neutral", "dog five minutes ago"),
        tweet(8, "both", 0, 0, "positive", "both eight minutes ago"),
        tweet(3, "none", 500, 500, "positive", "neither, very popular"),
        tweet(40, "cat", 900, 0, "positive", "cat forty minutes ago"),
        tweet(90, "dog", 5000, 0, "positive", "dog ninety minutes ago"),
        {"error": {"reason": "invalid_json", "raw": "{"}},
    ]
    for number, document in enumerate(documents):
        client.index(index=DEFAULT_INDEX_NAME, id=str(number), body=document)
    client.indices.refresh(index=DEFAULT_INDEX_NAME)
    return client


def test_query_bodies_run_on_search_server(search_client: OpenSearch) -> None:
    index = panels.INDEX_PATTERN_TITLE

    per_minute = search_client.search(index=index, body=panels.tweets_per_minute_body())["aggregations"]["per_minute"]
    assert sum(bucket["doc_count"] for bucket in per_minute["buckets"]) == 4

    share = search_client.search(index=index, body=panels.category_share_body())["aggregations"]["category"]
    assert {bucket["key"]: bucket["doc_count"] for bucket in share["buckets"]} == {"cat": 1, "dog": 2, "both": 1}

    engagement = search_client.search(index=index, body=panels.engagement_body())["aggregations"]["category"]
    likes = {bucket["key"]: bucket[panels.LIKES_FIELD]["value"] for bucket in engagement["buckets"]}
    retweets = {bucket["key"]: bucket[panels.RETWEETS_FIELD]["value"] for bucket in engagement["buckets"]}
    assert likes == {"cat": 10, "dog": 4, "both": 0}
    assert retweets == {"cat": 1, "dog": 4, "both": 0}

    sentiment = search_client.search(index=index, body=panels.sentiment_body())["aggregations"]["category"]
    dog = next(bucket for bucket in sentiment["buckets"] if bucket["key"] == "dog")
    assert {bucket["key"] for bucket in dog[panels.SENTIMENT_LABEL_FIELD]["buckets"]} == {"negative", "neutral"}


def test_top_tweets_body_on_search_server(search_client: OpenSearch) -> None:
    hits = search_client.search(index=panels.INDEX_PATTERN_TITLE, body=panels.top_tweets_body())["hits"]["hits"]
    assert [hit["_source"]["text"] for hit in hits] == ["cat forty minutes ago"]
    assert set(hits[0]["_source"]) == set(panels.TOP_TWEETS.fields)
