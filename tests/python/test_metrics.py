"""Cache.metrics(): the native metrics (counters from the same cells as stats(),
latency histograms) with the derived hit/miss rates, access times and percentiles, on
the embedded default and on a real Redis."""
from __future__ import annotations

import asyncio

import pytest

from stratacache import AsyncCache, Cache

pytestmark = pytest.mark.usefixtures("clean_stratacache")

PERCENTILES = ("p50", "p90", "p99", "p999")


def _ordered(p: dict[str, float]) -> bool:
    return 0 < p["p50"] <= p["p90"] <= p["p99"] <= p["p999"]


def test_l1_reads_give_exact_counts_and_sampled_latencies() -> None:
    with Cache("mem://") as cache:
        cache.set("k", {"a": 1})
        for _ in range(1000):
            assert cache.get("k") == {"a": 1}
        for i in range(10):
            assert cache.get(f"absent:{i}") is None
        m = cache.metrics()
        stats = cache.stats()
    # The counters are stats()'s cells.
    assert m["counters"]["l1"] == stats["l1"]
    assert m["counters"]["l1"]["hits"] == 1000 and m["counters"]["l1"]["misses"] == 10
    assert m["hit_rate"] == pytest.approx(1000 / 1010)
    assert m["miss_rate"] == pytest.approx(10 / 1010)
    l1 = m["tiers"]["l1"]
    assert (l1["hits"], l1["misses"]) == (1000, 10)
    assert l1["hit_rate"] == pytest.approx(1000 / 1010)
    # One read in 64 per thread is timed, with weight 64: about every read is counted.
    assert m["l1_sample_every"] == 64
    [op] = m["operations"]
    assert (op["tier"], op["op"]) == ("l1", "get")
    assert op["count"] % 64 == 0 and 1010 - 64 <= op["count"] <= 1010 + 64
    assert sum(n for _, n in op["buckets"]) == op["count"]
    assert l1["avg_access_time_ms"] > 0 and m["avg_access_time_ms"] > 0
    assert _ordered(l1["percentiles_ms"])
    assert m["percentiles_ms"]["l1.get"] == l1["percentiles_ms"]
    # No Redis: nothing timed there, nothing read.
    assert m["tiers"]["l2"]["hits"] == 0 and m["tiers"]["l2"]["avg_access_time_ms"] == 0
    assert m["tiers"]["l2"]["percentiles_ms"] == {p: 0.0 for p in PERCENTILES}


def test_fresh_cache_has_zero_rates_not_errors() -> None:
    with Cache("mem://") as cache:
        m = cache.metrics()
    assert m["hit_rate"] == 0 and m["miss_rate"] == 0 and m["avg_access_time_ms"] == 0
    assert m["operations"] == [] and m["percentiles_ms"] == {}


def test_redis_operations_are_all_timed_with_their_bytes(redis_server) -> None:  # type: ignore[no-untyped-def]
    writer = Cache(redis_server.url + "?prefix=m:")
    reader = Cache(redis_server.url + "?prefix=m:")  # its own L1: every first read goes to Redis
    try:
        for i in range(20):
            writer.set(f"k{i}", "v" * 100)
        for i in range(20):
            assert reader.get(f"k{i}") == "v" * 100
        for i in range(5):
            assert reader.get(f"absent{i}") is None
        w, r = writer.metrics(), reader.metrics()
    finally:
        writer.close()
        reader.close()
    w_ops = {(o["tier"], o["op"]): o for o in w["operations"]}
    r_ops = {(o["tier"], o["op"]): o for o in r["operations"]}
    assert w_ops[("l2", "set")]["count"] == 20
    assert r_ops[("l2", "get")]["count"] == 25
    assert w["counters"]["l2"]["bytes_written"] >= 20 * 100
    assert r["counters"]["l2"]["bytes_read"] >= 20 * 100 and r["counters"]["l2"]["bytes_written"] == 0
    # A read is an L1 hit or a Redis read: 20 of 25 answered.
    assert r["hit_rate"] == pytest.approx(20 / 25) and r["miss_rate"] == pytest.approx(5 / 25)
    assert r["tiers"]["l2"]["hit_rate"] == pytest.approx(20 / 25)
    assert _ordered(r["percentiles_ms"]["l2.get"]) and _ordered(r["tiers"]["l2"]["percentiles_ms"])
    assert r["tiers"]["l2"]["avg_access_time_ms"] > 0
    # Redis reads take longer than L1 lookups; the average covers both.
    assert r["avg_access_time_ms"] > 0


def test_async_cache_has_the_same_metrics(redis_server) -> None:  # type: ignore[no-untyped-def]
    async def main() -> dict:
        async with AsyncCache(redis_server.url) as cache:
            await cache.set("k", 1)
            assert await cache.get("k") == 1
            return cache.metrics()

    m = asyncio.run(main())
    ops = {(o["tier"], o["op"]) for o in m["operations"]}
    assert ("l2", "set") in ops and m["counters"]["l1"]["hits"] + m["counters"]["l2"]["hits"] == 1
