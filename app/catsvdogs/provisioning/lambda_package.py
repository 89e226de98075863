"""Build the transform Lambda's zip from the installed package and its third-party dependencies.

The zip contains ``catsvdogs/__init__.py``, ``catsvdogs/transform/`` and the
packages named in LAMBDA_REQUIREMENTS, installed by pip into an empty folder,
so nothing else from the current environment ends up in it. Entries are
sorted and carry a fixed timestamp, so the same code gives the same bytes and
the same SHA-256, and a code change gives a new S3 key.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import catsvdogs

LOG = logging.getLogger(__name__)

# vaderSentiment declares a dependency on requests, but imports it only in its
# interactive demo, so --no-deps keeps the zip small and offline-safe.
LAMBDA_REQUIREMENTS = ("vaderSentiment==3.3.2",)
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
SKIPPED_PARTS = {"__pycache__"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}


class PackageBuildError(RuntimeError):
    """The zip could not be built; the message names the step that failed."""


@dataclass(frozen=True)
class LambdaPackage:
    """A built zip and its content hash."""

    data: bytes
    sha256: str

    @property
    def s3_key(self) -> str:
        return f"lambda/catsvdogs-transform-{self.sha256[:16]}.zip"


def package_source_files() -> dict[str, Path]:
    """Map zip paths to the package files the function needs: the top-level __init__ and the transform package."""
    package_dir = Path(catsvdogs.__file__).parent
    files = {"catsvdogs/__init__.py": package_dir / "__init__.py"}
    for path in sorted((package_dir / "transform").rglob("*")):
        if path.is_file() and not _skipped(path):
            files[f"catsvdogs/{path.relative_to(package_dir).as_posix()}"] = path
    return files


def install_requirements(target: Path, cache_dir: Path | None = None) -> None:
    """Install LAMBDA_REQUIREMENTS into an empty ``target`` folder with pip."""
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-deps", "--no-compile", "--target", str(target), *LAMBDA_REQUIREMENTS,
    ]
    if cache_dir is not None:
        command += ["--cache-dir", str(cache_dir)]
    LOG.info("Installing Lambda dependencies: %s", ", ".join(LAMBDA_REQUIREMENTS))
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PackageBuildError(
            f"pip could not install the Lambda dependencies {', '.join(LAMBDA_REQUIREMENTS)}:\n{result.stderr.strip()}"
        )


def dependency_files(target: Path) -> dict[str, Path]:
    """Map zip paths to installed dependency files, leaving out pip's metadata and bytecode."""
    files: dict[str, Path] = {}
    for path in sorted(target.rglob("*")):
        relative = path.relative_to(target)
        if path.is_file() and not _skipped(path) and not relative.parts[0].endswith((".dist-info", ".egg-info")):
            files[relative.as_posix()] = path
    return files


def write_zip(files: dict[str, Path]) -> bytes:
    """Write the files into a deterministic zip and return its bytes."""
    with tempfile.SpooledTemporaryFile() as buffer:
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for name in sorted(files):
                info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                # writestr ignores the archive's compresslevel for a ZipInfo entry, so pass it again.
                archive.writestr(info, files[name].read_bytes(), compresslevel=9)
        buffer.seek(0)
        return buffer.read()


def build_lambda_package(cache_dir: Path | None = None) -> LambdaPackage:
    """Build the transform function's zip."""
    with tempfile.TemporaryDirectory(prefix="catsvdogs-lambda-") as folder:
        target = Path(folder)
        install_requirements(target, cache_dir)
        files = {**dependency_files(target), **package_source_files()}
        data = write_zip(files)
    package = LambdaPackage(data=data, sha256=hashlib.sha256(data).hexdigest())
    LOG.info("Built Lambda zip: %d files, %d bytes, sha256 %s", len(files), len(data), package.sha256)
    return package


def _skipped(path: Path) -> bool:
    return bool(SKIPPED_PARTS.intersection(path.parts)) or path.suffix in SKIPPED_SUFFIXES
