"""LocalStack and the OpenSearch-compatible search server, run as host processes on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from catsvdogs.native.compose import COMPOSE_FILE_NAME, find_project_root, load_compose, shared_localstack_settings
from catsvdogs.native.process import ManagedProcess, ServerStartError, free_port, http_ok

LOG = logging.getLogger(__name__)

LOCALSTACK_EXECUTOR = "host-subprocess"
LOCALSTACK_START_TIMEOUT = 90.0
SEARCH_START_TIMEOUT = 20.0


def localstack_python(root: Path) -> Path:
    """Interpreter of the LocalStack environment: $CATSVDOGS_LOCALSTACK_PYTHON, else ROOT/.venv-localstack."""
    configured = os.environ.get("CATSVDOGS_LOCALSTACK_PYTHON", "").strip()
    path = Path(configured) if configured else root / ".venv-localstack" / "bin" / "python"
    if not path.exists():
        raise ServerStartError(
            f"LocalStack environment not found at {path}; run `catsvdogs up` or ./tests/run once, which install it, "
            "or set CATSVDOGS_LOCALSTACK_PYTHON to a Python with localstack/requirements.txt installed"
        )
    return path


def search_server_binary() -> Path:
    """Path of the osmem-server binary shipped in the osmem-server wheel."""
    try:
        import osmem_server
    except ImportError as error:
        raise ServerStartError("osmem-server is not installed; install the native extra: pip install -e 'app[native]'") from error
    return Path(osmem_server.__file__).with_name("bin") / "osmem-server"


@dataclass
class SearchServer:
    """An in-memory OpenSearch-compatible server (osmem-server) on 127.0.0.1."""

    workdir: Path
    port: int = 0
    process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the process on ``port`` (a free one when 0) without waiting for it."""
        self.port = self.port or free_port()
        command = [str(search_server_binary()), "-addr", f"127.0.0.1:{self.port}", "-no-stdin-watch"]
        # Only what a process needs to run: the search server gets no credentials or tokens of the caller.
        environment = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
        self.process = ManagedProcess("search server", command, self.workdir / "search.log", environment)
        self.process.start()

    def wait_ready(self, timeout: float = SEARCH_START_TIMEOUT) -> None:
        assert self.process
        self.process.wait_until(lambda: http_ok(f"{self.url}/_cluster/health"), timeout)

    def stop(self) -> None:
        if self.process:
            self.process.stop()


@dataclass
class LocalStackServer:
    """LocalStack from localstack-core on 127.0.0.1, with the host-subprocess Lambda executor."""

    workdir: Path
    search_url: str
    lambda_python: str
    port: int = 0
    process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """Build LocalStack's environment: the compose file's shared settings plus host-specific ones."""
        root = find_project_root()
        settings = shared_localstack_settings(load_compose(root / COMPOSE_FILE_NAME))
        state = self.workdir / "localstack"
        for folder in ("root", "volume", "tmp"):
            (state / folder).mkdir(parents=True, exist_ok=True)
        environment = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
        environment.update(settings)
        environment.update(
            {
                "GATEWAY_LISTEN": f"127.0.0.1:{self.port}",
                # The default server ignores the host part of GATEWAY_LISTEN and binds 0.0.0.0.
                "GATEWAY_SERVER": "hypercorn",
                # Without this, LocalStack believes it runs in a container and writes to /var/lib/localstack.
                "OVERRIDE_IN_DOCKER": "0",
                "FILESYSTEM_ROOT": str(state / "root"),
                "LOCALSTACK_VOLUME_DIR": str(state / "volume"),
                "TMPDIR": str(state / "tmp"),
                "DNS_ADDRESS": "0",
                "LOCALSTACK_HOST": f"localhost:{self.port}",
                "OPENSEARCH_CUSTOM_BACKEND": self.search_url,
                "LAMBDA_RUNTIME_EXECUTOR": LOCALSTACK_EXECUTOR,
                "LAMBDA_HOST_PYTHON": self.lambda_python,
            }
        )
        return environment

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the process on ``port`` (a free one when 0) without waiting for it."""
        root = find_project_root()
        self.port = self.port or free_port()
        command = [str(localstack_python(root)), "-m", "localstack.runtime.main"]
        self.process = ManagedProcess("LocalStack", command, self.workdir / "localstack.log", self.environment())
        self.process.start()

    def wait_ready(self, timeout: float = LOCALSTACK_START_TIMEOUT) -> None:
        assert self.process
        self.process.wait_until(self._ready, timeout)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_localstack/init/ready", timeout=2) as response:
                return json.load(response).get("completed") is True
        except (OSError, ValueError):
            return False

    def stop(self) -> None:
        if self.process:
            self.process.stop()


@dataclass
class NativeStack:
    """LocalStack plus the search server, started together and stopped in reverse order."""

    workdir: Path
    lambda_python: str
    search: SearchServer | None = None
    localstack: LocalStackServer | None = None

    def start(self) -> None:
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.search = SearchServer(self.workdir)
        self.search.start()
        try:
            self.localstack = LocalStackServer(self.workdir, self.search.url, self.lambda_python)
            self.localstack.start()
        except BaseException:
            self.stop()
            raise
        LOG.info(
            "Native stack ready in %.1f s: LocalStack %s, search server %s",
            time.monotonic() - started,
            self.localstack.url,
            self.search.url,
        )

    def stop(self) -> None:
        if self.localstack:
            self.localstack.stop()
        if self.search:
            self.search.stop()

    def client_environment(self) -> dict[str, str]:
        """Variables that point the catsvdogs CLI and boto3 at this stack."""
        assert self.localstack and self.search
        return {
            "AWS_ENDPOINT_URL": self.localstack.url,
            "OPENSEARCH_URL": self.search.url,
        }

    def remove_state(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)
