"""SIGINT and SIGTERM handling: the first signal requests a clean stop, the second ends the process at once."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

_Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None

_DEFAULT_HANDLERS: dict[signal.Signals, _Handler] = {
    # Python's own SIGINT handler raises KeyboardInterrupt in the main thread.
    signal.SIGINT: signal.default_int_handler,
    signal.SIGTERM: signal.SIG_DFL,
}


def install_stop_signals(stop: threading.Event) -> Callable[[], None]:
    """Set ``stop`` on the first SIGINT or SIGTERM, and return a function that restores the previous handlers.

    After the first signal both handlers revert to the defaults, so a second Ctrl-C raises
    KeyboardInterrupt and a second SIGTERM ends the process without flushing. The handler
    only sets the event, because logging from a signal handler can interleave with a log
    line in progress. The producer logs the stop when it finds the event set. Must be called
    from the main thread, as ``signal.signal`` requires.
    """
    previous = {signum: signal.getsignal(signum) for signum in _DEFAULT_HANDLERS}

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()
        for default_signum, default_handler in _DEFAULT_HANDLERS.items():
            signal.signal(default_signum, default_handler)

    for signum in _DEFAULT_HANDLERS:
        signal.signal(signum, request_stop)

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else _DEFAULT_HANDLERS[signum])

    return restore
