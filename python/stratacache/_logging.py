"""The library's log events in :mod:`logging` (docs/operations.md, "Log events").

The core reports connections lost and restored, breaker transitions, failovers,
decode errors, ... through one process-wide C hook. Here that hook is the native
buffer of ``_native.log_install``: library threads copy each event into it and never
wait for the GIL; the ``stratacache-log`` daemon thread takes them out
(``_native.log_wait``) and logs them to ``stratacache.<family>`` (``stratacache.l2``,
``stratacache.breaker``, ...) at the event's level, the event name in the record's
``stratacache_event`` attribute.

- ``enable_logging(level=None)``: install the hook for events at ``level`` and above
  (default: the effective level of the ``stratacache`` logger) and start the thread.
  ``disable_logging()`` removes both.
- Automatic wiring (``autowire``, called when a cache opens): when logging is
  configured (the ``stratacache`` logger or an ancestor has a handler), the hook is
  installed at that logger's effective level. Otherwise nothing is installed and the
  core formats nothing.
- Rate limit: at most ``RATE_PER_S`` records per event name per second; what is held
  back is counted and logged as one "suppressed" record once its second is over.
  Events dropped because the native buffer was full are logged as one ``log.dropped``
  warning.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Final

from . import _native

__all__ = ["RateLimiter", "enable_logging", "disable_logging", "autowire", "RATE_PER_S"]

RATE_PER_S: Final = 20
_WAKE_S: Final = 0.25  # how often the thread looks at its stop flag and closed rate windows


class RateLimiter:
    """At most ``limit`` records per ``interval`` seconds for each kind; the rest are
    counted. ``admit`` also hands back what a previous window held back and nobody
    reported yet; ``flush`` reports the windows that are over. Thread-safe."""

    def __init__(self, limit: int, interval: float) -> None:
        self._limit = limit
        self._interval = interval
        self._lock = threading.Lock()
        self._windows: dict[str, list[float]] = {}  # kind -> [window start, admitted, held back]

    def admit(self, kind: str, now: float) -> tuple[bool, int]:
        """(whether to log this one, how many of this kind were held back before it)."""
        with self._lock:
            w = self._windows.get(kind)
            if w is None or now - w[0] >= self._interval:
                held = int(w[2]) if w else 0
                self._windows[kind] = [now, 1, 0]
                return True, held
            if w[1] < self._limit:
                w[1] += 1
                return True, 0
            w[2] += 1
            return False, 0

    def flush(self, now: float) -> list[tuple[str, int]]:
        """(kind, held back) of every window that is over and held some back."""
        out = []
        with self._lock:
            for kind, w in self._windows.items():
                if w[2] and now - w[0] >= self._interval:
                    out.append((kind, int(w[2])))
                    w[2] = 0
        return out


_lock = threading.Lock()
_stop: threading.Event | None = None
_thread: threading.Thread | None = None
_level: int | None = None


def _logger_for(event: str) -> logging.Logger:
    return logging.getLogger("stratacache." + event.split(".", 1)[0])


def _run(stop: threading.Event) -> None:
    limiter = RateLimiter(RATE_PER_S, 1.0)
    levels: dict[str, int] = {}

    def suppressed(event: str, count: int) -> None:
        _logger_for(event).log(levels.get(event, logging.WARNING), "suppressed %d more %s events", count, event,
                               extra={"stratacache_event": event})

    while not stop.is_set():
        try:
            events, dropped = _native.log_wait(_WAKE_S)
            now = time.monotonic()
            if dropped:
                logging.getLogger("stratacache.log").warning(
                    "%d log events dropped: the log buffer was full (a slow logging handler?)", dropped,
                    extra={"stratacache_event": "log.dropped"})
            for level, event, message in events:
                levels[event] = level
                admitted, held = limiter.admit(event, now)
                if held:
                    suppressed(event, held)
                if admitted:
                    _logger_for(event).log(level, "%s", message, extra={"stratacache_event": event})
            for event, held in limiter.flush(now):
                suppressed(event, held)
        except Exception:  # noqa: BLE001 - the thread must outlive a broken handler
            logging.getLogger("stratacache.log").exception("stratacache log thread")


def _start_locked() -> None:
    global _stop, _thread
    if _thread is not None and _thread.is_alive():
        return
    _stop = threading.Event()
    _thread = threading.Thread(target=_run, args=(_stop,), name="stratacache-log", daemon=True)
    _thread.start()


def enable_logging(level: int | None = None) -> None:
    """Route the library's events at ``level`` and above into :mod:`logging` (default:
    the effective level of the ``stratacache`` logger). Calling it again changes the
    level."""
    global _level
    if level is None:
        level = logging.getLogger("stratacache").getEffectiveLevel()
    level = max(int(level), logging.DEBUG)
    with _lock:
        _native.log_install(level)
        _level = level
        _start_locked()


def disable_logging() -> None:
    """Stop routing events (the core formats none from now on)."""
    global _level, _stop, _thread
    with _lock:
        _native.log_remove()
        _level = None
        stop, thread = _stop, _thread
        _stop = _thread = None
    if stop is not None:
        stop.set()
    if thread is not None and thread is not threading.current_thread():
        thread.join()


def autowire() -> None:
    """Called when a cache opens: enable logging if the application configured it."""
    if _level is not None:
        return
    if logging.getLogger("stratacache").hasHandlers():
        enable_logging()


def _after_fork_in_child() -> None:
    # Threads do not survive fork; the native hook does: start a thread to drain it.
    global _stop, _thread
    if _level is not None:
        _stop = _thread = None
        _start_locked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
