"""Retry policy for Firehose calls: exponential backoff with full jitter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_BASE_DELAY = 0.1
DEFAULT_MAX_DELAY = 10.0
DEFAULT_MAX_OUTAGE = 300.0
"""Seconds that a sender keeps retrying a batch while the endpoint refuses connections, before it gives up."""


@dataclass(frozen=True)
class RetryPolicy:
    """Number of attempts per batch, and the backoff between them in seconds."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    base_delay: float = DEFAULT_BASE_DELAY
    max_delay: float = DEFAULT_MAX_DELAY

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError(f"delays must not be negative, got base {self.base_delay} and max {self.max_delay}")

    def delay_ceiling(self, retry_number: int) -> float:
        """Return the upper bound of the delay before retry ``retry_number`` (1 for the first retry)."""
        if retry_number < 1:
            raise ValueError(f"retry_number starts at 1, got {retry_number}")
        # Cap the exponent too, so a large retry number cannot overflow the float.
        exponent = min(retry_number - 1, 64)
        return min(self.max_delay, self.base_delay * 2.0**exponent)

    def delay(self, retry_number: int, random: Callable[[], float]) -> float:
        """Return a delay drawn uniformly from [0, ceiling) ("full jitter"), with ``random`` in [0, 1)."""
        return self.delay_ceiling(retry_number) * random()
