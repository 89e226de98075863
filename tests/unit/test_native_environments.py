"""Finding a Python for LocalStack, the environment's stamp, its reuse and its install errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from catsvdogs.native import environments
from catsvdogs.native.environments import (
    BASE_PYTHON_VARIABLE,
    LOCALSTACK_PYTHON_VARIABLE,
    MINIMUM_VERSION,
    STAMPED_FILES,
    EnvironmentSetupError,
    ensure_localstack_environment,
    environment_stamp,
    find_base_python,
    python_version,
    search_server_requirement,
)

ROOT = Path(__file__).resolve().parents[2]


def fake_python(tmp_path: Path, version: str = "3.13", venv_exit: int = 1) -> Path:
    """Write a stand-in interpreter that reports ``version`` and fails `-m venv` with ``venv_exit``."""
    major, minor = version.split(".")
    script = tmp_path / f"python{version}"
    script.write_text(
        "#!/bin/sh\n"
        f'case "$1" in\n'
        f'  -c) echo "{major} {minor}" ;;\n'
        f'  --version) echo "Python {version}.0" ;;\n'
        f'  *) echo "venv failed on purpose" >&2; exit {venv_exit} ;;\n'
        "esac\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


def fake_root(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    for name in STAMPED_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, root / name)
    return root


def test_base_python_from_variable(tmp_path: Path) -> None:
    python = fake_python(tmp_path)

    assert find_base_python({BASE_PYTHON_VARIABLE: str(python)}) == python


def test_base_python_too_old_rejected() -> None:
    with pytest.raises(EnvironmentSetupError) as caught:
        find_base_python({BASE_PYTHON_VARIABLE: sys.executable})

    assert f"is Python {sys.version_info[0]}.{sys.version_info[1]}" in str(caught.value)
    assert "needs Python 3.12 or newer" in str(caught.value)


def test_base_python_missing_rejected(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentSetupError) as caught:
        find_base_python({BASE_PYTHON_VARIABLE: str(tmp_path / "python3.13")})

    assert "does not run" in str(caught.value)


def test_base_python_found_on_this_machine() -> None:
    # tests/run needs one too, so the machines that run the suite have it.
    version = python_version(find_base_python({}))

    assert version is not None
    assert version >= MINIMUM_VERSION


def test_stamp_matches_shell_form(tmp_path: Path) -> None:
    """The stamp is the one tests/run wrote in shell, so environments made before stay valid."""
    python = find_base_python({})
    shell = subprocess.run(
        ["sh", "-c", '{ "$0" --version; cat "$@"; } | sha256sum', str(python), *STAMPED_FILES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )

    assert environment_stamp(python, ROOT) == shell.stdout.split()[0]


def test_up_to_date_environment_reused(tmp_path: Path) -> None:
    root = fake_root(tmp_path)
    base = fake_python(tmp_path)
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    (venv / ".installed").write_text(environment_stamp(base, root) + "\n", encoding="utf-8")
    messages: list[str] = []

    python = ensure_localstack_environment(root, messages.append, venv=venv, environ={BASE_PYTHON_VARIABLE: str(base)})

    assert python == venv / "bin" / "python"
    assert messages == [f"{venv} is up to date"]


def test_failed_reinstall_names_log(tmp_path: Path) -> None:
    root = fake_root(tmp_path)
    base = fake_python(tmp_path, venv_exit=7)
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    (venv / ".installed").write_text("stamp of older pins\n", encoding="utf-8")
    log = tmp_path / "environment.log"
    messages: list[str] = []

    with pytest.raises(EnvironmentSetupError) as caught:
        ensure_localstack_environment(root, messages.append, venv=venv, log_path=log, environ={BASE_PYTHON_VARIABLE: str(base)})

    assert messages[0].startswith(f"installing {venv} with {base}")
    assert "exited with 7" in str(caught.value)
    assert f"see {log}" in str(caught.value)
    assert "venv failed on purpose" in log.read_text(encoding="utf-8")
    # The failed environment has no stamp, so the next run installs it again.
    assert not (venv / ".installed").exists()


def test_configured_interpreter_used_as_is(tmp_path: Path) -> None:
    messages: list[str] = []

    python = ensure_localstack_environment(tmp_path, messages.append, environ={LOCALSTACK_PYTHON_VARIABLE: sys.executable})

    assert python == Path(sys.executable)
    assert messages == [f"using LocalStack from {LOCALSTACK_PYTHON_VARIABLE}={sys.executable}"]


def test_configured_interpreter_missing_rejected(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentSetupError) as caught:
        ensure_localstack_environment(tmp_path, print, environ={LOCALSTACK_PYTHON_VARIABLE: str(tmp_path / "python")})

    assert "does not exist" in str(caught.value)


def test_search_server_requirement_from_native_extra() -> None:
    requirement = search_server_requirement()

    assert requirement.startswith("osmem-server")
    assert "<0.2" in requirement


def test_module_prints_prefixed_status(tmp_path: Path) -> None:
    root = fake_root(tmp_path)
    base = fake_python(tmp_path)
    venv = root / environments.VENV_NAME
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    (venv / ".installed").write_text(environment_stamp(base, root) + "\n", encoding="utf-8")

    result = subprocess.run(
        [sys.executable, "-m", "catsvdogs.native.environments", "--root", str(root), "--log-prefix", "tests/run"],
        env={"PATH": "/usr/bin:/bin", BASE_PYTHON_VARIABLE: str(base), LOCALSTACK_PYTHON_VARIABLE: "/ignored"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == f"tests/run: {environments.VENV_NAME} is up to date\n"
