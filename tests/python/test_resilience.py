"""Redis outages: fail-silently on (the app keeps working, errors counted and logged)
and off (CacheConnectionError raised). Real kill -9, no mocks."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from stratacache import AsyncCache, Cache, CacheConnectionError, cached, configure, get_sync_cache

pytestmark = pytest.mark.usefixtures("clean_stratacache")

# l1_coherence=off: these tests are about what L1 keeps serving through an outage; with
# coherence on, losing the invalidation channel empties L1 (docs/coherence.md).
FAST = {"socket_timeout": 0.5, "socket_connect_timeout": 0.2, "l1_coherence": "off"}


def test_fail_silently_keeps_decorated_functions_working(redis_server: Any,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    configure(redis_server.url, **FAST)
    calls = 0

    @cached(key_prefix="r")
    def load(x: int) -> int:
        nonlocal calls
        calls += 1
        return x * 10

    assert load(1) == 10
    redis_server.kill9()
    caplog.set_level(logging.WARNING, logger="stratacache")
    assert load(1) == 10  # still served by L1
    assert calls == 1
    start = time.monotonic()
    for x in range(2, 7):
        assert load(x) == x * 10  # L2 down: misses run the function, nothing raises
    assert time.monotonic() - start < 3
    assert calls == 6
    assert load(2) == 20 and calls == 6  # the failed write still reached L1
    cache = get_sync_cache()
    assert cache.stats()["errors_absorbed"] >= 5
    records = [r for r in caplog.records if r.name == "stratacache"]
    assert records and all(r.levelno == logging.WARNING for r in records)
    # rate-limited: at most one line per operation kind in 10 s
    assert len(records) <= 2
    assert "CacheConnectionError" in records[0].getMessage() or "CacheTimeoutError" in records[0].getMessage()


def test_fail_silently_cache_methods(redis_server: Any) -> None:
    cache = Cache(redis_server.url, **FAST)
    cache.set("k", 1)
    redis_server.kill9()
    cache.flush_local()
    assert cache.get("k", default="d") == "d"
    assert cache.set("k", 2) is None
    assert cache.exists("x") is False
    assert cache.get_ttl("x") is None
    assert cache.delete("k") == 0
    assert cache.clear_pattern("*") == 0
    assert cache.get_many(["a"]) == {}
    cache.set_many({"a": 1})
    health = cache.health_check()
    assert health["healthy"] is False
    assert cache.increment("n") is None  # no made-up counter value, and no exception
    assert cache.stats()["errors_absorbed"] >= 9
    cache.close()


def test_fail_silently_async(redis_server: Any) -> None:
    async def main() -> None:
        cache = AsyncCache(redis_server.url, **FAST)
        calls = 0

        @cached(cache=cache, key_prefix="ar")
        async def load(x: int) -> int:
            nonlocal calls
            calls += 1
            return x

        assert await load(1) == 1
        redis_server.kill9()
        assert await load(1) == 1
        assert await load(2) == 2
        assert await load(2) == 2  # L1 copy of the failed write's value
        assert await cache.get("missing") is None
        assert (await cache.health_check())["healthy"] is False
        assert calls == 2
        assert cache.stats()["errors_absorbed"] >= 1
        await cache.close()

    asyncio.run(main())


def test_fail_loudly(redis_server: Any) -> None:
    configure(redis_server.url, fail_silently=False, **FAST)

    @cached(key_prefix="loud")
    def load(x: int) -> int:
        return x

    assert load(1) == 1
    redis_server.kill9()
    assert load(1) == 1  # an L1 hit needs no Redis
    with pytest.raises(CacheConnectionError):
        load(2)
    cache = get_sync_cache()
    with pytest.raises(CacheConnectionError):
        cache.set("k", 1)
    with pytest.raises(CacheConnectionError):
        cache.get("k2")

    async def main() -> None:
        acache = AsyncCache(redis_server.url, fail_silently=False, **FAST)

        @cached(cache=acache, key_prefix="aloud")
        async def aload(x: int) -> int:
            return x

        with pytest.raises(CacheConnectionError):
            await aload(1)
        with pytest.raises(CacheConnectionError):
            await acache.delete("k")
        await acache.close()

    asyncio.run(main())


def test_environment_fail_silently_false(redis_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url + "?socket_timeout=0.5&socket_connect_timeout=0.2")
    monkeypatch.setenv("CACHE_FAIL_SILENTLY", "false")
    cache = get_sync_cache()
    redis_server.kill9()
    with pytest.raises(CacheConnectionError):
        cache.get("k")


def test_recovers_when_redis_returns(restartable_redis: Any) -> None:
    cache = Cache(restartable_redis.url, **FAST)
    cache.set("k", 1)
    restartable_redis.kill9()
    cache.set("k", 2)  # absorbed
    restartable_redis.restart()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        cache.set("back", "yes")
        if restartable_redis.cli("EXISTS", "back") == "1":
            break
        time.sleep(0.1)
    assert restartable_redis.cli("EXISTS", "back") == "1"
    assert cache.stats()["errors_absorbed"] >= 1
    cache.close()
