"""Unit tests of the transform Lambda's zip: reproducible bytes, exact contents, and a handler that runs from it.

Building the zip runs ``pip install --no-deps vaderSentiment`` into a temporary folder, so these tests need
PyPI or a pip cache that already has the wheel.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

import catsvdogs
from catsvdogs.provisioning import lambda_package
from catsvdogs.provisioning.lambda_package import (
    FIXED_ZIP_TIME,
    LambdaPackage,
    PackageBuildError,
    build_lambda_package,
    dependency_files,
    write_zip,
)

EVENTS = Path(__file__).resolve().parents[1] / "events"
PACKAGE_DIR = Path(catsvdogs.__file__).resolve().parent
VADER_FILES = {
    "vaderSentiment/__init__.py",
    "vaderSentiment/vaderSentiment.py",
    "vaderSentiment/vader_lexicon.txt",
    "vaderSentiment/emoji_utf8_lexicon.txt",
}
FORBIDDEN_TOP_LEVEL = {"boto3", "botocore", "opensearchpy", "yaml", "requests", "tqdm", "urllib3"}

# The expected result of each record of the sample events. The keep-alive line, the error-only message and
# the cut-off line fail.
EXPECTED_RESULTS = {
    "firehose_aws.json": ["Ok", "Ok", "Ok", "ProcessingFailed", "Ok", "Ok", "Ok", "ProcessingFailed"],
    "firehose_localstack.json": ["Ok", "Ok", "Ok", "Ok", "Ok", "Ok", "Ok", "ProcessingFailed"],
}

# Run the handler in an interpreter that can import only the standard library and the unzipped folder.
HANDLER_SCRIPT = """\
import json, sys
sys.path.insert(0, sys.argv[2])
from catsvdogs.transform.handler import handler
import catsvdogs, vaderSentiment
response = handler(json.load(open(sys.argv[1], encoding="utf-8")), None)
print(json.dumps({
    "results": [record["result"] for record in response["records"]],
    "module_files": [catsvdogs.__file__, vaderSentiment.__file__],
    "third_party": sorted(name for name in sys.modules if name.split(".")[0] in %r),
}))
""" % sorted(FORBIDDEN_TOP_LEVEL)


@pytest.fixture(scope="module")
def package() -> LambdaPackage:
    return build_lambda_package()


@pytest.fixture(scope="module")
def names(package: LambdaPackage) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        return archive.namelist()


def transform_sources() -> set[str]:
    return {f"catsvdogs/transform/{path.name}" for path in (PACKAGE_DIR / "transform").glob("*.py")}


def test_build_reproducible(package: LambdaPackage) -> None:
    again = build_lambda_package()

    assert again.data == package.data
    assert again.sha256 == package.sha256


def test_sha256_of_bytes(package: LambdaPackage) -> None:
    assert package.sha256 == hashlib.sha256(package.data).hexdigest()


def test_s3_key_contains_hash(package: LambdaPackage) -> None:
    assert package.sha256[:16] in package.s3_key
    assert re.fullmatch(r"lambda/catsvdogs-transform-[0-9a-f]{16}\.zip", package.s3_key)


def test_zip_valid(package: LambdaPackage) -> None:
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        assert archive.testzip() is None


def test_zip_contents_exact(names: list[str]) -> None:
    expected = {"catsvdogs/__init__.py"} | transform_sources() | VADER_FILES

    assert set(names) == expected


def test_zip_has_no_duplicates(names: list[str]) -> None:
    assert len(names) == len(set(names))


def test_zip_entries_sorted(names: list[str]) -> None:
    assert names == sorted(names)


def test_zip_has_handler_and_lexicons(names: list[str]) -> None:
    assert "catsvdogs/__init__.py" in names
    assert "catsvdogs/transform/handler.py" in names
    assert "vaderSentiment/vaderSentiment.py" in names
    assert "vaderSentiment/vader_lexicon.txt" in names
    assert "vaderSentiment/emoji_utf8_lexicon.txt" in names


def test_zip_has_no_other_libraries(names: list[str]) -> None:
    top_level = {name.split("/")[0] for name in names}

    assert top_level == {"catsvdogs", "vaderSentiment"}
    assert top_level.isdisjoint(FORBIDDEN_TOP_LEVEL)


def test_zip_has_only_transform_subpackage(names: list[str]) -> None:
    subpackages = {name.split("/")[1] for name in names if name.startswith("catsvdogs/") and name.count("/") > 1}

    assert subpackages == {"transform"}


def test_zip_has_no_bytecode_or_metadata(names: list[str]) -> None:
    assert [name for name in names if "__pycache__" in name or name.endswith((".pyc", ".pyo"))] == []
    assert [name for name in names if ".dist-info" in name or ".egg-info" in name] == []


def test_zip_sources_match_package(package: LambdaPackage) -> None:
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        for name in ["catsvdogs/__init__.py", *sorted(transform_sources())]:
            source = PACKAGE_DIR / name.removeprefix("catsvdogs/")
            assert archive.read(name) == source.read_bytes(), name


def test_zip_entries_fixed_time_and_mode(package: LambdaPackage) -> None:
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        entries = archive.infolist()

    assert {entry.date_time for entry in entries} == {FIXED_ZIP_TIME}
    assert {entry.external_attr >> 16 for entry in entries} == {0o644}
    assert {entry.compress_type for entry in entries} == {zipfile.ZIP_DEFLATED}


def test_zip_entries_at_max_compression(package: LambdaPackage) -> None:
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        for entry in archive.infolist():
            compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
            deflated = compressor.compress(archive.read(entry)) + compressor.flush()
            assert entry.compress_size == len(deflated), entry.filename


@pytest.mark.parametrize("event_name", sorted(EXPECTED_RESULTS))
def test_handler_runs_from_zip(package: LambdaPackage, tmp_path: Path, event_name: str) -> None:
    folder = tmp_path / "function"
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        archive.extractall(folder)

    # -I ignores PYTHON* variables, the working folder and user site-packages. -S skips site-packages.
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", HANDLER_SCRIPT, str(EVENTS / event_name), str(folder)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stderr
    output = json.loads(completed.stdout)
    assert output["results"] == EXPECTED_RESULTS[event_name]
    assert all(Path(path).is_relative_to(folder) for path in output["module_files"]), output["module_files"]
    assert output["third_party"] == []


def test_dependency_files_skip_metadata_and_bytecode(tmp_path: Path) -> None:
    for name in [
        "library/__init__.py",
        "library/data.txt",
        "library/__pycache__/__init__.cpython-311.pyc",
        "library/stale.pyc",
        "library-1.0.dist-info/METADATA",
        "other-2.0.egg-info/PKG-INFO",
    ]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name, encoding="utf-8")

    files = dependency_files(tmp_path)

    assert sorted(files) == ["library/__init__.py", "library/data.txt"]


def test_write_zip_ignores_insertion_order(tmp_path: Path) -> None:
    first = tmp_path / "a.py"
    second = tmp_path / "b.py"
    first.write_text("a = 1\n", encoding="utf-8")
    second.write_text("b = 2\n", encoding="utf-8")

    forward = write_zip({"pkg/a.py": first, "pkg/b.py": second})
    backward = write_zip({"pkg/b.py": second, "pkg/a.py": first})

    assert forward == backward


def test_pip_failure_raises_build_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # An invalid requirement makes pip fail before it contacts any index.
    monkeypatch.setattr(lambda_package, "LAMBDA_REQUIREMENTS", ("not a requirement!",))

    with pytest.raises(PackageBuildError) as caught:
        build_lambda_package()

    assert str(caught.value).startswith("pip could not install the Lambda dependencies not a requirement!:")
