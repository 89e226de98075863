"""The bounded memory of recent keys that sources use to drop repeats."""

from __future__ import annotations

import tracemalloc

import pytest

from catsvdogs.sources.recent_keys import RecentKeys


def test_keeps_last_capacity_distinct_keys() -> None:
    keys = RecentKeys(3)
    for key in (1, 2, 3, 4):
        keys.add(key)
    assert 1 not in keys
    assert [key in keys for key in (2, 3, 4)] == [True, True, True]
    assert len(keys) == 3


def test_readding_key_does_not_renew() -> None:
    keys = RecentKeys(2)
    keys.add("a")
    keys.add("b")
    keys.add("a")
    keys.add("c")
    assert "a" not in keys
    assert "b" in keys
    assert "c" in keys


def test_rejects_a_capacity_below_one() -> None:
    with pytest.raises(ValueError, match="capacity must be at least 1, got 0"):
        RecentKeys(0)


def _add_new_keys(keys: RecentKeys, start: int, count: int) -> None:
    for key in range(start, start + count):
        if key not in keys:
            keys.add(key)


def test_peak_memory_flat_once_full() -> None:
    # The window of the replay's duplicate filter, with integers above 2**60
    # that are allocated per key, as tweet ids are. An OrderedDict in this
    # place reached a higher traced peak after 600,000 keys than after 400,000.
    capacity = 100_000
    base = 1 << 61
    keys = RecentKeys(capacity)
    tracemalloc.start()
    try:
        _add_new_keys(keys, base, 4 * capacity)
        _, peak_when_full = tracemalloc.get_traced_memory()
        _add_new_keys(keys, base + 4 * capacity, 8 * capacity)
        _, peak_later = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(keys) == capacity
    assert peak_later <= peak_when_full * 1.02, f"traced peak grew from {peak_when_full} to {peak_later} bytes after the window was full"
