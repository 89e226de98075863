"""The C allocator setting that keeps a long replay's memory flat."""

from __future__ import annotations

import platform

import pytest

from catsvdogs import allocator


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is called only with glibc")
def test_fixes_threshold_with_glibc() -> None:
    assert allocator.fix_mmap_threshold() is True


def test_leaves_other_libraries_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("musl", "1.2"))
    assert allocator.fix_mmap_threshold() is False
