"""The app image and the LocalStack hook, checked without a Docker engine.

The Dockerfile is read as text: pinned base, non-root user, install from the
lock file. The lock file is checked against pyproject.toml. The entrypoint
and the LocalStack ready hook run under sh here, with the commands they call
replaced or pointed at a fake Docker engine on a Unix socket.
"""

from __future__ import annotations

import fnmatch
import os
import re
import socketserver
import stat
import subprocess
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from catsvdogs.provisioning.lambda_package import LAMBDA_REQUIREMENTS

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "app" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
LOCK_FILE = ROOT / "app" / "requirements.lock"
PYPROJECT = ROOT / "app" / "pyproject.toml"
ENTRYPOINT = ROOT / "app" / "docker-entrypoint.sh"
DOCKER_HOOK = ROOT / "localstack" / "init" / "ready.d" / "10-check-docker.sh"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """Return (INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    logical, current = [], ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            logical.append(current.strip())
            current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in logical]


def lock_pins() -> dict[str, str]:
    """Map canonical package names in the lock file to their exact versions."""
    pins = {}
    for line in LOCK_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            specifiers = list(requirement.specifier)
            assert len(specifiers) == 1, f"{line}: expected one exact pin"
            assert specifiers[0].operator == "==", f"{line}: expected name==version"
            pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins


def test_base_image_is_pinned_slim_python() -> None:
    base_images = [arguments for instruction, arguments in dockerfile_instructions() if instruction == "FROM"]
    assert len(base_images) == 1
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?", base_images[0]), base_images[0]


def test_image_runs_as_non_root_user() -> None:
    users = [arguments for instruction, arguments in dockerfile_instructions() if instruction == "USER"]
    assert users == ["catsvdogs"]
    instructions = dockerfile_instructions()
    assert instructions.index(("USER", "catsvdogs")) > max(
        index for index, (instruction, _) in enumerate(instructions) if instruction == "RUN"
    ), "every RUN step after USER would run without root"
    environment = " ".join(arguments for instruction, arguments in instructions if instruction == "ENV")
    assert "HOME=/home/catsvdogs" in environment
    assert "--create-home --home-dir /home/catsvdogs" in " ".join(arguments for _, arguments in instructions)


def test_dependencies_install_from_lock_then_package_without_deps() -> None:
    runs = [arguments for instruction, arguments in dockerfile_instructions() if instruction == "RUN"]
    lock_install = next(index for index, run in enumerate(runs) if "pip install --no-cache-dir -r requirements.lock" in run)
    package_install = next(index for index, run in enumerate(runs) if "pip install --no-cache-dir --no-deps ./src" in run)
    assert lock_install < package_install


def test_entrypoint_is_the_compose_script() -> None:
    instructions = dockerfile_instructions()
    assert ("ENTRYPOINT", '["/opt/catsvdogs/docker-entrypoint.sh"]') in instructions
    assert ("COPY", "--chmod=755 app/docker-entrypoint.sh ./docker-entrypoint.sh") in instructions
    assert ("COPY", "replay_data/cats_v_dogs.jsonl.gz ./replay_data/cats_v_dogs.jsonl.gz") in instructions
    assert "/opt/catsvdogs/replay_data/cats_v_dogs.jsonl.gz" in ENTRYPOINT.read_text(encoding="utf-8")


def test_lock_pins_every_runtime_dependency() -> None:
    pins = lock_pins()
    dependencies = [Requirement(text) for text in tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["dependencies"]]
    for dependency in dependencies:
        name = canonicalize_name(dependency.name)
        assert name in pins, f"{dependency.name} is missing from app/requirements.lock"
        assert dependency.specifier.contains(pins[name]), f"{name}=={pins[name]} does not satisfy {dependency}"
    assert "catsvdogs" not in pins


def test_lock_pins_lambda_requirements() -> None:
    """The image downloads LAMBDA_REQUIREMENTS so that `pip install --target` works offline, so they must match the lock."""
    pins = lock_pins()
    for text in LAMBDA_REQUIREMENTS:
        requirement = Requirement(text)
        assert requirement.specifier.contains(pins[canonicalize_name(requirement.name)]), text


def test_dockerignore_keeps_copied_files() -> None:
    """Every COPY source must survive .dockerignore, whose patterns apply in order and '!' re-includes."""
    patterns = [line for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]

    def included(path: str) -> bool:
        keep = True
        for pattern in patterns:
            negated = pattern.startswith("!")
            body = pattern.lstrip("!").rstrip("/")
            parents = [path] + [str(parent) for parent in Path(path).parents if str(parent) != "."]
            if any(fnmatch.fnmatch(candidate, body) for candidate in parents):
                keep = negated
        return keep

    sources = []
    for instruction, arguments in dockerfile_instructions():
        if instruction == "COPY":
            words = [word for word in arguments.split() if not word.startswith("--")]
            sources.extend(words[:-1])
    assert sources
    for source in sources:
        path = ROOT / source
        files = [path] if path.is_file() else [item for item in path.rglob("*") if item.is_file() and "__pycache__" not in item.parts]
        assert files, f"{source} does not exist"
        for file in files:
            assert included(str(file.relative_to(ROOT))), f"{file.relative_to(ROOT)} is excluded by .dockerignore"
    assert not included(".git/config")
    assert not included("app/catsvdogs/__pycache__/cli.cpython-311.pyc")


@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    """A folder with a fake `catsvdogs` that logs its arguments instead of running."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "catsvdogs"
    script.write_text(f'#!/bin/sh\necho "$*" >> "{tmp_path}/calls.log"\n')
    script.chmod(0o755)
    return folder


def run_entrypoint(fake_bin: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    """Run a copy of the entrypoint whose ready file lies in the test's folder instead of /tmp."""
    script = ENTRYPOINT.read_text(encoding="utf-8")
    assert "READY_FILE=/tmp/catsvdogs-ready" in script
    copy = fake_bin.parent / "docker-entrypoint.sh"
    copy.write_text(script.replace("READY_FILE=/tmp/catsvdogs-ready", f"READY_FILE={ready_file(fake_bin)}"), encoding="utf-8")
    env = {"PATH": f"{fake_bin}:{os.environ['PATH']}", **environment}
    return subprocess.run(["sh", str(copy)], env=env, capture_output=True, text=True, timeout=30, check=False)


def ready_file(fake_bin: Path) -> Path:
    return fake_bin.parent / "catsvdogs-ready"


def calls(fake_bin: Path) -> list[str]:
    log = fake_bin.parent / "calls.log"
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def test_entrypoint_provisions_imports_then_replays(fake_bin: Path) -> None:
    result = run_entrypoint(fake_bin)

    assert result.returncode == 0, result.stderr
    assert calls(fake_bin) == [
        "provision",
        "dashboards",
        "replay --loop --speed 5 --no-progress /opt/catsvdogs/replay_data/cats_v_dogs.jsonl.gz",
    ]
    assert ready_file(fake_bin).exists()


def test_entrypoint_passes_replay_speed(fake_bin: Path) -> None:
    result = run_entrypoint(fake_bin, REPLAY_SPEED="12")

    assert result.returncode == 0, result.stderr
    assert calls(fake_bin)[-1].startswith("replay --loop --speed 12 ")


@pytest.mark.parametrize("source", ["bluesky", "x"])
def test_entrypoint_streams_live_source(fake_bin: Path, source: str) -> None:
    result = run_entrypoint(fake_bin, SOURCE=source)

    assert result.returncode == 0, result.stderr
    assert calls(fake_bin) == ["provision", "dashboards", f"stream --source {source}"]
    assert ready_file(fake_bin).exists()


@pytest.mark.parametrize("source", ["twitter", "mastodon"])
def test_entrypoint_rejects_unavailable_source(fake_bin: Path, source: str) -> None:
    result = run_entrypoint(fake_bin, SOURCE=source)

    assert result.returncode == 2
    assert "SOURCE" in result.stderr
    assert source in result.stderr
    assert calls(fake_bin) == [], "nothing may be provisioned for a source that cannot run"
    assert not ready_file(fake_bin).exists()


def test_entrypoint_removes_stale_ready_file(fake_bin: Path) -> None:
    ready_file(fake_bin).write_text("")

    result = run_entrypoint(fake_bin, SOURCE="twitter")

    assert result.returncode == 2
    assert not ready_file(fake_bin).exists(), "a restarted container must not look ready before provisioning"


def test_docker_hook_is_executable_script() -> None:
    assert DOCKER_HOOK.read_text(encoding="utf-8").startswith("#!/bin/sh\n")
    assert DOCKER_HOOK.stat().st_mode & stat.S_IXUSR, "LocalStack runs .sh hooks directly, so they need the executable bit"


class FakeDockerEngine(socketserver.ThreadingUnixStreamServer):
    """Responds to GET /_ping with OK on a Unix socket, as the Docker engine does."""

    daemon_threads = True


class PingHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"OK" if self.path == "/_ping" else b"page not found"
        self.send_response(200 if self.path == "/_ping" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self) -> str:
        return "unix-socket"

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def docker_socket(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "docker.sock"
    server = FakeDockerEngine(str(path), PingHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def run_hook(docker_host: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "DOCKER_HOST": docker_host}
    return subprocess.run([str(DOCKER_HOOK)], env=env, capture_output=True, text=True, timeout=30, check=False)


def test_docker_hook_passes_with_engine(docker_socket: Path) -> None:
    result = run_hook(f"unix://{docker_socket}")

    assert result.returncode == 0, result.stderr
    assert f"Docker engine reachable at {docker_socket}" in result.stdout


def test_docker_hook_fails_without_engine(tmp_path: Path) -> None:
    missing = tmp_path / "missing.sock"

    result = run_hook(f"unix://{missing}")

    assert result.returncode == 1
    assert f"the Docker engine is not reachable at {missing}" in result.stderr
    assert "/var/run/docker.sock:/var/run/docker.sock" in result.stderr
