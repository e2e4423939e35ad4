"""Warming (Cache.warm / AsyncCache.warm) and the promotion threshold
(l1_promote_after) from Python, against real redis-servers (standalone and Cluster)."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from stratacache import AsyncCache, Cache, CacheConnectionError

pytestmark = pytest.mark.usefixtures("clean_stratacache")


def _keys(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def test_warm_fills_l1_from_redis(redis_server: Any) -> None:
    writer = Cache(redis_server.url)
    reader = Cache(redis_server.url + "?l1_promote_after=5")
    keys = _keys("w:", 1500)
    writer.set_many({k: {"n": i} for i, k in enumerate(keys)})
    result = reader.warm(keys + ["w:none"])
    assert result == {"found": 1500, "loaded": 0, "missing": ["w:none"], "failed": []}
    before = reader.stats()
    assert before["l1"]["entries"] == 1500
    assert reader.get("w:7") == {"n": 7}
    after = reader.stats()
    assert after["l1"]["hits"] == before["l1"]["hits"] + 1
    assert after["l2"]["hits"] == before["l2"]["hits"]


def test_warm_with_loader_loads_only_what_redis_lacks(redis_server: Any) -> None:
    cache = Cache(redis_server.url)
    other = Cache(redis_server.url)
    cache.set("have", "cached")
    cache.flush_local()
    calls: list[str] = []

    def loader(key: str) -> Any:
        calls.append(key)
        return None if key == "gone" else f"loaded {key}"

    result = cache.warm(["have", "new", "gone"], loader, ttl=60, negative_ttl=30)
    assert calls == ["new", "gone"]
    assert result == {"found": 1, "loaded": 1, "missing": ["gone"], "failed": []}
    assert other.get("new") == "loaded new"  # the load went to Redis
    assert cache.warm(["gone"], loader, ttl=60, negative_ttl=30)["missing"] == ["gone"]
    assert calls == ["new", "gone"]  # remembered as "does not exist"


def test_async_warm_and_concurrent_loader(redis_server: Any) -> None:
    async def main() -> None:
        cache = AsyncCache(redis_server.url)
        await cache.set_many({k: k.upper() for k in _keys("a:", 20)})
        cache.flush_local()
        running = 0
        peak = 0

        async def loader(key: str) -> str:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.02)
            running -= 1
            return "L" + key

        result = await cache.warm(_keys("a:", 20) + _keys("b:", 10), loader, ttl=60, concurrency=4)
        assert result["found"] == 20 and result["loaded"] == 10 and result["missing"] == []
        assert 1 < peak <= 4
        assert cache.stats()["l1"]["entries"] == 30
        assert await cache.get("b:3") == "Lb:3"
        await cache.close()

    asyncio.run(main())


def test_warm_across_cluster_nodes(redis_cluster: Any) -> None:
    writer = Cache(redis_cluster.url)
    reader = Cache(redis_cluster.url)
    keys = _keys("c:", 1200)
    writer.set_many({k: k for k in keys})
    assert reader.warm(keys)["found"] == 1200
    assert reader.stats()["l1"]["entries"] == 1200


def test_warm_with_redis_down(restartable_redis: Any) -> None:
    url = restartable_redis.url + "?socket_timeout=0.3&socket_connect_timeout=0.3"
    quiet = Cache(url)
    strict = Cache(url, fail_silently=False)
    restartable_redis.kill9()
    result = quiet.warm(["x", "y"])
    assert result["found"] == 0 and result["failed"] == ["x", "y"]
    with pytest.raises(CacheConnectionError):
        strict.warm(["x"])


def test_promotion_threshold_counts_reads(redis_server: Any) -> None:
    writer = Cache(redis_server.url)
    reader = Cache(redis_server.url + "?l1_promote_after=2")
    writer.set("k", [1, 2])
    assert reader.get("k") == [1, 2]
    stats = reader.stats()["l1"]
    assert (stats["entries"], stats["promotions_deferred"], stats["promotions"]) == (0, 1, 0)
    assert reader.get("k") == [1, 2]
    stats = reader.stats()["l1"]
    assert (stats["entries"], stats["promotions"]) == (1, 1)


def test_mem_warm_is_all_missing() -> None:
    cache = Cache("mem://")
    assert cache.warm(["a"]) == {"found": 0, "loaded": 0, "missing": ["a"], "failed": []}
    assert cache.warm(["a"], lambda k: k * 2)["loaded"] == 1
    assert cache.get("a") == "aa"
