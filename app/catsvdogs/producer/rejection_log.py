"""Rate-limited warnings for rejected inputs, so a file full of bad lines does not flood the log."""

from __future__ import annotations

import logging

from catsvdogs.records import RejectedInput

logger = logging.getLogger(__name__)

DEFAULT_LOG_FIRST = 20
DEFAULT_LOG_EVERY = 1000


def log_rejection(
    rejection: RejectedInput,
    category_count: int,
    *,
    log_first: int = DEFAULT_LOG_FIRST,
    log_every: int = DEFAULT_LOG_EVERY,
) -> bool:
    """Log ``rejection`` at WARNING if it is among the first ``log_first`` of its category or a multiple of
    ``log_every``, and return whether it was logged.

    ``category_count`` is the number of rejections of this category so far, including this one.
    """
    if category_count < log_first:
        logger.warning("Rejected %s: %s", rejection.origin, rejection.reason)
        return True

    if category_count == log_first:
        logger.warning(
            "Rejected %s: %s (further rejections of this kind are logged once every %d)",
            rejection.origin,
            rejection.reason,
            log_every,
        )
        return True

    if category_count % log_every == 0:
        logger.warning(
            "Rejected %s: %s (%d rejections of this kind so far)",
            rejection.origin,
            rejection.reason,
            category_count,
        )
        return True
    return False
