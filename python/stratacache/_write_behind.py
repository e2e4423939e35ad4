"""Write-behind: cache a value at once, write it to the user's store later.

``wb = cache.write_behind(writer, max_pending=10000, max_retries=5, backoff=0.1,
backoff_max=10.0, jitter=0.2, workers=1, close_timeout=5.0, on_failure=None)``

- ``wb.set(key, value, ttl=None)`` caches ``value`` (L1 and Redis, as ``cache.set``)
  and queues it; ``wb.delete(key)`` deletes the key from the cache and queues a
  delete. A full queue (``max_pending`` writes pending, none of this key waiting) raises
  :class:`CacheConnectionError` "write-behind queue full" and caches nothing.
- ``writer(op)`` receives a :class:`WriteOp` (``kind`` "set" or "delete", ``key``,
  ``value`` (None for a delete), ``attempt``); returning is success, raising is a
  failure, retried with exponential backoff (``backoff`` seconds doubling up to
  ``backoff_max``, each cut by up to ``jitter`` at random) up to ``max_retries`` times;
  then the write is dropped, counted as ``failed`` and given to
  ``on_failure(op, message)``.
- One write of a key is with the writer at a time, in write order; a write still
  waiting is replaced by a newer write of its key (``coalesced``). Different keys are
  written in parallel by ``workers`` threads.
- With :class:`Cache` the writer is a plain callable run on library worker threads
  (each call takes the GIL). With :class:`AsyncCache` it may be a coroutine function: it
  is awaited on the event loop that opened the write-behind (no threads involved), and
  ``set``/``delete``/``flush``/``close`` are coroutines.
- ``wb.flush(timeout=None)`` waits until everything queued before it was written or
  failed (False at the timeout). ``wb.close(timeout=None)`` flushes (bounded by
  ``close_timeout``) and stops; writes still queued then are counted ``abandoned``,
  given to ``on_failure``, and their number is returned. Closing the cache closes its
  write-behinds first, and so does interpreter exit (``atexit``, each bounded by its
  ``close_timeout``; an asyncio write-behind whose loop no longer runs cannot write at
  exit: its queued writes are reported as abandoned).
- ``wb.stats()``: ``pending``, ``written``, ``failed``, ``retries``, ``coalesced``,
  ``rejected``, ``abandoned`` (``cache.stats()["write_behind"]`` sums the cache's
  write-behinds); ``wb.last_error``: the last writer failure.

What a crash loses: the queued writes not yet written (``pending``); the cache (L1 and
Redis) already holds their values. See docs/write-behind.md.
"""
from __future__ import annotations

import asyncio
import atexit
import inspect
import threading
import weakref
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Final, NamedTuple, Union

from ._config import TTL, ttl_seconds
from ._core import CacheCore, completer_for
from ._native import WB_SET, NativeWriteBehind, WriteAck

__all__ = ["WriteOp", "WriteBehind", "AsyncWriteBehind", "Writer", "AsyncWriter", "close_write_behinds"]


class WriteOp(NamedTuple):
    """One write handed to the writer."""

    kind: str  # "set" or "delete"
    key: str
    value: Any  # None for a delete
    attempt: int  # 1 for the first call, 2 for the first retry, ...


Writer = Callable[[WriteOp], Any]
AsyncWriter = Callable[[WriteOp], Union[Awaitable[Any], Any]]
FailureHook = Callable[[WriteOp, str], Any]

_DEFAULT_CLOSE_TIMEOUT: Final = 5.0


def _ms(seconds: float | None) -> int:
    """A timeout in ms for the native calls: None waits forever (-1)."""
    return -1 if seconds is None else max(0, int(seconds * 1000))


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _Base:
    __slots__ = ("_core", "_native", "_writer", "_on_failure", "_close_timeout", "__weakref__")

    def __init__(self, core: CacheCore, writer: Callable[[WriteOp], Any], *, max_pending: int, max_retries: int,
                 backoff: float, backoff_max: float, jitter: float, workers: int, close_timeout: float,
                 on_failure: FailureHook | None, completer: Any) -> None:
        if not callable(writer):
            raise TypeError(f"writer must be callable, not {type(writer).__name__!r}")
        if close_timeout < 0:
            raise ValueError("close_timeout must not be negative")
        self._core = core
        self._writer = writer
        self._on_failure = on_failure
        self._close_timeout = close_timeout
        options = {"max_pending": max_pending, "max_retries": max_retries, "backoff_initial_ms": _ms(backoff),
                   "backoff_max_ms": _ms(backoff_max), "backoff_jitter": jitter, "workers": workers,
                   "close_timeout_ms": _ms(close_timeout)}
        self._native = NativeWriteBehind(core.native, self._dispatch, self._failed, options, completer)
        _register(core, self)

    def _op(self, kind: int, key: str, value: Any, attempt: int) -> WriteOp:
        if kind == WB_SET and self._core._pickle is not None:
            value = self._core._pickle.loads(key, value)
        return WriteOp("set" if kind == WB_SET else "delete", key, value if kind == WB_SET else None, attempt)

    def _dispatch(self, kind: int, key: str, value: Any, attempt: int, ack: WriteAck) -> None:
        raise NotImplementedError

    def _failed(self, kind: int, key: str, value: Any, message: str) -> None:
        if self._on_failure is not None:
            self._on_failure(self._op(kind, key, value, 0), message)

    def _stored(self, key: str, value: Any) -> Any:
        return self._core._pickle.dumps(key, value) if self._core._pickle is not None else value

    def stats(self) -> dict[str, int]:
        """``pending``, ``written``, ``failed``, ``retries``, ``coalesced``, ``rejected``, ``abandoned``."""
        stats: dict[str, int] = self._native.stats()
        return stats

    @property
    def last_error(self) -> str:
        """The last writer failure as ``"key: CODE: message"`` ("" if none)."""
        error: str = self._native.last_error()
        return error

    @property
    def closed(self) -> bool:
        closed: bool = self._native.closed
        return closed

    def _close_bounded(self) -> None:
        if not self._native.closed:
            self._native.close(_ms(self._close_timeout))
        _forget(self)


class WriteBehind(_Base):
    """The write-behind of a :class:`Cache`: the writer runs on library worker threads."""

    __slots__ = ()

    def _dispatch(self, kind: int, key: str, value: Any, attempt: int, ack: WriteAck) -> None:
        try:
            self._writer(self._op(kind, key, value, attempt))
        except Exception as exc:
            ack(_why(exc))
            return
        ack(None)

    def set(self, key: str, value: Any, ttl: TTL | None = None) -> None:
        seconds = ttl_seconds(ttl)
        self._native.set(key, self._stored(key, value), _ms(seconds) if seconds is not None else -1)

    def delete(self, key: str) -> None:
        self._native.delete(key)

    def flush(self, timeout: float | None = None) -> bool:
        """True once every write queued before the call was written or failed; False at the timeout."""
        flushed: bool = self._native.flush(_ms(timeout))
        return flushed

    def close(self, timeout: float | None = None) -> int:
        """Flush (``timeout``; None: ``close_timeout``) and stop; how many writes were abandoned."""
        abandoned: int = self._native.close(_ms(self._close_timeout if timeout is None else timeout))
        _forget(self)
        return abandoned

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class AsyncWriteBehind(_Base):
    """The write-behind of an :class:`AsyncCache`: the writer is awaited on the loop that
    opened it (its calls come through the loop's completion queue)."""

    __slots__ = ("_loop", "_tasks")

    def __init__(self, core: CacheCore, writer: AsyncWriter, **options: Any) -> None:
        self._loop = asyncio.get_running_loop()
        self._tasks: set[asyncio.Task[None]] = set()
        super().__init__(core, writer, workers=0, completer=completer_for(self._loop), **options)

    def _dispatch(self, kind: int, key: str, value: Any, attempt: int, ack: WriteAck) -> None:
        task = self._loop.create_task(self._write(self._op(kind, key, value, attempt), ack))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, op: WriteOp, ack: WriteAck) -> None:
        try:
            result = self._writer(op)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            ack(_why(exc))
            return
        ack(None)

    async def _off_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        # The native call may wait for Redis (set/delete) or for this loop's own writes
        # (flush/close): a worker thread waits while the loop keeps running.
        return await self._loop.run_in_executor(None, fn, *args)

    async def set(self, key: str, value: Any, ttl: TTL | None = None) -> None:
        seconds = ttl_seconds(ttl)
        stored = self._stored(key, value)
        ttl_ms = _ms(seconds) if seconds is not None else -1
        if not self._core.l2:
            return self._native.set(key, stored, ttl_ms)  # L1 only: no network wait
        await self._off_loop(self._native.set, key, stored, ttl_ms)

    async def delete(self, key: str) -> None:
        if not self._core.l2:
            return self._native.delete(key)
        await self._off_loop(self._native.delete, key)

    async def flush(self, timeout: float | None = None) -> bool:
        flushed: bool = await self._off_loop(self._native.flush, _ms(timeout))
        return flushed

    async def close(self, timeout: float | None = None) -> int:
        abandoned: int = await self._off_loop(self._native.close,
                                              _ms(self._close_timeout if timeout is None else timeout))
        _forget(self)
        return abandoned

    def _close_bounded(self) -> None:
        # At exit the loop no longer drains: whatever is queued is abandoned (and reported).
        if not self._native.closed:
            running = not self._loop.is_closed() and self._loop.is_running()
            self._native.close(_ms(self._close_timeout) if running else 0)
        _forget(self)

    async def __aenter__(self) -> AsyncWriteBehind:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()


# The open write-behinds, per cache core: closed (flushed) before their cache, and at
# exit. Held strongly: a write-behind the program dropped without closing still writes
# what it queued (like a running thread), until its cache closes or the process exits.
_open: weakref.WeakKeyDictionary[CacheCore, set[_Base]] = weakref.WeakKeyDictionary()
_open_lock = threading.Lock()


def _register(core: CacheCore, wb: _Base) -> None:
    with _open_lock:
        _open.setdefault(core, set()).add(wb)


def _forget(wb: _Base) -> None:
    with _open_lock:
        members = _open.get(wb._core)
        if members is not None:
            members.discard(wb)


def _open_of(core: CacheCore | None) -> list[_Base]:
    with _open_lock:
        sets = [_open.get(core)] if core is not None else list(_open.values())
        return [wb for s in sets if s is not None for wb in list(s) if not wb.closed]


def close_write_behinds(core: CacheCore) -> None:
    """Close (flush, bounded by each one's close_timeout) the write-behinds of a cache."""
    for wb in _open_of(core):
        wb._close_bounded()


async def aclose_write_behinds(core: CacheCore) -> None:
    """The same from a coroutine: an asyncio write-behind's writes run on this loop."""
    for wb in _open_of(core):
        if isinstance(wb, AsyncWriteBehind):
            await wb.close()
        else:
            wb._close_bounded()


@atexit.register
def _close_all_at_exit() -> None:
    for wb in _open_of(None):
        try:
            wb._close_bounded()
        except Exception:  # noqa: BLE001 - exit goes on; abandoned writes were reported to on_failure
            pass
