"""The OpenSearch index template with explicit mappings, applied before any document arrives."""

from __future__ import annotations

import json
import logging
from importlib import resources
from typing import Any

from opensearchpy import OpenSearch

LOG = logging.getLogger(__name__)

TEMPLATE_NAME = "catsvdogs-tweets"
TEMPLATE_RESOURCE = "index_template.json"


def index_template(index_name: str) -> dict[str, Any]:
    """Return the packaged index template, matching ``index_name`` and any index that starts with it."""
    text = resources.files("catsvdogs.provisioning").joinpath(TEMPLATE_RESOURCE).read_text(encoding="utf-8")
    template = json.loads(text)
    template["index_patterns"] = [f"{index_name}*"]
    return template


def apply_index_template(client: OpenSearch, index_name: str) -> str:
    """Put the index template unless the cluster has the same one; return 'created', 'updated' or 'unchanged'."""
    expected = index_template(index_name)
    existing = None
    if client.indices.exists_index_template(name=TEMPLATE_NAME):
        existing = client.indices.get_index_template(name=TEMPLATE_NAME)["index_templates"][0]["index_template"]
    if existing is not None and _same_template(existing, expected):
        return "unchanged"
    client.indices.put_index_template(name=TEMPLATE_NAME, body=expected)
    LOG.info("Put index template %s for %s*", TEMPLATE_NAME, index_name)
    return "created" if existing is None else "updated"


def ensure_index(client: OpenSearch, index_name: str) -> str:
    """Create the index from the template unless it exists; return 'created', 'exists', or a warning.

    An index that exists with field types other than the template's was created
    before the template, for example by documents that reached a restarted search
    server first. Counting by category fails on it, so the warning gives the steps
    that replace it.
    """
    if not client.indices.exists(index=index_name):
        client.indices.create(index=index_name)
        LOG.info("Created index %s", index_name)
        return "created"
    differences = mapping_differences(client, index_name)
    if not differences:
        return "exists"
    listed = ", ".join(differences)
    LOG.warning("Index %s has field types that differ from the index template: %s", index_name, listed)
    return (
        f"exists, but its field types differ from the index template ({listed}), so it was created before the "
        f"template. Delete the index (DELETE /{index_name} on the search server), run 'catsvdogs provision' "
        "again, then 'catsvdogs reindex' to index the S3 backup into it"
    )


def mapping_differences(client: OpenSearch, index_name: str) -> list[str]:
    """Return 'field: type, expected type' for each template field whose type in the index differs."""
    expected = index_template(index_name)["template"]["mappings"]["properties"]
    mappings = client.indices.get_mapping(index=index_name)
    actual = next(iter(mappings.values()), {}).get("mappings", {}).get("properties", {})
    differences = []
    for field_name, field_mapping in expected.items():
        expected_type = field_mapping.get("type", "object")
        actual_type = actual.get(field_name, {}).get("type", "object" if field_name in actual else None)
        if actual_type is not None and actual_type != expected_type:
            differences.append(f"{field_name}: {actual_type}, expected {expected_type}")
    return differences


def _same_template(existing: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Compare the parts that matter; clusters add defaults and turn numbers into strings."""
    existing_mappings = existing.get("template", {}).get("mappings", {})
    expected_mappings = expected["template"]["mappings"]
    return (
        sorted(existing.get("index_patterns", [])) == sorted(expected["index_patterns"])
        and existing_mappings.get("properties") == expected_mappings["properties"]
        and str(existing_mappings.get("dynamic")) == str(expected_mappings["dynamic"])
    )
