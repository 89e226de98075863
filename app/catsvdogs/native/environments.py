"""The emulator environments of the native stack: LocalStack's virtual environment and the search server.

LocalStack runs from its own virtual environment (default ROOT/.venv-localstack)
because localstack-core 4.14.0 needs Python 3.12 or newer while the app and its
Lambda runtime are on 3.11. Its packages are pinned in localstack/requirements.txt
and localstack/constraints.txt, which the compose file's image tag is checked
against. ``catsvdogs up`` and ``tests/run`` both create it here, and reuse it
while a stamp of the interpreter version and the requirement files is unchanged.

Run ``python -m catsvdogs.native.environments`` to create or check it.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

from catsvdogs.native.compose import ComposeError, find_project_root

BASE_PYTHON_VARIABLE = "CATSVDOGS_LOCALSTACK_BASE_PYTHON"
LOCALSTACK_PYTHON_VARIABLE = "CATSVDOGS_LOCALSTACK_PYTHON"
VENV_NAME = ".venv-localstack"
STAMP_NAME = ".installed"
MINIMUM_VERSION = (3, 12)
# Searched in this order; the first one that runs is used.
CANDIDATE_VERSIONS = ("3.13", "3.12")
# The stamp covers these files, in this order, so a changed pin reinstalls the environment.
STAMPED_FILES = ("localstack/requirements.txt", "localstack/constraints.txt", "localstack/executor/pyproject.toml")
SEARCH_SERVER_PACKAGE = "osmem-server"
SEARCH_SERVER_EXTRA = "native"

Report = Callable[[str], None]


class EnvironmentSetupError(RuntimeError):
    """An emulator environment could not be found or installed. The message names what to do next."""


def python_version(python: Path | str) -> tuple[int, int] | None:
    """Return the (major, minor) version of an interpreter, or None when it does not run."""
    try:
        result = subprocess.run(
            [str(python), "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.fullmatch(r"(\d+) (\d+)\s*", result.stdout)
    if result.returncode != 0 or match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def _pyenv_candidates(version: str) -> Iterator[Path]:
    """Yield interpreters of ``version`` installed by pyenv: its prefix, then any X.Y.Z it lists."""
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return
    prefix = subprocess.run([pyenv, "prefix", version], capture_output=True, text=True, check=False)
    if prefix.returncode == 0 and prefix.stdout.strip():
        yield Path(prefix.stdout.strip().splitlines()[0]) / "bin" / f"python{version}"
    root = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False).stdout.strip()
    listed = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True, check=False).stdout
    for installed in listed.split():
        if root and installed.startswith(f"{version}."):
            yield Path(root) / "versions" / installed / "bin" / f"python{version}"


def find_base_python(environ: dict[str, str] | None = None) -> Path:
    """Find a Python of at least MINIMUM_VERSION for LocalStack's environment.

    Order: $CATSVDOGS_LOCALSTACK_BASE_PYTHON, then python3.13 and python3.12 on
    PATH, then the same versions installed by pyenv.
    """
    env = os.environ if environ is None else environ
    minimum = ".".join(map(str, MINIMUM_VERSION))
    configured = env.get(BASE_PYTHON_VARIABLE, "").strip()
    if configured:
        path = Path(shutil.which(configured) or configured)
        version = python_version(path)
        if version is None:
            raise EnvironmentSetupError(f"{BASE_PYTHON_VARIABLE}={configured} does not run; point it at a Python {minimum} or newer")
        if version < MINIMUM_VERSION:
            raise EnvironmentSetupError(
                f"{BASE_PYTHON_VARIABLE}={configured} is Python {version[0]}.{version[1]}, but LocalStack "
                f"(localstack-core in localstack/requirements.txt) needs Python {minimum} or newer"
            )
        return path

    for version_name in CANDIDATE_VERSIONS:
        on_path = shutil.which(f"python{version_name}")
        candidates = [Path(on_path)] if on_path else []
        for candidate in [*candidates, *_pyenv_candidates(version_name)]:
            version = python_version(candidate)
            if version is not None and version >= MINIMUM_VERSION:
                return candidate
    names = " and ".join(f"python{version}" for version in CANDIDATE_VERSIONS)
    raise EnvironmentSetupError(
        f"No Python {minimum} or newer found for LocalStack: looked for {names} on PATH and in pyenv. "
        f"Install one (for example: pyenv install {CANDIDATE_VERSIONS[0]}) or set {BASE_PYTHON_VARIABLE} to its path."
    )


def environment_stamp(base_python: Path, root: Path) -> str:
    """Hash the interpreter's ``--version`` output and the pinned files.

    The bytes are those of ``{ python --version; cat FILES; } | sha256sum``, the shell form
    that tests/run used, so environments stamped by it stay valid.
    """
    digest = hashlib.sha256()
    version = subprocess.run([str(base_python), "--version"], capture_output=True, check=True)
    digest.update(version.stdout)
    for name in STAMPED_FILES:
        digest.update((root / name).read_bytes())
    return digest.hexdigest()


@contextlib.contextmanager
def _install_lock(venv: Path) -> Iterator[None]:
    """Hold an exclusive lock beside ``venv``, so that two commands never install it at the same time."""
    lock_path = venv.with_name(venv.name + ".lock")
    with open(lock_path, "w", encoding="utf-8") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _run_install_step(command: Sequence[str], output: IO[str] | None, log_path: Path | None) -> None:
    if output is not None:
        output.write(f"$ {' '.join(command)}\n")
        output.flush()
    result = subprocess.run(list(command), stdout=output, stderr=subprocess.STDOUT if output else None, check=False)
    if result.returncode != 0:
        where = f"; see {log_path}" if log_path else ""
        raise EnvironmentSetupError(f"Installing the LocalStack environment failed: {' '.join(command)} exited with {result.returncode}{where}")


def ensure_localstack_environment(
    root: Path,
    report: Report,
    *,
    venv: Path | None = None,
    log_path: Path | None = None,
    environ: dict[str, str] | None = None,
) -> Path:
    """Create or reuse LocalStack's virtual environment and return its interpreter.

    $CATSVDOGS_LOCALSTACK_PYTHON, when set, names an interpreter that is used as
    it is, without installing anything. Otherwise the environment is ``venv``
    (default ROOT/.venv-localstack), reinstalled from scratch when its stamp
    differs. ``log_path``, when given, receives the output of venv and pip
    instead of the terminal. Raises EnvironmentSetupError naming the failed step.
    """
    env = os.environ if environ is None else environ
    configured = env.get(LOCALSTACK_PYTHON_VARIABLE, "").strip()
    if configured:
        if not Path(configured).exists():
            raise EnvironmentSetupError(f"{LOCALSTACK_PYTHON_VARIABLE}={configured} does not exist; unset it to let catsvdogs install LocalStack")
        report(f"using LocalStack from {LOCALSTACK_PYTHON_VARIABLE}={configured}")
        return Path(configured)

    venv = venv or root / VENV_NAME
    base_python = find_base_python(dict(env))
    try:
        stamp = environment_stamp(base_python, root)
    except (OSError, subprocess.CalledProcessError) as error:
        raise EnvironmentSetupError(f"Cannot read the LocalStack pins under {root}: {error}") from error
    python = venv / "bin" / "python"
    stamp_path = venv / STAMP_NAME

    with _install_lock(venv):
        if python.exists() and stamp_path.is_file() and stamp_path.read_text(encoding="utf-8").strip() == stamp:
            report(f"{_display(venv, root)} is up to date")
            return python

        report(f"installing {_display(venv, root)} with {base_python} (this takes about a minute the first time)")
        shutil.rmtree(venv, ignore_errors=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        steps = [
            [str(base_python), "-m", "venv", str(venv)],
            [*pip, "--upgrade", "pip"],
            [
                *pip,
                "-r",
                str(root / "localstack" / "requirements.txt"),
                "-c",
                str(root / "localstack" / "constraints.txt"),
                "-e",
                str(root / "localstack" / "executor"),
            ],
        ]
        with contextlib.ExitStack() as stack:
            output = None
            if log_path is not None:
                log_path.parent.mkdir(parents=True, exist_ok=True)
                output = stack.enter_context(open(log_path, "a", encoding="utf-8"))
            for step in steps:
                _run_install_step(step, output, log_path)
        # Written last, so an interrupted install has no stamp and is redone next time.
        stamp_path.write_text(stamp + "\n", encoding="utf-8")
    report(f"installed {_display(venv, root)}")
    return python


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def search_server_requirement() -> str:
    """Return the osmem-server requirement of the catsvdogs ``native`` extra, such as 'osmem-server<0.2,>=0.1.6'."""
    for requirement in importlib.metadata.requires("catsvdogs") or []:
        specifier, _, marker = requirement.partition(";")
        if specifier.strip().lower().startswith(SEARCH_SERVER_PACKAGE) and SEARCH_SERVER_EXTRA in marker:
            return specifier.strip()
    raise EnvironmentSetupError(
        f"The installed catsvdogs metadata has no {SEARCH_SERVER_PACKAGE} in its '{SEARCH_SERVER_EXTRA}' extra; "
        "reinstall it: pip install -e 'app[native]'"
    )


def ensure_search_server(report: Report, log_path: Path | None = None) -> Path:
    """Return the osmem-server binary, installing the package into this interpreter's environment when missing.

    It is installed only inside a virtual environment, never into a system Python.
    """
    try:
        import osmem_server  # noqa: F401
    except ImportError:
        if sys.prefix == sys.base_prefix:
            raise EnvironmentSetupError(
                f"{SEARCH_SERVER_PACKAGE} is not installed and {sys.executable} is not a virtual environment; "
                "install catsvdogs in one with: python3 -m venv .venv && .venv/bin/pip install -e 'app[native]'"
            ) from None
        requirement = search_server_requirement()
        report(f"installing {requirement} into {sys.prefix}")
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement]
        with contextlib.ExitStack() as stack:
            output = None
            if log_path is not None:
                log_path.parent.mkdir(parents=True, exist_ok=True)
                output = stack.enter_context(open(log_path, "a", encoding="utf-8"))
            result = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT if output else None, check=False)
        if result.returncode != 0:
            where = f"; see {log_path}" if log_path else ""
            raise EnvironmentSetupError(f"Installing {requirement} failed with exit status {result.returncode}{where}") from None
        importlib.invalidate_caches()
    from catsvdogs.native.servers import search_server_binary

    return search_server_binary()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m catsvdogs.native.environments",
        description=f"Create or reuse LocalStack's virtual environment ({VENV_NAME} in the checkout).",
    )
    parser.add_argument("--root", type=Path, help="the catsvdogs checkout (default: found from the working folder)")
    parser.add_argument("--log-prefix", default="catsvdogs", help="word printed before each message (default: catsvdogs)")
    args = parser.parse_args(argv)

    def report(message: str) -> None:
        print(f"{args.log_prefix}: {message}", file=sys.stderr, flush=True)

    try:
        root = (args.root or find_project_root()).resolve()
        # tests/run always builds its own environment, so a variable set by a caller is ignored here.
        environ = {name: value for name, value in os.environ.items() if name != LOCALSTACK_PYTHON_VARIABLE}
        ensure_localstack_environment(root, report, environ=environ)
    except (EnvironmentSetupError, ComposeError) as error:
        report(str(error))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
