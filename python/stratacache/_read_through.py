"""Read-through for Python loaders: ``Cache.get_or_set``, ``AsyncCache.get_or_set`` and
the miss path of ``@cached`` (docs/read-through.md).

The core does the coordination: ``NativeCache.acquire`` returns the value, or a
``Lease`` (the duty to load the key) to exactly one caller per key across threads, event
loops, languages on one handle and, through a lease in Redis, processes; the others
wait for that load. This module only runs the loader for the caller that got the lease
and settles the lease with the outcome:

- the loader returns: ``fill(value, ttl)``; ``None`` with ``negative_ttl`` set:
  ``fill_not_found()`` (the key "does not exist" for ``negative_ttl``; the result is
  None). A result the caller chose not to cache (``@cached``'s ``condition`` /
  ``unless``) is returned but not stored: ``abandon(retry=True)``, the waiters look
  again. One computed while the key was written, deleted or invalidated (here or, with
  coherent L1, in another process) is returned too, and the core refuses its fill: it
  may predate the change.
- the loader raises an ``Exception``: ``abandon(message)``. The caller gets the stale
  value when it has one (the entry is past ``ttl`` but within ``stale_ttl``; logged,
  rate-limited), else the loader's own exception; callers that waited for this load
  get ``CacheLoadError`` carrying its message, or their stale value. Exceptions are
  never cached: the next call loads again.
- cancelled (``BaseException``, e.g. ``CancelledError``): ``abandon(retry=True)``.
- an early refresh (``early_refresh`` > 0: XFetch, a caller is handed a lease on a
  still-fresh value with a probability that rises toward the end of its fresh period):
  the current value is returned at once and the loader runs in the background, for
  sync callers on a small pool of daemon threads named ``stratacache-refresh``, for
  coroutines as a task on the running loop.
- ``soft_timeout`` (async): a coroutine that holds a stale value and loads returns the
  stale value after ``soft_timeout`` seconds; the load goes on in the background and
  fills the lease. Callers waiting for another caller's load get their stale value
  after ``soft_timeout`` (the core does that). A synchronous loader always runs to
  completion: a thread cannot give up on a function it is running.
- ``hard_timeout`` bounds every wait of the call (Redis round trips, waiting for
  another caller's load), not the loader. When it passes, or Redis is unreachable, the
  ``CacheConnectionError`` (``CacheTimeoutError``) is raised, or with
  ``fail_silently`` absorbed: the loader runs and its result is returned uncached.
"""
from __future__ import annotations

import asyncio
import enum
import inspect
import math
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

from ._config import TTL, ttl_seconds
from ._core import CacheCore
from ._native import MISSING, CacheConnectionError, Lease

__all__ = ["LoadSpec", "load", "aload"]

Keep = Callable[[Any], bool]
TTLFor = Callable[[Any], "float | None"]


class LoadSpec:
    """The read-through settings of a ``get_or_set`` call or a ``@cached`` function,
    checked once; ``native`` are ``NativeCache.acquire``'s keyword arguments."""

    __slots__ = ("native", "negative", "soft_timeout", "early_refresh")

    def __init__(self, *, ttl: TTL | None = None, stale_ttl: TTL | None = None, negative_ttl: TTL | None = None,
                 early_refresh: float = 0.0, soft_timeout: TTL | None = None, hard_timeout: TTL | None = None,
                 lock: bool = True) -> None:
        if isinstance(early_refresh, bool) or not isinstance(early_refresh, (int, float)) \
                or not math.isfinite(early_refresh) or early_refresh < 0:
            raise ValueError(f"early_refresh must be a finite number >= 0 (1: XFetch's optimum), got {early_refresh!r}")
        seconds = {"ttl": ttl_seconds(ttl), "stale_ttl": ttl_seconds(stale_ttl, "stale_ttl"),
                   "negative_ttl": ttl_seconds(negative_ttl, "negative_ttl"),
                   "soft_timeout": ttl_seconds(soft_timeout, "soft_timeout"),
                   "timeout": ttl_seconds(hard_timeout, "hard_timeout")}
        self.native: dict[str, Any] = {k: v for k, v in seconds.items() if v is not None}
        if early_refresh:
            self.native["early_refresh"] = float(early_refresh)
        if not lock:
            self.native["lock"] = False
        self.negative = bool(seconds["negative_ttl"])
        self.soft_timeout = seconds["soft_timeout"]
        self.early_refresh = float(early_refresh)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__qualname__}: {exc}"


class _Settle(enum.Enum):
    """A verdict that is no fill."""

    NOT_FOUND = "the loader said 'does not exist' (None with negative_ttl)"
    RETRY = "return the result, store nothing, the waiters look again"


def _verdict(spec: LoadSpec, result: Any, keep: Keep | None, ttl_for: TTLFor | None) -> float | None | _Settle:
    """How to settle the lease for a loaded result: fill with a TTL (None: acquire's),
    fill_not_found, or abandon(retry=True)."""
    if result is None and spec.negative:
        return _Settle.NOT_FOUND
    if keep is not None and not keep(result):
        return _Settle.RETRY
    return ttl_for(result) if ttl_for is not None else None


def _serve_stale(core: CacheCore, lease: Lease, exc: BaseException, stale: Any) -> bool:
    """The loader raised: abandons the lease; True when ``stale`` is to be served
    instead, False when the exception is to propagate."""
    if not isinstance(exc, Exception):  # cancelled, interrupted: the waiters look again
        lease.abandon(retry=True)
        return False
    lease.abandon(_describe(exc))
    if stale is MISSING:
        return False
    core.load_failed(lease.key, exc)
    return True


def _settle(lease: Lease, verdict: _Settle) -> None:
    if verdict is _Settle.NOT_FOUND:
        lease.fill_not_found()
    else:
        lease.abandon(retry=True)


def _absorb(core: CacheCore, op: str, exc: CacheConnectionError) -> None:
    if not core.fail_silently:
        raise exc
    core.absorbed(op, exc)


# ---- synchronous -------------------------------------------------------------------

def load(core: CacheCore, key: str | bytes, call: Callable[[], Any], spec: LoadSpec, keep: Keep | None = None,
         ttl_for: TTLFor | None = None) -> tuple[Any, bool]:
    """(value, hit): the key's value, loading it with ``call()`` when this caller gets
    the lease. hit: served without loading in this call (a fresh value, another
    caller's load, a negative entry, or an early refresh handed to the background)."""
    try:
        value, _, lease = core.acquire(key, spec.native)
    except CacheConnectionError as exc:
        _absorb(core, "get_or_set", exc)
        return call(), False
    if lease is None:
        if value is not MISSING:
            return value, True
        if spec.negative:  # a negative entry: the key does not exist
            return None, True
        return call(), False  # a stored value this process cannot decode: load, uncached
    if lease.refresh:
        _refresh_later(lambda: _run(core, lease, call, spec, value, keep, ttl_for), lease)
        return value, True
    return _run(core, lease, call, spec, value, keep, ttl_for), False


def _run(core: CacheCore, lease: Lease, call: Callable[[], Any], spec: LoadSpec, stale: Any, keep: Keep | None,
         ttl_for: TTLFor | None) -> Any:
    """Runs the loader and settles the lease; ``stale`` (or MISSING) is served if it fails."""
    try:
        result = call()
        verdict = _verdict(spec, result, keep, ttl_for)
    except BaseException as exc:
        if not _serve_stale(core, lease, exc, stale):
            raise
        return stale
    try:
        if isinstance(verdict, _Settle):
            _settle(lease, verdict)
        else:
            core.fill(lease, result, verdict)
    except CacheConnectionError as exc:
        _absorb(core, "set", exc)
    return None if verdict is _Settle.NOT_FOUND else result


# ---- asynchronous ------------------------------------------------------------------

async def _value_of(call: Callable[[], Any]) -> Any:
    """A coroutine function's awaited result, or a plain callable's."""
    result = call()
    if inspect.isawaitable(result):
        result = await result
    return result


async def aload(core: CacheCore, key: str | bytes, call: Callable[[], Any], spec: LoadSpec, keep: Keep | None = None,
                ttl_for: TTLFor | None = None) -> tuple[Any, bool]:
    """``load`` for coroutines: ``call()`` may return an awaitable; nothing blocks the loop."""
    try:
        value, _, lease = await core.aacquire(key, spec.native)
    except CacheConnectionError as exc:
        _absorb(core, "get_or_set", exc)
        return await _value_of(call), False
    if lease is None:
        if value is not MISSING:
            return value, True
        if spec.negative:
            return None, True
        return await _value_of(call), False
    job = _arun(core, lease, call, spec, value, keep, ttl_for)
    if lease.refresh:
        _in_background(job)
        return value, True
    if value is not MISSING and spec.soft_timeout is not None:
        task = _in_background(job)
        try:
            return await asyncio.wait_for(asyncio.shield(task), spec.soft_timeout), False
        except asyncio.TimeoutError:
            return value, False  # the load goes on and fills the lease
    return await job, False


async def _arun(core: CacheCore, lease: Lease, call: Callable[[], Any], spec: LoadSpec, stale: Any,
                keep: Keep | None, ttl_for: TTLFor | None) -> Any:
    """_run for coroutines: the lease is settled by submissions (the loop never waits for Redis)."""
    try:
        result = await _value_of(call)
        verdict = _verdict(spec, result, keep, ttl_for)
    except BaseException as exc:
        if not _serve_stale(core, lease, exc, stale):
            raise
        return stale
    try:
        if verdict is _Settle.NOT_FOUND:
            await core.afill_not_found(lease)
        elif isinstance(verdict, _Settle):
            _settle(lease, verdict)
        else:
            await core.afill(lease, result, verdict)
    except CacheConnectionError as exc:
        _absorb(core, "set", exc)
    return None if verdict is _Settle.NOT_FOUND else result


# Background loads (early refresh, a load past soft_timeout): strong references until
# they finish (the loop keeps only weak ones).
_tasks: set[asyncio.Task[Any]] = set()


def _in_background(job: Any) -> asyncio.Task[Any]:
    task = asyncio.get_running_loop().create_task(job)
    _tasks.add(task)
    task.add_done_callback(_finished)
    return task


def _finished(task: asyncio.Task[Any]) -> None:
    _tasks.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: its caller may have returned the stale value already


# ---- early refresh threads ---------------------------------------------------------

class _RefreshThreads:
    """Runs synchronous early refreshes on at most ``workers`` daemon threads named
    ``stratacache-refresh`` (daemon: a refresh never holds up interpreter exit, unlike
    ThreadPoolExecutor's workers); at most ``backlog`` wait. One per process (a forked
    child makes its own: the parent's threads do not exist there)."""

    def __init__(self, workers: int = 4, backlog: int = 64) -> None:
        self.pid = os.getpid()
        self._jobs: queue.Queue[Callable[[], Any]] = queue.Queue(backlog)
        self._workers = workers
        self._started = 0
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], Any]) -> bool:
        """False when the backlog is full."""
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            return False
        with self._lock:
            if self._started < self._workers:
                self._started += 1
                threading.Thread(target=self._work, name="stratacache-refresh", daemon=True).start()
        return True

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception:  # noqa: S110 - _run logged it (a refresh serves the current value)
                pass


_threads: _RefreshThreads | None = None
_threads_lock = threading.Lock()


def _refresh_later(job: Callable[[], Any], lease: Lease) -> None:
    global _threads
    threads = _threads
    if threads is None or threads.pid != os.getpid():
        with _threads_lock:
            if _threads is None or _threads.pid != os.getpid():
                _threads = _RefreshThreads()
            threads = _threads
    if not threads.submit(job):
        lease.abandon(retry=True)  # too many refreshes queued: a later caller refreshes
