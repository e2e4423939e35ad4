"""One native handle plus what the Python layer adds to it: the signed-pickle codec,
fail-silently bookkeeping, and the executor that keeps network I/O off event loops.

``Cache`` and ``AsyncCache`` are thin views over a ``CacheCore``; the process-wide
pair shares one (one L1, one connection pool). The decorators call the core directly
so that a hit costs one native call.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, TypeVar

from ._config import Settings
from ._native import MISSING, CacheConnectionError, CacheError, Completer, NativeCache
from ._serializers import SignedPickle

__all__ = ["CacheCore", "logger", "LOG_INTERVAL_S"]

logger: Final = logging.getLogger("stratacache")
LOG_INTERVAL_S: Final = 10.0

T = TypeVar("T")


class CacheCore:
    """Owns a ``NativeCache``. ``get``/``set``/``get_many``/``set_many`` are the native
    methods themselves, or signed-pickle wrappers around them."""

    __slots__ = ("settings", "native", "enabled", "fail_silently", "l2", "get", "set", "get_many", "set_many",
                 "invalidations",
                 "errors_absorbed", "values_rejected", "closed", "on_close", "_pickle", "_executor", "_lock",
                 "_log_state", "__weakref__")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.native = NativeCache(
            settings.url,
            options=dict(settings.native_options) or None,
            keys=list(settings.encryption_keys) or None,
            serializer=settings.native_serializer,
        )
        self.enabled = settings.enabled
        self.fail_silently = settings.fail_silently
        self.l2: bool = self.native.l2_enabled
        self.errors_absorbed = 0
        self.invalidations = 0  # bumped around every invalidation; loads compare it
        self.values_rejected = 0
        self.closed = False
        self.on_close: Callable[[CacheCore], None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._log_state: dict[str, tuple[float, int]] = {}
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

    # ---- fail-silently -------------------------------------------------------------
    def absorbed(self, op: str, exc: BaseException) -> None:
        """Count and (rate-limited) log a connection error that was not raised."""
        with self._lock:
            self.errors_absorbed += 1
        self._log(op, "%s failed, continuing without the cache: %s: %s", op, type(exc).__name__, exc)

    def _log(self, kind: str, msg: str, *args: Any) -> None:
        now = time.monotonic()
        with self._lock:
            last, suppressed = self._log_state.get(kind, (-LOG_INTERVAL_S, 0))
            if now - last < LOG_INTERVAL_S:
                self._log_state[kind] = (last, suppressed + 1)
                return
            self._log_state[kind] = (now, 0)
        if suppressed:
            msg += " (%d similar suppressed in the last %d s)"
            args = (*args, suppressed, int(LOG_INTERVAL_S))
        logger.warning("stratacache: " + msg, *args)

    # ---- native asynchronous calls --------------------------------------------------
    # With Redis (standalone, Sentinel or Cluster), AsyncCache submits to the core's
    # shared, auto-pipelined connections and awaits a future resolved from the core's I/O
    # thread through the loop's Completer (no thread per request). Loops without
    # add_reader use the executor.
    @property
    def async_native(self) -> bool:
        return self.l2 and self.native.async_native

    async def aget(self, key: str | bytes) -> Any:
        loop = asyncio.get_running_loop()
        completer = completer_for(loop) if self.async_native else None
        if completer is None:
            return await self.run(self.get, key)
        fut = loop.create_future()
        self.native.get_async(key, completer, fut)
        value = await fut
        return self._pickle.loads(key, value) if self._pickle is not None else value

    async def aset(self, key: str | bytes, value: Any, ttl: float | None) -> None:
        loop = asyncio.get_running_loop()
        completer = completer_for(loop) if self.async_native else None
        if completer is None:
            await self.run(self.set, key, value, ttl)
            return
        stored = self._pickle.dumps(key, value) if self._pickle is not None else value
        fut = loop.create_future()
        self.native.set_async(key, stored, completer, fut, ttl)
        await fut

    async def adelete(self, keys: tuple[str | bytes, ...] | list[str | bytes]) -> int:
        loop = asyncio.get_running_loop()
        completer = completer_for(loop) if self.async_native else None
        if completer is None:
            return await self.run(self.native.delete, keys)
        fut = loop.create_future()
        self.native.delete_async(keys, completer, fut)
        deleted: int = await fut
        return deleted

    # ---- executor ------------------------------------------------------------------
    @property
    def executor(self) -> ThreadPoolExecutor:
        """Runs blocking native calls for AsyncCache; as many threads as connections."""
        ex = self._executor
        if ex is None:
            if self.closed:
                raise CacheError("cache is closed")
            with self._lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(max_workers=self.settings.pool_size,
                                                        thread_name_prefix="stratacache-io")
                ex = self._executor
        return ex

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` without blocking the loop when it may touch the network."""
        if not self.l2:
            return fn(*args, **kwargs)
        loop = asyncio.get_running_loop()
        call = functools.partial(fn, *args, **kwargs) if kwargs else functools.partial(fn, *args)
        return await loop.run_in_executor(self.executor, call)

    # ---- lifecycle -----------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        out = dict(self.native.stats())
        out["errors_absorbed"] = self.errors_absorbed
        out["values_rejected"] = self.values_rejected
        return out

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        callback, self.on_close = self.on_close, None
        if callback is not None:
            callback(self)
        ex, self._executor = self._executor, None
        if ex is not None:
            ex.shutdown(wait=False, cancel_futures=True)
        self.native.close()


# One Completer per event loop, registered with loop.add_reader; None for loops that
# cannot watch a descriptor (then AsyncCache falls back to its executor).
_completers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Completer | None] = weakref.WeakKeyDictionary()
_completers_lock = threading.Lock()


def _drain(completer: Completer) -> None:
    for fut, ok, value in completer.drain():
        if fut.done():  # cancelled while in flight: the result is dropped
            continue
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)


def completer_for(loop: asyncio.AbstractEventLoop) -> Completer | None:
    try:
        return _completers[loop]
    except KeyError:
        pass
    with _completers_lock:
        if loop in _completers:
            return _completers[loop]
        made = Completer()
        completer: Completer | None = made
        try:
            loop.add_reader(made.fileno(), _drain, made)
        except NotImplementedError:
            completer = None
        _completers[loop] = completer
        return completer
