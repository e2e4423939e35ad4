"""Cache and AsyncCache: every line of the issue's API block, sync and async, on the
embedded default and on a real Redis."""
from __future__ import annotations

import asyncio
import datetime
import signal
import threading
import time
from typing import Any, Iterator

import pytest

from stratacache import AsyncCache, Cache, CacheError, get_cache, get_sync_cache

pytestmark = pytest.mark.usefixtures("clean_stratacache")

USER = {"name": "Alice", "role": "admin"}
HEALTH_KEYS = {"healthy", "latency_ms", "version", "used_memory", "used_memory_bytes", "connected_clients",
               "uptime_seconds", "coherence", "coherence_up", "coherence_channels", "coherence_error"}


@pytest.fixture(params=["mem", "redis"])
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "mem":
        yield "mem://"
    else:
        yield request.getfixturevalue("redis_server").url


def test_api_block_sync(url: str) -> None:
    with Cache(url) as cache:
        cache.set("user:123", USER, ttl=600)
        assert cache.get("user:123") == USER
        assert cache.get("user:999") is None
        assert cache.get("user:999", default="nope") == "nope"
        assert cache.exists("user:123") is True
        assert cache.exists("user:999") is False
        assert 598 <= cache.get_ttl("user:123") <= 600
        cache.set("user:456", USER)
        assert cache.delete("user:123", "user:456", "user:789") == 2
        assert cache.get("user:123") is None
        for i in range(5):
            cache.set(f"user:{i}", i)
        cache.set("other", 1)
        assert cache.clear_pattern("user:*") == 5
        assert cache.get("other") == 1
        assert cache.increment("post:123:views") == 1
        assert cache.increment("post:123:views", amount=5) == 6
        health = cache.health_check()
        assert set(health) == HEALTH_KEYS
        assert health["healthy"] is True
        if url.startswith("redis"):
            assert health["version"].startswith("7.")
            assert health["latency_ms"] > 0
            assert health["connected_clients"] >= 1


def test_api_block_async(url: str) -> None:
    async def main() -> None:
        async with AsyncCache(url) as cache:
            await cache.set("user:123", USER, ttl=600)
            assert await cache.get("user:123") == USER
            assert await cache.get("user:999") is None
            assert await cache.get("user:999", default=0) == 0
            assert await cache.exists("user:123") is True
            assert 598 <= await cache.get_ttl("user:123") <= 600
            await cache.set("user:456", USER)
            assert await cache.delete("user:123", "user:456", "user:789") == 2
            for i in range(5):
                await cache.set(f"user:{i}", i)
            assert await cache.clear_pattern("user:*") == 5
            assert await cache.increment("post:123:views") == 1
            assert await cache.increment("post:123:views", amount=5) == 6
            health = await cache.health_check()
            assert set(health) == HEALTH_KEYS and health["healthy"] is True

    asyncio.run(main())


def test_process_wide_caches_share_one_handle(redis_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url)

    async def main() -> None:
        cache = await get_cache()
        assert cache is await get_cache()
        sync = get_sync_cache()
        assert sync._core is cache._core
        await cache.set("shared", [1, 2])
        assert sync.get("shared") == [1, 2]
        # One L1: a value written only to L1 by one is seen by the other.
        sync._core.native.set("l1-only", "x", skip_l2=True)
        assert await cache.get("l1-only") == "x"
        assert cache.l2_enabled

    asyncio.run(main())


def test_ttl_forms(url: str) -> None:
    with Cache(url) as cache:
        cache.set("a", 1, ttl=datetime.timedelta(minutes=2))
        assert 118 <= cache.get_ttl("a") <= 120
        cache.set("b", 1, ttl=1.5)
        assert cache.get_ttl("b") == 2  # rounded up
        cache.set("c", 1, ttl=0)
        assert cache.get_ttl("c") == -1
        cache.set("d", 1)
        assert 298 <= cache.get_ttl("d") <= 300
        assert cache.get_ttl("missing") is None
        with pytest.raises(ValueError):
            cache.set("e", 1, ttl=-1)
        with pytest.raises(TypeError):
            cache.set("e", 1, ttl="10")  # type: ignore[arg-type]


def test_expiry(url: str) -> None:
    with Cache(url) as cache:
        cache.set("short", "v", ttl=0.2)
        assert cache.get("short") == "v"
        time.sleep(0.35)
        assert cache.get("short") is None


def test_many(url: str) -> None:
    async def main() -> None:
        async with AsyncCache(url) as acache:
            await acache.set_many([("x", 1), ("y", None)])
            assert await acache.get_many(["x", "y", "z"]) == {"x": 1, "y": None}

    with Cache(url) as cache:
        cache.set_many({"a": 1, "b": [2], "c": {"k": "v"}}, ttl=60)
        assert cache.get_many(["a", "b", "c", "missing"]) == {"a": 1, "b": [2], "c": {"k": "v"}}
        assert cache.get_many([]) == {}
        assert 58 <= cache.get_ttl("b") <= 60
    asyncio.run(main())


def test_values_and_caller_errors(url: str) -> None:
    with Cache(url) as cache:
        cache.set("none", None)
        assert cache.get("none", default="d") is None  # a stored None is not a miss
        cache.set("bytes", b"\x00\xff")
        assert cache.get("bytes") == b"\x00\xff"
        cache.set("tuple", (1, "a"))
        assert cache.get("tuple") == [1, "a"]
        with pytest.raises(TypeError, match="set"):
            cache.set("bad", {1, 2})
        with pytest.raises(TypeError):
            cache.get(123)  # type: ignore[arg-type]
        cache.set("text", "abc")
        with pytest.raises(CacheError):  # CacheWrongTypeError
            cache.increment("text")


def test_stats_and_flush_local(redis_server: Any) -> None:
    with Cache(redis_server.url) as cache:
        cache.set("k", "v")
        cache.flush_local()
        assert cache.get("k") == "v"  # from L2
        stats = cache.stats()
        assert stats["l2"]["hits"] >= 1
        assert stats["errors_absorbed"] == 0


def test_closed_cache_raises() -> None:
    cache = Cache("mem://")
    cache.close()
    assert cache.closed
    with pytest.raises(CacheError, match="closed"):
        cache.get("k")


def test_async_network_calls_leave_the_loop_free(redis_server: Any) -> None:
    """While Redis is stalled (SIGSTOP), the loop keeps running other tasks."""
    async def main() -> None:
        cache = AsyncCache(redis_server.url, socket_timeout=2)
        await cache.set("k", 1)
        cache.flush_local()
        redis_server.proc.send_signal(signal.SIGSTOP)
        waker = threading.Timer(0.5, redis_server.proc.send_signal, args=(signal.SIGCONT,))
        waker.start()
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        t = asyncio.ensure_future(ticker())
        assert await cache.get("k") == 1
        t.cancel()
        waker.join()
        assert ticks >= 10
        await cache.close()

    asyncio.run(main())
