"""Settings of the C allocator that keep a long replay's memory flat."""

from __future__ import annotations

import ctypes
import logging
import platform

logger = logging.getLogger(__name__)

# mallopt(3) parameter number of M_MMAP_THRESHOLD in glibc's malloc.h.
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 128 * 1024


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Make glibc serve every allocation of ``threshold`` bytes or more with mmap, and return whether it took effect.

    glibc raises its mmap threshold each time a large block is freed, up to
    32 MiB on 64-bit systems (mallopt(3)), so later large blocks come from
    the heap. The replay's duplicate filter reallocates its hash table (4 MiB
    for 100,000 ids) again and again. On the heap a new table can leave a
    hole that is not returned to the system, and the producer's resident
    memory rose in 4 MiB steps on a 1 GB file. With a fixed threshold each
    freed table goes back to the system.
    Other C libraries are left alone, and False is returned for them.
    """
    if platform.libc_ver()[0] != "glibc":
        logger.debug("C library is not glibc: mmap threshold left unchanged")
        return False
    try:
        libc = ctypes.CDLL(None)
        changed = bool(libc.mallopt(_M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError) as error:
        logger.debug("mallopt is not available, mmap threshold left unchanged: %s", error)
        return False
    logger.debug("mmap threshold fixed at %d bytes: %s", threshold, "done" if changed else "rejected by mallopt")
    return changed
