"""Helpers for tests of the live sources: run a source on a thread until a condition is true, then stop it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from catsvdogs.records import OutgoingRecord, RejectedInput, SourceItem


class SourceRun:
    """Iterates a live source on a daemon thread and keeps what it yields."""

    def __init__(self, source: Any, stop: threading.Event) -> None:
        self.source = source
        self.stop = stop
        self.items: list[SourceItem] = []
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self.source.items():
                self.items.append(item)
        except BaseException as error:  # noqa: BLE001 - checked by the test
            self.error = error

    @property
    def finished(self) -> bool:
        return not self._thread.is_alive()

    def wait_until(self, condition: Callable[[SourceRun], bool], timeout: float = 10.0) -> bool:
        """Wait until ``condition`` is true or the source ends; return whether it is true."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition(self):
                return True
            if self.finished:
                return condition(self)
            time.sleep(0.02)
        return condition(self)

    def finish(self, timeout: float = 5.0) -> None:
        """Stop the source and wait for its thread."""
        self.stop.set()
        self.source.close()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the source did not stop"

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(item.data) for item in self.items if isinstance(item, OutgoingRecord)]

    @property
    def ids(self) -> list[str]:
        return [message["data"]["id"] for message in self.messages]

    @property
    def rejections(self) -> list[str]:
        return [item.reason for item in self.items if isinstance(item, RejectedInput)]


class RecordingSleep:
    """A sleep that records each wait and returns at once, so reconnect schedules run without waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return False
