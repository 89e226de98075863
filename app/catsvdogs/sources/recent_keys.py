"""A bounded memory of recent keys, to drop repeats without memory that grows with the input."""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable


class RecentKeys:
    """The last ``capacity`` distinct keys added, oldest dropped first, to drop messages that a source sends twice.

    A set is used for membership tests and a deque keeps the order in which keys were
    first added. Adding a key that is already present changes nothing, so a key
    is forgotten ``capacity`` distinct keys after it was first added. An
    OrderedDict did the same job, but its memory kept rising after it was
    full: from 37 to 51 MiB for 100,000 integer keys over a million more adds.
    The set and deque stay at about 13 MiB once full (docs/benchmarks.md, run D).
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self._capacity = capacity
        self._keys: set[Hashable] = set()
        self._order: deque[Hashable] = deque()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: Hashable) -> None:
        if key in self._keys:
            return
        self._keys.add(key)
        self._order.append(key)
        if len(self._order) > self._capacity:
            self._keys.discard(self._order.popleft())
