"""stratacache.otel: observable instruments read back with the OpenTelemetry SDK's
InMemoryMetricReader, against a real Redis and on mem://."""
from __future__ import annotations

from typing import Any

import pytest

from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402

from conftest import RedisProcess  # noqa: E402
from stratacache import Cache  # noqa: E402
from stratacache.otel import instrument  # noqa: E402


def points(reader: InMemoryMetricReader) -> dict[str, list[tuple[dict[str, Any], float]]]:
    out: dict[str, list[tuple[dict[str, Any], float]]] = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                for p in m.data.data_points:
                    out.setdefault(m.name, []).append((dict(p.attributes or {}), p.value))
    return out


def find(found: dict[str, list[tuple[dict[str, Any], float]]], name: str, **attrs: str) -> list[float]:
    return [v for a, v in found.get(name, []) if all(a.get(k) == w for k, w in attrs.items())]


@pytest.fixture
def reader() -> Any:
    r = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[r])
    yield r, provider.get_meter("test")
    provider.shutdown()


def test_counters_gauges_and_histogram_series_match_the_cache(redis_server: RedisProcess, reader: Any) -> None:
    r, meter = reader
    with Cache(redis_server.url) as cache:
        bridge = instrument(cache, name="sessions", meter=meter)
        cache.set("k", "v")
        for _ in range(4):
            assert cache.get("k") == "v"
        assert cache.get("missing") is None
        found = points(r)
        stats = cache.stats()
        assert find(found, "stratacache_requests_total", cache="sessions", tier="l1", result="hit") == [4]
        assert find(found, "stratacache_requests_total", cache="sessions", tier="l2", result="miss") \
            == [stats["l2"]["misses"]]
        assert find(found, "stratacache_entries", cache="sessions", tier="l1") == [stats["l1"]["entries"]]
        counts = find(found, "stratacache_operation_duration_seconds_count", cache="sessions", tier="l2", op="get")
        assert counts and counts[0] >= 1
        buckets = [a for a, _ in found["stratacache_operation_duration_seconds_bucket"]]
        assert any(a.get("le") == "+Inf" for a in buckets)
        # a second collection reads fresh figures
        assert cache.get("k") == "v"
        assert find(points(r), "stratacache_requests_total", cache="sessions", tier="l1", result="hit") == [5]
        names = {i.name for i in bridge.instruments}
        assert "stratacache_requests_total" in names and "stratacache_entries" in names


def test_several_caches_share_the_instruments_and_can_be_removed(reader: Any) -> None:
    r, meter = reader
    with Cache("mem://") as a, Cache("mem://") as b:
        bridge = instrument(a, name="a", meter=meter)
        bridge.add(b, name="b")
        with pytest.raises(ValueError):
            bridge.add(b, name="a")
        a.set("x", 1)
        assert a.get("x") == 1
        b.set("y", 2)
        found = points(r)
        assert find(found, "stratacache_entries", cache="a", tier="l1") == [1]
        assert find(found, "stratacache_entries", cache="b", tier="l1") == [1]
        assert find(found, "stratacache_requests_total", cache="a", tier="l1", result="hit") == [1]
        bridge.remove("b")
        found = points(r)
        assert find(found, "stratacache_entries", cache="a", tier="l1") == [1]
        assert not find(found, "stratacache_entries", cache="b", tier="l1")
