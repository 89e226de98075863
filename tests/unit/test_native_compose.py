"""Unit tests of reading LocalStack settings from docker-compose.yml for the native stack."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from catsvdogs.native import compose
from catsvdogs.native.compose import (
    DOCKER_ONLY_SETTINGS,
    ComposeError,
    environment_of,
    find_project_root,
    load_compose,
    localstack_image_tag,
    shared_localstack_settings,
)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
REQUIREMENTS = ROOT / "localstack" / "requirements.txt"


def compose_with(service: dict[str, Any]) -> dict[str, Any]:
    return {"services": {"localstack": service}}


def write_compose(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def real_compose() -> dict[str, Any]:
    return load_compose(COMPOSE_FILE)


@pytest.fixture
def no_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CATSVDOGS_HOME", raising=False)


def test_shared_settings_drop_docker_only(real_compose: dict[str, Any]) -> None:
    settings = shared_localstack_settings(real_compose)

    assert set(settings) & DOCKER_ONLY_SETTINGS == set()


def test_shared_settings_keep_the_rest(real_compose: dict[str, Any]) -> None:
    environment = environment_of(real_compose["services"]["localstack"])

    settings = shared_localstack_settings(real_compose)

    assert settings == {name: value for name, value in environment.items() if name not in DOCKER_ONLY_SETTINGS}
    assert "SERVICES" in settings
    assert "OPENSEARCH_ENDPOINT_STRATEGY" in settings


def test_real_compose_has_docker_only_settings(real_compose: dict[str, Any]) -> None:
    environment = environment_of(real_compose["services"]["localstack"])

    assert "OPENSEARCH_CUSTOM_BACKEND" in environment
    assert "LAMBDA_DOCKER_NETWORK" in environment


def test_real_compose_enables_pipeline_services(real_compose: dict[str, Any]) -> None:
    services = set(shared_localstack_settings(real_compose)["SERVICES"].split(","))

    assert {"s3", "firehose", "lambda", "iam", "sts", "cloudformation", "opensearch", "logs"} <= services


def test_shared_settings_all_strings(real_compose: dict[str, Any]) -> None:
    settings = shared_localstack_settings(real_compose)

    assert all(isinstance(value, str) for value in settings.values())


def test_list_environment_parsed() -> None:
    service = {"environment": ["SERVICES=s3,firehose", "URL=http://host/?a=b", "EMPTY=", "BARE"]}

    environment = environment_of(service)

    assert environment == {"SERVICES": "s3,firehose", "URL": "http://host/?a=b", "EMPTY": "", "BARE": ""}


def test_list_environment_drops_docker_only() -> None:
    environment = ["SERVICES=s3", "LOCALSTACK_HOST=localstack:4566", "DOCKER_HOST=unix:///x"]
    document = compose_with({"environment": environment})

    settings = shared_localstack_settings(document)

    assert settings == {"SERVICES": "s3"}


def test_mapping_environment_values_become_strings() -> None:
    service = {"environment": {"DISABLE_EVENTS": 1, "EMPTY": None, "SERVICES": "s3"}}

    environment = environment_of(service)

    assert environment == {"DISABLE_EVENTS": "1", "EMPTY": "", "SERVICES": "s3"}


@pytest.mark.parametrize("service", [{}, {"environment": None}, {"environment": []}, {"environment": {}}])
def test_missing_environment_empty(service: dict[str, Any]) -> None:
    assert environment_of(service) == {}


def test_image_tag_read(real_compose: dict[str, Any]) -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", localstack_image_tag(real_compose))


def test_image_tag_matches_localstack_core_pin(real_compose: dict[str, Any]) -> None:
    pins = re.findall(r"^localstack-core\[runtime\]==(\S+)$", REQUIREMENTS.read_text(encoding="utf-8"), re.MULTILINE)

    assert len(pins) == 1
    assert localstack_image_tag(real_compose) == pins[0]


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("localstack/localstack:4.14.0", "4.14.0"),
        ("registry.example:5000/localstack/localstack:4.14.0", "4.14.0"),
        ("localstack/localstack:4.14.0@sha256:" + "0" * 64, "4.14.0"),
    ],
)
def test_image_tag_forms(image: str, tag: str) -> None:
    assert localstack_image_tag(compose_with({"image": image})) == tag


@pytest.mark.parametrize(
    "image",
    ["", "localstack/localstack", "localstack/localstack:", "registry.example:5000/localstack/localstack"],
)
def test_image_without_tag_rejected(image: str) -> None:
    with pytest.raises(ComposeError) as caught:
        localstack_image_tag(compose_with({"image": image}))

    assert str(caught.value) == f"services.localstack.image '{image}' has no pinned tag"


def test_missing_image_rejected() -> None:
    with pytest.raises(ComposeError):
        localstack_image_tag(compose_with({}))


def test_missing_compose_file_names_path(tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.yml"

    with pytest.raises(ComposeError) as caught:
        load_compose(path)

    assert str(caught.value).startswith(f"Cannot read {path}: ")


def test_invalid_yaml_names_path(tmp_path: Path) -> None:
    path = write_compose(tmp_path / "docker-compose.yml", "services: [unclosed\n")

    with pytest.raises(ComposeError) as caught:
        load_compose(path)

    assert str(caught.value).startswith(f"Cannot read {path}: ")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "- a list\n",
        "name: catsvdogs\n",
        "services:\n",
        "services: [localstack]\n",
        "services:\n  opensearch:\n    image: opensearch\n",
        "services:\n  localstack:\n",
    ],
    ids=["empty", "list", "no-services", "services-empty", "services-list", "no-localstack", "localstack-empty"],
)
def test_compose_without_localstack_rejected(tmp_path: Path, text: str) -> None:
    path = write_compose(tmp_path / "docker-compose.yml", text)

    with pytest.raises(ComposeError) as caught:
        load_compose(path)

    assert str(caught.value) == f"{path} has no services.localstack entry"


def test_minimal_compose_loaded(tmp_path: Path) -> None:
    text = "services:\n  localstack:\n    image: localstack/localstack:4.14.0\n"
    path = write_compose(tmp_path / "docker-compose.yml", text)

    document = load_compose(path)

    assert localstack_image_tag(document) == "4.14.0"
    assert shared_localstack_settings(document) == {}


def test_project_root_from_subfolder(no_home: None) -> None:
    assert find_project_root(ROOT / "tests" / "unit") == ROOT


def test_project_root_from_checkout(no_home: None) -> None:
    assert find_project_root(ROOT) == ROOT


def test_project_root_falls_back_to_package(no_home: None, tmp_path: Path) -> None:
    if not Path(compose.__file__).resolve().is_relative_to(ROOT):
        pytest.skip("catsvdogs is installed outside the checkout, so its location cannot lead back to it")

    assert find_project_root(tmp_path) == ROOT


def test_project_root_needs_localstack_folder(no_home: None, tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "localstack").mkdir(parents=True)
    write_compose(checkout / "docker-compose.yml", "services: {}\n")
    (checkout / "deep" / "er").mkdir(parents=True)

    assert find_project_root(checkout / "deep" / "er") == checkout


def test_compose_file_alone_not_a_root(no_home: None, tmp_path: Path) -> None:
    write_compose(tmp_path / "docker-compose.yml", "services: {}\n")

    assert find_project_root(tmp_path) != tmp_path


def test_project_root_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CATSVDOGS_HOME", f"  {tmp_path}  ")

    assert find_project_root(ROOT) == tmp_path.resolve()


def test_blank_home_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATSVDOGS_HOME", "  ")

    assert find_project_root(ROOT / "tests") == ROOT


def test_project_root_from_working_folder(no_home: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT / "tests" / "unit")

    assert find_project_root() == ROOT
