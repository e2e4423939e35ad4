"""Distributed locks (docs/locks.md): ``cache.lock(name, timeout=..., blocking_timeout=...)``.

    with cache.lock("report:42", timeout=10, blocking_timeout=5) as lk:
        storage.write(data, fence=lk.fence)

    async with async_cache.lock("report:42", timeout=10) as lk:
        await lk.extend(30)

Semantics (the same in both forms):

- ``timeout``: the lock's lifetime in seconds (its TTL in Redis). A holder that dies
  loses it this long after its last acquire or extend. Required to be > 0.
- ``blocking_timeout``: how long ``acquire`` waits for another holder (None: without
  bound; 0 or ``blocking=False``: one try). The wait is woken when the holder releases
  or its lock expires (through the coherence channel), not polled, unless the cache
  was opened with ``l1_coherence=off`` (then 10 ms .. 200 ms backoff).
- ``acquire()`` returns False when the lock was still held when the wait ran out (as
  redis-py does); ``with`` / ``async with`` raise :class:`LockNotAcquiredError` instead.
- ``extend(ttl)`` sets the remaining lifetime to ``ttl`` seconds; ``extend`` and
  ``release`` of a lock this caller no longer holds (it expired, maybe someone else took
  it) raise :class:`LockNotOwnedError` and change nothing.
- ``fence``: the fencing token, strictly greater for every new holder of the name.
- Redis failures raise ``CacheConnectionError`` (``fail_silently`` never applies: a lock
  that silently was not taken would be a bug in the caller's critical section).
- A blocking wait releases the GIL; the asyncio form never blocks the loop.
"""
from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from ._native import LockError, LockNotAcquiredError, NativeLock, lock_acquire, lock_acquire_async

if TYPE_CHECKING:
    from ._core import CacheCore

__all__ = ["Lock", "AsyncLock", "LockError", "LockNotAcquiredError"]

_FOREVER_MS = 10 * 365 * 24 * 3600 * 1000  # "no bound" for blocking_timeout=None


def _ms(seconds: float, what: str, *, zero_ok: bool) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, not {type(seconds).__name__}")
    if seconds < 0 or (seconds == 0 and not zero_ok) or seconds != seconds:
        raise ValueError(f"{what} must be {'>= 0' if zero_ok else '> 0'} seconds, got {seconds!r}")
    ms = round(seconds * 1000)
    return max(ms, 1) if seconds > 0 else 0


class _LockBase:
    __slots__ = ("_core", "name", "_ttl_ms", "_wait_ms", "_held")

    def __init__(self, core: CacheCore, name: str | bytes, timeout: float, blocking_timeout: float | None,
                 blocking: bool) -> None:
        if not isinstance(name, (str, bytes)):
            raise TypeError(f"lock name must be str or bytes, not {type(name).__name__}")
        self._core = core
        self.name = name
        self._ttl_ms = _ms(timeout, "timeout", zero_ok=False)
        if not blocking:
            self._wait_ms = 0
        elif blocking_timeout is None:
            self._wait_ms = _FOREVER_MS
        else:
            self._wait_ms = _ms(blocking_timeout, "blocking_timeout", zero_ok=True)
        self._held: NativeLock | None = None

    @property
    def fence(self) -> int:
        """The fencing token of the held lock."""
        return self._lock().fence

    def locked_by_me(self) -> bool:
        """True between a successful acquire and release (the lock may have expired since)."""
        return self._held is not None

    def _wait_for(self, blocking: bool | None, blocking_timeout: float | None) -> int:
        """acquire's wait in ms: its arguments over the lock's own."""
        if self._held is not None:
            raise LockError(f"lock {self.name!r} is already held by this object")
        if blocking is False:
            return 0
        if blocking_timeout is not None:
            return _ms(blocking_timeout, "blocking_timeout", zero_ok=True)
        return self._wait_ms

    def _lock(self) -> NativeLock:
        if self._held is None:
            raise LockError(f"lock {self.name!r} is not held by this object")
        return self._held

    def _take(self) -> NativeLock:
        held, self._held = self._lock(), None
        return held

    def __repr__(self) -> str:
        state = f"held, fence={self._held.fence}" if self._held is not None else "not held"
        return f"<{type(self).__name__} {self.name!r} {state}>"


class Lock(_LockBase):
    """A distributed lock of a :class:`~stratacache.Cache` (see the module docstring)."""

    __slots__ = ()

    def acquire(self, blocking: bool | None = None, blocking_timeout: float | None = None) -> bool:
        wait = self._wait_for(blocking, blocking_timeout)
        try:
            self._held = lock_acquire(self._core.native, self.name, self._ttl_ms, wait)
        except LockNotAcquiredError:
            return False
        return True

    def extend(self, ttl: float) -> None:
        """Set the remaining lifetime to ``ttl`` seconds (LockNotOwnedError if expired)."""
        self._lock().extend(_ms(ttl, "ttl", zero_ok=False))

    def release(self) -> None:
        """Release the lock (LockNotOwnedError if it had expired)."""
        self._take().release()

    def __enter__(self) -> Lock:
        if not self.acquire():
            raise LockNotAcquiredError(f"lock {self.name!r} is held by another owner")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._held is not None:
            self.release()


class AsyncLock(_LockBase):
    """The asyncio form of :class:`Lock`: the same methods as coroutines."""

    __slots__ = ()

    async def acquire(self, blocking: bool | None = None, blocking_timeout: float | None = None) -> bool:
        wait = self._wait_for(blocking, blocking_timeout)
        try:
            self._held = await self._core._submit(lock_acquire_async, self._core.native, self.name, self._ttl_ms, wait)
        except LockNotAcquiredError:
            return False
        return True

    async def extend(self, ttl: float) -> None:
        await self._core._submit(self._lock().extend_async, _ms(ttl, "ttl", zero_ok=False))

    async def release(self) -> None:
        await self._core._submit(self._take().release_async)

    async def __aenter__(self) -> AsyncLock:
        if not await self.acquire():
            raise LockNotAcquiredError(f"lock {self.name!r} is held by another owner")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._held is not None:
            await self.release()
