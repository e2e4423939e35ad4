"""One native handle plus what the Python layer adds to it: the signed-pickle codec,
fail-silently bookkeeping, and the submissions of AsyncCache (one completion queue per
event loop, drained on the loop's thread).

``Cache`` and ``AsyncCache`` are thin views over a ``CacheCore``; the process-wide
pair shares one (one L1, one connection pool). The decorators call the core directly
so that a hit costs one native call.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Final

from . import _logging
from ._config import Settings
from ._metrics import derive
from ._native import MISSING, CacheError, Completer, Lease, NativeCache
from ._serializers import SignedPickle

__all__ = ["CacheCore", "logger", "LOG_INTERVAL_S"]

logger: Final = logging.getLogger("stratacache")
LOG_INTERVAL_S: Final = 10.0


class CacheCore:
    """Owns a ``NativeCache``. ``get``/``set``/``get_many``/``set_many`` are the native
    methods themselves, or signed-pickle wrappers around them."""

    __slots__ = ("settings", "native", "enabled", "fail_silently", "l2", "get", "set", "get_many", "set_many",
                 "errors_absorbed", "values_rejected", "closed", "on_close", "_pickle", "_lock",
                 "_log_limit", "__weakref__")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.native = NativeCache(
            settings.url,
            options=dict(settings.native_options) or None,
            keys=list(settings.encryption_keys) or None,
            serializer=settings.native_serializer,
        )
        _logging.autowire()
        self.enabled = settings.enabled
        self.fail_silently = settings.fail_silently
        self.l2: bool = self.native.l2_enabled
        self.errors_absorbed = 0
        self.values_rejected = 0
        self.closed = False
        self.on_close: Callable[[CacheCore], None] | None = None
        self._lock = threading.Lock()
        self._log_limit = _logging.RateLimiter(1, LOG_INTERVAL_S)
        self._pickle: SignedPickle | None = None
        self.get: Callable[..., Any]
        self.set: Callable[..., None]
        self.get_many: Callable[..., list[Any]]
        self.set_many: Callable[..., None]
        if settings.serializer == "pickle":
            assert settings.pickle_secret is not None  # resolve_settings guarantees it
            self._pickle = SignedPickle(settings.pickle_secret, self._rejected)
            self.get, self.set = self._pickle_get, self._pickle_set
            self.get_many, self.set_many = self._pickle_get_many, self._pickle_set_many
        else:
            native = self.native
            self.get, self.set, self.get_many, self.set_many = native.get, native.set, native.get_many, native.set_many

    # ---- signed pickle -------------------------------------------------------------
    def _pickle_get(self, key: str | bytes, **kwargs: Any) -> Any:
        assert self._pickle is not None
        return self._pickle.loads(key, self.native.get(key, **kwargs))

    def _pickle_set(self, key: str | bytes, value: Any, ttl: float | None = None, **kwargs: Any) -> None:
        assert self._pickle is not None
        self.native.set(key, self._pickle.dumps(key, value), ttl, **kwargs)

    def _pickle_get_many(self, keys: list[str | bytes], **kwargs: Any) -> list[Any]:
        assert self._pickle is not None
        loads = self._pickle.loads
        return [loads(k, v) for k, v in zip(keys, self.native.get_many(keys, **kwargs))]

    def _pickle_set_many(self, items: list[tuple[str | bytes, Any]], ttl: float | None = None, **kwargs: Any) -> None:
        assert self._pickle is not None
        dumps = self._pickle.dumps
        self.native.set_many([(k, dumps(k, v)) for k, v in items], ttl, **kwargs)

    def _rejected(self, key: str | bytes) -> None:
        with self._lock:
            self.values_rejected += 1
        self._log("pickle", "refused a value without a valid signature for key %r (treated as a miss)", key)

    # ---- read-through (stratacache._read_through drives these) ----------------------
    def acquire(self, key: str | bytes, options: dict[str, Any]) -> tuple[Any, int, Lease | None]:
        """``NativeCache.acquire``, the value unpickled in pickle mode."""
        value, info, lease = self.native.acquire(key, **options)
        if self._pickle is not None and value is not MISSING:
            value = self._pickle.loads(key, value)
        return value, info, lease

    async def aacquire(self, key: str | bytes, options: dict[str, Any]) -> tuple[Any, int, Lease | None]:
        value, info, lease = await self._submit(self.native.acquire_async, key, **options)
        if self._pickle is not None and value is not MISSING:
            value = self._pickle.loads(key, value)
        return value, info, lease

    def fill(self, lease: Lease, value: Any, ttl: float | None) -> bool:
        """``Lease.fill``, stored as ``set`` stores (signed pickle in pickle mode)."""
        return lease.fill(self._pickle.dumps(lease.key, value) if self._pickle is not None else value, ttl)

    async def afill(self, lease: Lease, value: Any, ttl: float | None) -> bool:
        stored = self._pickle.dumps(lease.key, value) if self._pickle is not None else value
        filled: bool = await self._submit(lease.fill_async, stored, ttl)
        return filled

    async def afill_not_found(self, lease: Lease) -> None:
        await self._submit(lease.fill_not_found_async)

    def load_failed(self, key: str | bytes, exc: BaseException) -> None:
        """Log (rate-limited) a loader that raised while a stale value was served."""
        self._log("load", "loading %r failed, serving the stale value: %s: %s", key, type(exc).__name__, exc)

    # ---- fail-silently -------------------------------------------------------------
    def absorbed(self, op: str, exc: BaseException) -> None:
        """Count and (rate-limited) log a connection error that was not raised."""
        with self._lock:
            self.errors_absorbed += 1
        self._log(op, "%s failed, continuing without the cache: %s: %s", op, type(exc).__name__, exc)

    def _log(self, kind: str, msg: str, *args: Any) -> None:
        admitted, suppressed = self._log_limit.admit(kind, time.monotonic())
        if not admitted:
            return
        if suppressed:
            msg += " (%d similar suppressed in the last %d s)"
            args = (*args, suppressed, int(LOG_INTERVAL_S))
        logger.warning("stratacache: " + msg, *args)

    # ---- asynchronous calls ---------------------------------------------------------
    # Every AsyncCache operation is one submission to the C ABI naming the running
    # loop's Completer (a completion queue whose eventfd the loop watches); the loop
    # drains it and the completion resolves the future on the loop's own thread. No
    # thread pool, no Python code on library threads.
    def _submit(self, submit: Callable[..., None], *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        submit(completer_for(loop), fut, *args, **kwargs)
        return fut

    async def aget(self, key: str | bytes) -> Any:
        value = await self._submit(self.native.get_async, key)
        return self._pickle.loads(key, value) if self._pickle is not None else value

    async def aset(self, key: str | bytes, value: Any, ttl: float | None, **tags: Any) -> None:
        stored = self._pickle.dumps(key, value) if self._pickle is not None else value
        await self._submit(self.native.set_async, key, stored, ttl, **tags)

    async def awarm(self, keys: list[str | bytes]) -> tuple[int, list[int], list[int], CacheError | None]:
        result: tuple[int, list[int], list[int], CacheError | None] = await self._submit(self.native.warm_async, keys)
        return result

    async def aget_many(self, keys: list[str | bytes]) -> list[Any]:
        values: list[Any] = await self._submit(self.native.get_many_async, keys)
        if self._pickle is None:
            return values
        loads = self._pickle.loads
        return [loads(k, v) for k, v in zip(keys, values)]

    async def aset_many(self, items: list[tuple[str | bytes, Any]], ttl: float | None, **tags: Any) -> None:
        if self._pickle is not None:
            dumps = self._pickle.dumps
            items = [(k, dumps(k, v)) for k, v in items]
        await self._submit(self.native.set_many_async, items, ttl, **tags)

    async def adelete(self, keys: tuple[str | bytes, ...] | list[str | bytes]) -> int:
        deleted: int = await self._submit(self.native.delete_async, keys)
        return deleted

    async def aexists(self, key: str | bytes) -> bool:
        exists: bool = await self._submit(self.native.exists_async, key)
        return exists

    async def attl(self, key: str | bytes) -> float | None:
        seconds: float | None = await self._submit(self.native.ttl_async, key)
        return seconds

    async def aincrement(self, key: str | bytes, amount: int, ttl: float | None) -> int:
        value: int = await self._submit(self.native.increment_async, key, amount, ttl)
        return value

    async def aclear_pattern(self, pattern: str | bytes) -> int:
        deleted: int = await self._submit(self.native.clear_pattern_async, pattern)
        return deleted

    async def ainvalidate_tags(self, tags: list[str | bytes]) -> int:
        removed: int = await self._submit(self.native.invalidate_tags_async, tags)
        return removed

    async def ahealth(self) -> dict[str, Any]:
        health: dict[str, Any] = await self._submit(self.native.health_async)
        return health

    async def aserver_info(self) -> dict[str, Any]:
        info: dict[str, Any] = await self._submit(self.native.server_info_async)
        return info

    # ---- lifecycle -----------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        out = dict(self.native.stats())
        out["errors_absorbed"] = self.errors_absorbed
        out["values_rejected"] = self.values_rejected
        return out

    def metrics(self) -> dict[str, Any]:
        return derive(self.native.metrics(), self.l2)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        callback, self.on_close = self.on_close, None
        if callback is not None:
            callback(self)
        self.native.close()


# One Completer per event loop, its fd registered with loop.add_reader(fd, completer.drain).
_completers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Completer] = weakref.WeakKeyDictionary()
_completers_lock = threading.Lock()


def completer_for(loop: asyncio.AbstractEventLoop) -> Completer:
    """The loop's Completer, made and registered on first use.

    A loop that cannot watch a file descriptor (``add_reader`` raises
    NotImplementedError, e.g. Windows' Proactor loop) is refused with a CacheError rather
    than served by polling: a poll from ``call_soon`` would either spin a core while
    anything is in flight or add its sleep to every call's latency. Linux's default
    selector loop and uvloop both have ``add_reader``.
    """
    try:
        return _completers[loop]
    except KeyError:
        pass
    with _completers_lock:
        if loop in _completers:
            return _completers[loop]
        completer = Completer()
        try:
            loop.add_reader(completer.fileno(), completer.drain)
        except NotImplementedError:
            raise CacheError(f"AsyncCache needs an event loop with add_reader(); {type(loop).__name__} has none "
                             "(use the default selector loop or uvloop)") from None
        _completers[loop] = completer
        return completer
