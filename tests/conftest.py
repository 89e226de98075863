"""Shared fixtures: the native stack (real LocalStack and search server on 127.0.0.1) and a provisioned pipeline."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from catsvdogs.config import Settings, load_settings
from catsvdogs.native.servers import NativeStack
from tests.unique_names import unique_environment

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
REPLAY_DATA = ROOT / "replay_data"
CLI = Path(sys.executable).with_name("catsvdogs")


@dataclass(frozen=True)
class Deployment:
    """A provisioned pipeline on the native stack: its environment, settings and the provision output."""

    environment: dict[str, str]
    settings: Settings
    provision_output: str

    def run_cli(self, *arguments: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the catsvdogs command as a user would, with this deployment's environment."""
        result = subprocess.run(
            [str(CLI), *arguments],
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"catsvdogs {' '.join(arguments)} exited with {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result


@pytest.fixture(scope="session")
def native_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NativeStack]:
    """Start LocalStack and the search server on free ports; stop them after the session."""
    stack = NativeStack(workdir=tmp_path_factory.mktemp("native"), lambda_python=sys.executable)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def provision(stack: NativeStack, prefix: str) -> Deployment:
    environment = unique_environment(stack, prefix)
    settings = load_settings(environment)
    deployment = Deployment(environment, settings, "")
    result = deployment.run_cli("provision")
    return Deployment(environment, settings, result.stdout)


@pytest.fixture(scope="session")
def deployment(native_stack: NativeStack) -> Deployment:
    """One provisioned pipeline shared by the end-to-end tests."""
    return provision(native_stack, "e2e")
