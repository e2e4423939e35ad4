"""stratacache: a multi-level cache (in-process L1 + Redis L2) with a C++ core.

    from stratacache import cached, invalidate_cache, get_cache, configure

    @cached(ttl=600, key_prefix="server")
    async def get_server_details(server_id: int) -> dict: ...

    @invalidate_cache("server:{server_id}")
    async def update_server(server_id: int, data: dict) -> None: ...

    cache = await get_cache()          # process-wide AsyncCache, from the environment
    await cache.set("user:123", {"name": "Alice"}, ttl=600)

Configuration: ``configure(url, **options)`` or the environment (REDIS_URL,
CACHE_TTL_DEFAULT, ...; see ``stratacache._config``). Failure contract: see
``stratacache._cache``; decorator semantics: ``stratacache._decorators``; keys:
``stratacache._keys``.
"""
from __future__ import annotations

from ._cache import AsyncCache, Cache
from ._decorators import CacheInfo, cached, invalidate_cache
from ._native import (
    CacheAuthError,
    CacheConfigError,
    CacheConnectionError,
    CacheError,
    CacheLoadError,
    CacheTimeoutError,
    CacheValueError,
    CacheWrongTypeError,
    LockError,
    LockNotAcquiredError,
    LockNotOwnedError,
)
from ._lock import AsyncLock, Lock
from ._logging import disable_logging, enable_logging
from ._runtime import configure, get_cache, get_sync_cache
from ._version import __version__ as __version__
from ._write_behind import AsyncWriteBehind, WriteBehind, WriteOp
from ._write_through import cache_update

__all__ = [
    "AsyncCache",
    "AsyncWriteBehind",
    "Cache",
    "CacheAuthError",
    "CacheConfigError",
    "CacheConnectionError",
    "CacheError",
    "CacheInfo",
    "CacheLoadError",
    "CacheTimeoutError",
    "CacheValueError",
    "CacheWrongTypeError",
    "WriteBehind",
    "WriteOp",
    "cache_update",
    "disable_logging",
    "enable_logging",
    "AsyncLock",
    "Lock",
    "LockError",
    "LockNotAcquiredError",
    "LockNotOwnedError",
    "cached",
    "configure",
    "get_cache",
    "get_sync_cache",
    "invalidate_cache",
]
