"""Unit tests that transform documents fit the strict index template and the Lambda zip.

The template's mapping is ``dynamic: strict``, so OpenSearch rejects a document
with any other field. The Lambda zip contains only ``catsvdogs/__init__.py``,
``catsvdogs/transform`` and vaderSentiment, so the transform may import nothing else.
"""

from __future__ import annotations

import ast
import base64
import json
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import vaderSentiment

import catsvdogs
import catsvdogs.transform
from catsvdogs.transform.handler import handler

TESTS = Path(__file__).resolve().parents[1]
TEMPLATE = Path(catsvdogs.transform.__file__).resolve().parents[1] / "provisioning" / "index_template.json"
TRANSFORM_DIR = Path(catsvdogs.transform.__file__).resolve().parent


def template_properties() -> dict[str, Any]:
    template = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    return template["template"]["mappings"]["properties"]


def is_date(value: object) -> bool:
    if not isinstance(value, str) or not value.endswith("Z"):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


SCALAR_CHECKS = {
    "keyword": lambda value: isinstance(value, str),
    "text": lambda value: isinstance(value, str),
    "long": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "float": lambda value: isinstance(value, int | float) and not isinstance(value, bool),
    "date": is_date,
}


def mapping_errors(document: dict[str, Any], properties: dict[str, Any], prefix: str = "") -> list[str]:
    """List the fields of ``document`` that the mapping lacks or whose values do not fit it."""
    errors = []
    for key, value in document.items():
        path = prefix + key
        if key not in properties:
            errors.append(f"{path} is not in the template")
            continue
        mapping = properties[key]
        if "properties" in mapping:
            if isinstance(value, dict):
                errors.extend(mapping_errors(value, mapping["properties"], path + "."))
            else:
                errors.append(f"{path} must be an object")
            continue
        values = value if isinstance(value, list) else [value]
        check = SCALAR_CHECKS[mapping["type"]]
        errors.extend(f"{path} value {item!r} is not a {mapping['type']}" for item in values if not check(item))
    return errors


def event_documents(name: str) -> list[dict[str, Any]]:
    event = json.loads((TESTS / "events" / name).read_text(encoding="utf-8"))
    response = handler(event, None)
    return [json.loads(base64.b64decode(record["data"])) for record in response["records"]]


def all_documents() -> list[dict[str, Any]]:
    return event_documents("firehose_aws.json") + event_documents("firehose_localstack.json")


def test_template_types_known() -> None:
    types = {mapping.get("type") for mapping in template_properties().values() if "properties" not in mapping}

    assert types <= set(SCALAR_CHECKS)


@pytest.mark.parametrize("event_name", ["firehose_aws.json", "firehose_localstack.json"])
def test_documents_fit_template(event_name: str) -> None:
    properties = template_properties()

    for index, document in enumerate(event_documents(event_name)):
        assert mapping_errors(document, properties) == [], f"record {index}"


def test_tweet_documents_complete() -> None:
    required = {
        "tweet_id", "created_at", "ingested_at", "text", "hashtags", "category", "likes", "retweets",
        "replies", "quotes", "engagement", "sentiment_score", "sentiment_label", "source", "matching_rules",
    }
    tweets = [document for document in all_documents() if "error" not in document]

    for document in tweets:
        assert required <= set(document), document.get("tweet_id")


def test_error_documents_only_error() -> None:
    errors = [document for document in all_documents() if "error" in document]

    assert len(errors) == 3
    for document in errors:
        assert set(document) == {"error"}
        assert set(document["error"]) == {"reason", "raw"}


def test_category_values() -> None:
    categories = {document["category"] for document in all_documents() if "error" not in document}

    assert categories <= {"cat", "dog", "both", "none"}


def test_sentiment_labels() -> None:
    labels = {document["sentiment_label"] for document in all_documents() if "error" not in document}

    assert labels <= {"positive", "negative", "neutral"}


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    modules = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            modules.append("." * node.level + (node.module or ""))
    return modules


def is_allowed_import(module: str) -> bool:
    if module.startswith("."):
        return not module.startswith("..")
    root = module.split(".")[0]
    return root in sys.stdlib_module_names or root == "vaderSentiment" or module.startswith("catsvdogs.transform")


@pytest.mark.parametrize("path", sorted(TRANSFORM_DIR.glob("*.py")), ids=lambda path: path.name)
def test_imports_fit_lambda_zip(path: Path) -> None:
    forbidden = [module for module in imported_modules(path) if not is_allowed_import(module)]

    assert forbidden == []


def test_handler_runs_from_zip_layout(tmp_path: Path) -> None:
    """Run the handler in a fresh interpreter whose import path has only the files of the Lambda zip."""
    package = tmp_path / "catsvdogs"
    package.mkdir()
    shutil.copy(Path(catsvdogs.__file__), package / "__init__.py")
    shutil.copytree(TRANSFORM_DIR, package / "transform", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(Path(vaderSentiment.__file__).parent, tmp_path / "vaderSentiment", ignore=shutil.ignore_patterns("__pycache__"))
    event_path = TESTS / "events" / "firehose_aws.json"
    script = (
        "import json, sys\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "from catsvdogs.transform.handler import handler\n"
        "response = handler(json.load(open(sys.argv[1])), None)\n"
        "print(json.dumps([record['result'] for record in response['records']]))\n"
    )

    # -I ignores PYTHON* variables, the working directory and user site-packages. -S skips site-packages.
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script, str(event_path), str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == ["Ok", "Ok", "Ok", "ProcessingFailed", "Ok", "Ok", "Ok", "ProcessingFailed"]
