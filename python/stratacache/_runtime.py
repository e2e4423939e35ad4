"""The process-wide cache: ``get_cache()``, ``get_sync_cache()``, ``configure()``.

One ``CacheCore`` (one native handle: one L1, one connection pool) serves the
process-wide ``AsyncCache``, the process-wide ``Cache`` and every decorator without
``cache=``. It is opened on first use from the environment, or by ``configure()``.
``configure()`` again swaps in a new handle and closes the old one; the ``Cache`` and
``AsyncCache`` objects handed out before keep working (they follow the swap).
Closing the process-wide ``Cache`` or ``AsyncCache`` closes the shared handle; the
next ``get_cache()`` / ``get_sync_cache()`` / decorated call opens a fresh one.
A call already holding the old handle when ``configure()`` closes it may raise
``CacheError("cache is closed")``: reconfigure at start-up, not under traffic.
"""
from __future__ import annotations

import threading
from typing import Any

from ._cache import AsyncCache, Cache
from ._config import resolve_settings
from ._core import CacheCore

__all__ = ["configure", "get_cache", "get_sync_cache", "default_core", "DEFAULT", "reset"]


class _Default:
    """Holds the process-wide core. Decorators read ``DEFAULT._core`` on every call
    (the same attribute name as on Cache/AsyncCache, so both are read alike)."""

    __slots__ = ("_core", "sync", "async_")

    def __init__(self) -> None:
        self._core: CacheCore | None = None
        self.sync: Cache | None = None
        self.async_: AsyncCache | None = None


DEFAULT = _Default()
_lock = threading.RLock()


def _forget(core: CacheCore) -> None:
    """on_close of the process-wide core: the next use opens a fresh one."""
    with _lock:
        if DEFAULT._core is core:
            DEFAULT._core = None


def _install(core: CacheCore) -> CacheCore | None:
    core.on_close = _forget
    old, DEFAULT._core = DEFAULT._core, core
    if DEFAULT.sync is not None:
        DEFAULT.sync._core = core
    if DEFAULT.async_ is not None:
        DEFAULT.async_._core = core
    return old


def default_core() -> CacheCore:
    """The process-wide core, opened from the environment on first use."""
    core = DEFAULT._core
    if core is not None:
        return core
    with _lock:
        if DEFAULT._core is None:
            _install(CacheCore(resolve_settings()))
        assert DEFAULT._core is not None
        return DEFAULT._core


def configure(url: str | None = None, **options: Any) -> None:
    """(Re)configure the process-wide cache. ``url`` and ``options`` as for ``Cache``;
    whatever they leave out comes from the environment. The previous handle is closed
    (its L1 is dropped); caches handed out before follow the new one."""
    core = CacheCore(resolve_settings(url, options))
    with _lock:
        old = _install(core)
    if old is not None:
        old.on_close = None
        old.close()


def reset() -> None:
    """Close the process-wide cache; the next use reads the environment again."""
    with _lock:
        old, DEFAULT._core = DEFAULT._core, None
    if old is not None:
        old.on_close = None
        old.close()


def get_sync_cache() -> Cache:
    """The process-wide synchronous ``Cache``."""
    core = default_core()
    with _lock:
        if DEFAULT.sync is None:
            DEFAULT.sync = Cache._over(core)
        else:
            DEFAULT.sync._core = DEFAULT._core or core
        return DEFAULT.sync


async def get_cache() -> AsyncCache:
    """The process-wide ``AsyncCache`` (``cache = await get_cache()``)."""
    core = default_core()
    with _lock:
        if DEFAULT.async_ is None:
            DEFAULT.async_ = AsyncCache._over(core)
        else:
            DEFAULT.async_._core = DEFAULT._core or core
        return DEFAULT.async_
