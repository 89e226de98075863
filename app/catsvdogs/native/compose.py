"""LocalStack settings read from docker-compose.yml, so the native stack and Docker share one source."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

COMPOSE_FILE_NAME = "docker-compose.yml"
LOCALSTACK_SERVICE = "localstack"
# Settings that only make sense inside Docker; the native stack sets its own values for them.
DOCKER_ONLY_SETTINGS = frozenset(
    {"OPENSEARCH_CUSTOM_BACKEND", "LAMBDA_DOCKER_NETWORK", "LOCALSTACK_HOST", "LOCALSTACK_AUTH_TOKEN", "DOCKER_HOST"}
)


class ComposeError(RuntimeError):
    """docker-compose.yml is missing or lacks what the native stack needs."""


def find_project_root(start: Path | None = None) -> Path:
    """Find the checkout that contains docker-compose.yml: $CATSVDOGS_HOME, or a parent of this package or of the working folder."""
    configured = os.environ.get("CATSVDOGS_HOME", "").strip()
    if configured:
        return Path(configured).resolve()
    candidates = [start or Path.cwd(), Path(__file__).resolve()]
    for candidate in candidates:
        for folder in [candidate, *candidate.parents]:
            if (folder / COMPOSE_FILE_NAME).is_file() and (folder / "localstack").is_dir():
                return folder
    raise ComposeError(
        f"No {COMPOSE_FILE_NAME} found above {Path.cwd()}; run from the catsvdogs checkout or set CATSVDOGS_HOME to it"
    )


def load_compose(path: Path) -> dict[str, Any]:
    """Parse the compose file, raising ComposeError with the path when it cannot be read."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ComposeError(f"Cannot read {path}: {error}") from error
    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, dict) or not isinstance(services.get(LOCALSTACK_SERVICE), dict):
        raise ComposeError(f"{path} has no services.{LOCALSTACK_SERVICE} entry")
    return document


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    """Return a service's environment as a dict, whichever of the two compose forms it uses."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        pairs = (item.split("=", 1) for item in environment)
        return {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}
    return {str(name): "" if value is None else str(value) for name, value in environment.items()}


def shared_localstack_settings(compose: dict[str, Any]) -> dict[str, str]:
    """Return the LocalStack settings of the compose file that also apply on the host."""
    environment = environment_of(compose["services"][LOCALSTACK_SERVICE])
    return {name: value for name, value in environment.items() if name not in DOCKER_ONLY_SETTINGS}


def localstack_image_tag(compose: dict[str, Any]) -> str:
    """Return the tag of the LocalStack image, e.g. '4.14.0'."""
    image = str(compose["services"][LOCALSTACK_SERVICE].get("image", ""))
    # Drop a digest (@sha256:...) first. A colon with a "/" after it belongs to a registry port, not to a tag.
    name, _, tag = image.partition("@")[0].rpartition(":")
    if not name or not tag or "/" in tag:
        raise ComposeError(f"services.{LOCALSTACK_SERVICE}.image '{image}' has no pinned tag")
    return tag
