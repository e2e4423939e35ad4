"""``Cache`` (synchronous) and ``AsyncCache`` (asyncio): the same methods, the same
behaviour, over one native handle.

Failure contract (``fail_silently=True``, the default): a ``CacheConnectionError``
(Redis down, timed out, refused credentials) never reaches the caller. ``get`` and
``get_many`` treat it as a miss, ``exists`` says ``False``, ``get_ttl`` ``None``,
``delete``/``clear_pattern`` return ``0``, ``set``/``set_many`` do nothing,
``health_check`` reports ``healthy: False``. Each absorbed error is counted
(``stats()["errors_absorbed"]``) and logged on the ``"stratacache"`` logger at WARNING,
at most once per 10 s per operation. ``increment`` returns ``None`` (a counter value
can't be made up, but the app must keep running). Errors that are the
caller's (``TypeError`` for an unserializable value or a bad key, ``CacheValueError``,
``CacheWrongTypeError``) always propagate. With ``fail_silently=False`` everything
propagates. Writes and deletes still reach L1 when Redis fails.

``AsyncCache`` never blocks the event loop on network I/O and uses no thread pool:
``get`` first asks L1 only (no network, microseconds); every other call, and a ``get``
that misses L1, is submitted to the core (shared, auto-pipelined Redis connections) and
awaited. Its completion waits in the loop's completion queue (one per event loop: an
eventfd the loop watches with ``add_reader``) until the loop drains it, so results are
delivered, and futures resolved, on the loop's own thread. A submission returns at once;
the one exception is a Redis Cluster handle's first call, which loads the slot map
(bounded by ``socket_timeout``). The loop must have ``add_reader`` (the default loop on
Linux and uvloop do); others get a ``CacheError``.

``get_or_set(key, loader, ttl, ...)`` is read-through (``stratacache._read_through``,
docs/read-through.md): the loader runs once per key across threads, event loops and
processes while the others wait for it; stale values, negative entries and early
refresh are options. A loader's exception is the caller's, never cached; callers that
waited for that load get ``CacheLoadError``. ``fail_silently`` absorbs a Redis outage
or a ``hard_timeout`` there too: the loader runs and its result is returned uncached.
"""
from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar, Union

from ._config import TTL, resolve_settings, ttl_seconds
from ._core import CacheCore
from ._native import MISSING, CacheConnectionError, CacheError
from ._lock import AsyncLock, Lock
from ._read_through import LoadSpec, aload, load
from ._write_behind import (AsyncWriteBehind, AsyncWriter, FailureHook, WriteBehind, Writer, aclose_write_behinds,
                            close_write_behinds)
from ._tags import names, write_options

__all__ = ["Cache", "AsyncCache", "Key"]

Key = Union[str, bytes]
_C = TypeVar("_C", bound="_Base")

# The coherence fields describe L1 (option ``l1_coherence``): the mode in effect
# ("tracking", "broadcast" or "off"), whether every invalidation channel is up (reads
# fill L1 only while it is; always True when off), how many channels (one per Redis
# server, 0 when off) and the last channel error ("" if none).
_HEALTH_KEYS = ("healthy", "latency_ms", "version", "used_memory", "used_memory_bytes", "connected_clients",
                "uptime_seconds", "coherence", "coherence_up", "coherence_channels", "coherence_error")


def _health(raw: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: raw.get(k) for k in _HEALTH_KEYS}
    out["healthy"] = bool(out["healthy"])
    if not out["healthy"] and raw.get("error"):
        out["error"] = raw["error"]
    return out


def _unhealthy(exc: BaseException) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(_HEALTH_KEYS)
    out["healthy"] = False
    out["error"] = f"{type(exc).__name__}: {exc}"
    return out


def _ttl_out(seconds: float | None) -> int | None:
    if seconds is None:
        return None
    if seconds < 0:
        return -1
    return math.ceil(seconds)


def _items(items: Mapping[Any, Any] | Iterable[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    return list(items.items() if isinstance(items, Mapping) else items)


class _Base:
    __slots__ = ("_core",)

    def __init__(self, url: str | None = None, **options: Any) -> None:
        """Open a cache. ``url`` as in the README (``mem://``, ``redis://...``,
        ``rediss://...``); None takes it from the environment (``REDIS_URL``, ...). ``options``: ``enabled``,
        ``fail_silently``, ``default_ttl``, ``serializer`` (msgpack, json, pickle),
        ``pickle_secret``, ``encryption_keys``, ``shared`` and any URL parameter by name.
        ``shared="name"`` opens a handle on the process-wide cache of that name, which
        other languages in this process open through the C ABI
        (``stratacache_open_shared`` on :func:`stratacache.library_path`): one L1, one
        set of Redis connections; closing this handle leaves theirs open."""
        self._core = CacheCore(resolve_settings(url, options))

    @classmethod
    def _over(cls: type[_C], core: CacheCore) -> _C:
        self = cls.__new__(cls)
        self._core = core
        return self

    @property
    def url(self) -> str:
        return self._core.settings.url

    @property
    def fail_silently(self) -> bool:
        return self._core.fail_silently

    @property
    def enabled(self) -> bool:
        """Whether ``@cached`` functions using this cache cache at all."""
        return self._core.enabled

    @property
    def l2_enabled(self) -> bool:
        return self._core.l2

    @property
    def closed(self) -> bool:
        return self._core.closed

    def stats(self) -> dict[str, Any]:
        """The native counters (``l1``, ``l2``, ``decode_errors``; the README lists them)
        plus ``errors_absorbed`` and ``values_rejected`` (unsigned pickles refused).
        L1 coherence counts under ``l1``: ``invalidations`` (keys Redis reported
        changed), ``coherence_flushes`` (L1 emptied because coverage was lost) and its
        reasons ``flushes_channel``, ``flushes_connection``, ``flushes_topology``,
        ``flushes_server``, ``flushes_fork``; the promotion threshold's
        ``promotions_deferred`` and ``promotions``. Read-through counts under
        ``read_through``: ``loads``, ``load_failures``, ``stale_served``,
        ``lease_waits``, ``lease_takeovers``, ``early_refreshes``, ``negative_hits``,
        ``fills_refused`` (docs/read-through.md). Write-behind counts under
        ``write_behind`` (the sum over this cache's write-behinds): ``pending``,
        ``written``, ``failed``, ``retries``, ``coalesced``, ``rejected``, ``abandoned``
        (docs/write-behind.md). Bytes to and from Redis count under ``l2``
        (``bytes_read``, ``bytes_written``), encoding under ``codec``
        (``payload_bytes``, ``encoded_bytes``; docs/metrics.md)."""
        return self._core.stats()

    def metrics(self) -> dict[str, Any]:
        """Counters and latency histograms with ``hit_rate``, ``miss_rate``,
        ``avg_access_time_ms``, per-tier figures and percentiles (``stratacache._metrics``
        says how each is derived; docs/metrics.md lists every native key). Never touches
        the network, so ``AsyncCache`` has it too, as a plain method."""
        return self._core.metrics()

    def flush_local(self) -> None:
        """Drop this process's L1 copies (Redis untouched)."""
        self._core.native.flush_l1()

    def _warmed(self, keys: list[Key], raw: tuple[int, list[int], list[int], CacheError | None]) -> dict[str, Any]:
        found, missing, failed, error = raw
        if isinstance(error, CacheConnectionError):
            self._absorb("warm", error)
        elif error is not None:
            raise error
        return {"found": found, "loaded": 0, "missing": [keys[i] for i in missing],
                "failed": [keys[i] for i in failed]}

    @staticmethod
    def _loaded(result: dict[str, Any], key: Key, value: Any, spec: LoadSpec) -> None:
        # A loader's None is "does not exist" only with a negative_ttl (get_or_set's rule).
        if value is None and spec.negative:
            result["missing"].append(key)
        else:
            result["loaded"] += 1

    def _absorb(self, op: str, exc: CacheConnectionError) -> None:
        if not self._core.fail_silently:
            raise exc
        self._core.absorbed(op, exc)

    def __repr__(self) -> str:
        state = "closed" if self._core.closed else "open"
        return f"<{type(self).__name__} {self._core.settings.url!r} {state}>"


class Cache(_Base):
    """A synchronous cache: L1 in this process, L2 in Redis (if the URL names one)."""

    __slots__ = ()

    def get(self, key: Key, default: Any = None) -> Any:
        """The value, or ``default`` on a miss."""
        core = self._core
        try:
            value = core.get(key)
        except CacheConnectionError as exc:
            self._absorb("get", exc)
            return default
        return default if value is MISSING else value

    def set(self, key: Key, value: Any, ttl: TTL | None = None, *, tags: Iterable[str] | None = None,
            depends_on: Iterable[Key] | None = None) -> None:
        """Store ``value`` for ``ttl`` (seconds or timedelta; None: the default TTL,
        0: never expire). ``tags``: :meth:`invalidate_tags` of one removes it;
        ``depends_on``: writing, deleting or invalidating one of these keys removes it
        (docs/tags.md)."""
        try:
            if tags is None and depends_on is None:
                self._core.set(key, value, ttl_seconds(ttl))
            else:
                self._core.set(key, value, ttl_seconds(ttl), **write_options(tags, depends_on))
        except CacheConnectionError as exc:
            self._absorb("set", exc)

    def invalidate_tags(self, *tags: str) -> int:
        """Remove every entry written with one of ``tags`` (and their dependents) from
        L1 and L2, in every process (docs/tags.md); the number removed."""
        listed = names(tags, "tags")
        if not listed:
            return 0
        try:
            removed: int = self._core.native.invalidate_tags(listed)
            return removed
        except CacheConnectionError as exc:
            self._absorb("invalidate_tags", exc)
            return 0

    def get_or_set(self, key: Key, loader: Callable[[], Any], ttl: TTL | None = None, *,
                   stale_ttl: TTL | None = None, negative_ttl: TTL | None = None, early_refresh: float = 0,
                   soft_timeout: TTL | None = None, hard_timeout: TTL | None = None, lock: bool = True) -> Any:
        """The value of ``key``; on a miss ``loader()`` runs (once per key across threads
        and processes: the other callers wait for it) and its result is stored for ``ttl``.

        ``stale_ttl``: after ``ttl``, keep the value this long more and serve it when a
        reload fails (the loader raises), times out or Redis is unavailable.
        ``negative_ttl``: a loader returning None means "does not exist", remembered this
        long (get_or_set returns None); without it None is an ordinary value.
        ``early_refresh``: XFetch's beta (1: optimal); a caller near the end of ``ttl``
        reloads in the background while everyone gets the current value.
        ``soft_timeout``: callers holding a stale value wait at most this long for
        another caller's load. ``hard_timeout``: bound on every wait of the call
        (CacheTimeoutError, unless fail_silently: then the loader runs, uncached).
        ``lock=False``: one load per process instead of one in total. The loader runs
        on the calling thread, to completion."""
        spec = LoadSpec(ttl=ttl, stale_ttl=stale_ttl, negative_ttl=negative_ttl, early_refresh=early_refresh,
                        soft_timeout=soft_timeout, hard_timeout=hard_timeout, lock=lock)
        return load(self._core, key, loader, spec)[0]

    def warm(self, keys: Iterable[Key], loader: Callable[[Key], Any] | None = None, ttl: TTL | None = None,
             **load_options: Any) -> dict[str, Any]:
        """Fill this process's L1 from Redis: the keys are read in batches (1000 per
        round trip, per node on a Cluster) and every value found enters L1, past the
        promotion threshold (``l1_promote_after``). With ``loader``, each key Redis lacks
        is then loaded as ``get_or_set(key, lambda: loader(key), ttl, **load_options)``
        does (one load per key across processes).

        Returns ``{"found": n, "loaded": n, "missing": [keys], "failed": [keys]}``;
        ``failed`` are keys Redis did not answer for (absorbed when fail_silently,
        else the first failure is raised)."""
        keys = list(keys)
        result = self._warmed(keys, self._core.native.warm(keys)) if keys else self._warmed([], (0, [], [], None))
        if loader is None:
            return result
        spec = LoadSpec(ttl=ttl, **load_options)
        missing, result["missing"] = result["missing"], []
        for key in missing:
            self._loaded(result, key, load(self._core, key, functools.partial(loader, key), spec)[0], spec)
        return result

    def exists(self, key: Key) -> bool:
        try:
            return self._core.native.exists(key)
        except CacheConnectionError as exc:
            self._absorb("exists", exc)
            return False

    def get_ttl(self, key: Key) -> int | None:
        """Seconds left, rounded up; -1 if the key never expires; None if missing."""
        try:
            return _ttl_out(self._core.native.ttl(key))
        except CacheConnectionError as exc:
            self._absorb("get_ttl", exc)
            return None

    def delete(self, *keys: Key) -> int:
        """Delete keys from L1 and L2; the number that existed."""
        if not keys:
            return 0
        core = self._core
        try:
            return core.native.delete(keys)
        except CacheConnectionError as exc:
            self._absorb("delete", exc)
            return 0

    def clear_pattern(self, pattern: str) -> int:
        """Delete every key matching a Redis glob (``*``, ``?``, ``[...]``, ``\\``) from
        L1 and L2; the number deleted."""
        core = self._core
        try:
            return core.native.clear_pattern(pattern)
        except CacheConnectionError as exc:
            self._absorb("clear_pattern", exc)
            return 0

    def count_pattern(self, pattern: str) -> int:
        """How many keys match a Redis glob, deleting nothing (``clear_pattern``'s dry
        run): SCAN on every Redis master, or the L1 entries of an L1-only cache. A tool's
        call: connection errors raise, whatever ``fail_silently`` says."""
        return self._core.native.count_pattern(pattern)

    def inspect(self, key: Key) -> dict[str, Any] | None:
        """How ``key`` is stored, without decoding it (None when it is missing):
        ``tier`` (``'l2'``: read from Redis; ``'l1'``: an L1-only cache), ``in_l1``,
        ``kind`` (``'envelope'``, ``'counter'``, ``'foreign'``, ``'payload'``),
        ``serializer``, ``compression``, ``encrypted``, ``key_id``, ``stored_bytes``,
        ``payload_bytes``, ``ttl_ms`` (-1: no expiry), the read-through metadata
        ``negative``, ``stale_ms``, ``load_ms``, ``stale``, and ``error`` (an envelope
        header that does not parse). docs/envelope.md describes the fields. A tool's
        call: connection errors raise, whatever ``fail_silently`` says."""
        return self._core.native.inspect(key)

    def increment(self, key: Key, amount: int = 1, ttl: TTL | None = None) -> int | None:
        """Atomically add ``amount``; a new counter starts at 0 and gets ``ttl``.
        When Redis is unreachable and fail_silently is on, returns None (a counter
        value can't be made up, and an outage must not raise into the app)."""
        try:
            return self._core.native.increment(key, amount, ttl_seconds(ttl))
        except CacheConnectionError as exc:
            self._absorb("increment", exc)
            return None

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Any]:
        """``{key: value}`` for the keys that hit (one L2 round trip)."""
        keys = list(keys)
        if not keys:
            return {}
        try:
            values = self._core.get_many(keys)
        except CacheConnectionError as exc:
            self._absorb("get_many", exc)
            return {}
        return {k: v for k, v in zip(keys, values) if v is not MISSING}

    def set_many(self, items: Mapping[Key, Any] | Iterable[tuple[Key, Any]], ttl: TTL | None = None, *,
                 tags: Iterable[str] | None = None, depends_on: Iterable[Key] | None = None) -> None:
        pairs = _items(items)
        if not pairs:
            return
        try:
            self._core.set_many(pairs, ttl_seconds(ttl), **write_options(tags, depends_on))
        except CacheConnectionError as exc:
            self._absorb("set_many", exc)

    def health_check(self) -> dict[str, Any]:
        """``{'healthy', 'latency_ms', 'version', 'used_memory', 'used_memory_bytes', 'connected_clients',
        'uptime_seconds', 'coherence', 'coherence_up', 'coherence_channels',
        'coherence_error'}`` (plus ``'error'`` when unhealthy). ``coherence`` is the L1
        coherence mode in effect (``'tracking'``, ``'broadcast'``, ``'off'``);
        ``used_memory`` is Redis's human form (``'2.50M'``), ``used_memory_bytes`` the
        number (on a Cluster, the masters' sum);
        ``coherence_up`` whether every invalidation channel is up (reads fill L1 only
        while it is); ``coherence_channels`` how many (one per Redis server);
        ``coherence_error`` the last channel error (``''`` if none). When a connection
        error is absorbed instead (``fail_silently``), every field but ``healthy`` and
        ``error`` is None."""
        try:
            return _health(self._core.native.health())
        except CacheConnectionError as exc:
            self._absorb("health_check", exc)
            return _unhealthy(exc)

    def server_info(self) -> dict[str, Any]:
        """Redis ``INFO`` of every node this cache knows (standalone: the server;
        Sentinel: the current master; Cluster: every master and replica), parsed:
        ``{'nodes': [{'address', 'role', 'version', 'error', 'connected_clients',
        'used_memory_bytes', 'used_memory_human', 'keyspace_hits', 'keyspace_misses',
        'evicted_keys', 'expired_keys', 'keys': {'db0': n}}], 'total': {the numbers
        summed}}`` (docs/operations.md). A node that did not answer is listed with its
        ``error``. Raises :class:`CacheConnectionError` when no node answered (never
        absorbed: this is a diagnostic) and :class:`CacheError` for ``mem://``, which
        has no server."""
        return self._core.native.server_info()

    def write_behind(self, writer: Writer, *, max_pending: int = 10000, max_retries: int = 5,
                     backoff: float = 0.1, backoff_max: float = 10.0, jitter: float = 0.2, workers: int = 1,
                     close_timeout: float = 5.0, on_failure: FailureHook | None = None) -> WriteBehind:
        """A write-behind queue in front of ``writer`` (docs/write-behind.md)."""
        return WriteBehind(self._core, writer, max_pending=max_pending, max_retries=max_retries, backoff=backoff,
                           backoff_max=backoff_max, jitter=jitter, workers=workers, close_timeout=close_timeout,
                           on_failure=on_failure, completer=None)
    def lock(self, name: str | bytes, timeout: float = 30.0, blocking_timeout: float | None = None, *,
             blocking: bool = True) -> Lock:
        """A distributed lock (``with cache.lock(...) as lk``; docs/locks.md): ``timeout``
        is its lifetime in seconds, ``blocking_timeout`` how long to wait for it."""
        return Lock(self._core, name, timeout, blocking_timeout, blocking)

    def close(self) -> None:
        """Close the handle and its connections (its write-behinds first); later calls raise CacheError."""
        close_write_behinds(self._core)
        self._core.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class AsyncCache(_Base):
    """The asyncio cache: ``Cache``'s methods as coroutines; never blocks the loop."""

    __slots__ = ()

    async def get(self, key: Key, default: Any = None) -> Any:
        core = self._core
        try:
            value = core.get(key, skip_l2=True)  # L1 only: no network
            if value is MISSING and core.l2:
                value = await core.aget(key)
        except CacheConnectionError as exc:
            self._absorb("get", exc)
            return default
        return default if value is MISSING else value

    async def set(self, key: Key, value: Any, ttl: TTL | None = None, *, tags: Iterable[str] | None = None,
                  depends_on: Iterable[Key] | None = None) -> None:
        core = self._core
        try:
            await core.aset(key, value, ttl_seconds(ttl), **write_options(tags, depends_on))
        except CacheConnectionError as exc:
            self._absorb("set", exc)

    async def invalidate_tags(self, *tags: str) -> int:
        """As :meth:`Cache.invalidate_tags`."""
        listed = names(tags, "tags")
        if not listed:
            return 0
        try:
            return await self._core.ainvalidate_tags(listed)
        except CacheConnectionError as exc:
            self._absorb("invalidate_tags", exc)
            return 0

    async def get_or_set(self, key: Key, loader: Callable[[], Awaitable[Any] | Any], ttl: TTL | None = None, *,
                         stale_ttl: TTL | None = None, negative_ttl: TTL | None = None, early_refresh: float = 0,
                         soft_timeout: TTL | None = None, hard_timeout: TTL | None = None,
                         lock: bool = True) -> Any:
        """As :meth:`Cache.get_or_set`; ``loader`` is a coroutine function or a plain
        callable. An early refresh runs as a task on the running loop. With
        ``soft_timeout``, a caller that loads while it holds a stale value returns the
        stale value after ``soft_timeout``; the load goes on in the background."""
        spec = LoadSpec(ttl=ttl, stale_ttl=stale_ttl, negative_ttl=negative_ttl, early_refresh=early_refresh,
                        soft_timeout=soft_timeout, hard_timeout=hard_timeout, lock=lock)
        return (await aload(self._core, key, loader, spec))[0]

    async def warm(self, keys: Iterable[Key], loader: Callable[[Key], Awaitable[Any] | Any] | None = None,
                   ttl: TTL | None = None, *, concurrency: int = 16, **load_options: Any) -> dict[str, Any]:
        """As :meth:`Cache.warm`; ``loader`` is a coroutine function or a plain callable,
        run for at most ``concurrency`` keys at a time."""
        keys = list(keys)
        try:
            raw = await self._core.awarm(keys) if keys else (0, [], [], None)
        except CacheConnectionError as exc:  # refused before it ran (e.g. no event loop reader)
            raw = (0, [], list(range(len(keys))), exc)
        result = self._warmed(keys, raw)
        if loader is None:
            return result
        spec = LoadSpec(ttl=ttl, **load_options)
        missing, result["missing"] = result["missing"], []
        gate = asyncio.Semaphore(max(1, concurrency))

        async def one(key: Key) -> None:
            async with gate:
                self._loaded(result, key, (await aload(self._core, key, functools.partial(loader, key), spec))[0], spec)

        await asyncio.gather(*(one(k) for k in missing))
        return result

    async def exists(self, key: Key) -> bool:
        try:
            return await self._core.aexists(key)
        except CacheConnectionError as exc:
            self._absorb("exists", exc)
            return False

    async def get_ttl(self, key: Key) -> int | None:
        try:
            return _ttl_out(await self._core.attl(key))
        except CacheConnectionError as exc:
            self._absorb("get_ttl", exc)
            return None

    async def delete(self, *keys: Key) -> int:
        if not keys:
            return 0
        core = self._core
        try:
            return await core.adelete(keys)
        except CacheConnectionError as exc:
            self._absorb("delete", exc)
            return 0

    async def clear_pattern(self, pattern: str) -> int:
        core = self._core
        try:
            return await core.aclear_pattern(pattern)
        except CacheConnectionError as exc:
            self._absorb("clear_pattern", exc)
            return 0

    async def increment(self, key: Key, amount: int = 1, ttl: TTL | None = None) -> int | None:
        """See Cache.increment: None when an outage was absorbed (fail_silently)."""
        try:
            return await self._core.aincrement(key, amount, ttl_seconds(ttl))
        except CacheConnectionError as exc:
            self._absorb("increment", exc)
            return None

    async def get_many(self, keys: Iterable[Key]) -> dict[Key, Any]:
        keys = list(keys)
        if not keys:
            return {}
        core = self._core
        try:
            values = await core.aget_many(keys)
        except CacheConnectionError as exc:
            self._absorb("get_many", exc)
            return {}
        return {k: v for k, v in zip(keys, values) if v is not MISSING}

    async def set_many(self, items: Mapping[Key, Any] | Iterable[tuple[Key, Any]], ttl: TTL | None = None, *,
                       tags: Iterable[str] | None = None, depends_on: Iterable[Key] | None = None) -> None:
        pairs = _items(items)
        if not pairs:
            return
        core = self._core
        try:
            await core.aset_many(pairs, ttl_seconds(ttl), **write_options(tags, depends_on))
        except CacheConnectionError as exc:
            self._absorb("set_many", exc)

    async def health_check(self) -> dict[str, Any]:
        """As :meth:`Cache.health_check`."""
        try:
            return _health(await self._core.ahealth())
        except CacheConnectionError as exc:
            self._absorb("health_check", exc)
            return _unhealthy(exc)

    async def server_info(self) -> dict[str, Any]:
        """As :meth:`Cache.server_info`; the loop is not blocked while the nodes answer."""
        return await self._core.aserver_info()

    def write_behind(self, writer: AsyncWriter, *, max_pending: int = 10000, max_retries: int = 5,
                     backoff: float = 0.1, backoff_max: float = 10.0, jitter: float = 0.2,
                     close_timeout: float = 5.0, on_failure: FailureHook | None = None) -> AsyncWriteBehind:
        """A write-behind queue whose (async) ``writer`` is awaited on the running loop."""
        return AsyncWriteBehind(self._core, writer, max_pending=max_pending, max_retries=max_retries,
                                backoff=backoff, backoff_max=backoff_max, jitter=jitter,
                                close_timeout=close_timeout, on_failure=on_failure)
    def lock(self, name: str | bytes, timeout: float = 30.0, blocking_timeout: float | None = None, *,
             blocking: bool = True) -> AsyncLock:
        """As :meth:`Cache.lock`, for ``async with``."""
        return AsyncLock(self._core, name, timeout, blocking_timeout, blocking)

    async def close(self) -> None:
        await aclose_write_behinds(self._core)
        self._core.close()

    async def __aenter__(self) -> AsyncCache:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()
