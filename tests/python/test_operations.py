"""Operations (docs/operations.md): server info, health's used_memory_bytes, and the
library's log events routed into ``logging`` (levels, rate limit, slow handlers)."""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest

import stratacache
from stratacache import AsyncCache, Cache, CacheConnectionError, CacheError
from stratacache._logging import RATE_PER_S, RateLimiter

from conftest import RedisCluster, RedisProcess, RestartableRedis


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock:
            self.records.append(record)

    def of(self, event: str) -> list[logging.LogRecord]:
        with self._lock:
            return [r for r in self.records if getattr(r, "stratacache_event", None) == event]


def wait_for(pred: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not pred():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def collect() -> Iterator[Collect]:
    handler = Collect()
    logger = logging.getLogger("stratacache")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    stratacache.enable_logging(logging.INFO)
    try:
        yield handler
    finally:
        stratacache.disable_logging()
        logger.removeHandler(handler)
        logger.setLevel(old)


def test_server_info_of_a_standalone_server(redis_server: RedisProcess) -> None:
    with Cache(redis_server.url, l1_max_entries=0) as cache:
        for i in range(4):
            cache.set(f"si:{i}", i)
        assert cache.get("si:0") == 0
        info = cache.server_info()
    [node] = info["nodes"]
    assert node["address"] == f"127.0.0.1:{redis_server.port}"
    assert node["role"] == "master" and node["error"] == ""
    assert f"redis_version:{node['version']}" in redis_server.cli("INFO", "server")
    assert node["used_memory_bytes"] > 0 and node["used_memory_human"]
    assert node["keyspace_hits"] >= 1
    assert node["keys"] == {"db0": 4}
    assert info["total"]["keys"] == {"db0": 4}
    assert info["total"]["used_memory_bytes"] == node["used_memory_bytes"]


def test_server_info_of_every_cluster_master(redis_cluster: RedisCluster) -> None:
    url = "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in redis_cluster.nodes[:1])
    with Cache(url) as cache:
        for i in range(30):
            cache.set(f"c:{i}", i)
        info = cache.server_info()
    assert sorted(n["address"] for n in info["nodes"]) == sorted(f"127.0.0.1:{n.port}" for n in redis_cluster.nodes)
    assert all(n["role"] == "master" for n in info["nodes"])
    assert info["total"]["keys"]["db0"] == 30 == sum(n["keys"].get("db0", 0) for n in info["nodes"])


def test_async_server_info_and_mem_has_no_server(redis_server: RedisProcess) -> None:
    async def main() -> dict:
        async with AsyncCache(redis_server.url) as cache:
            return await cache.server_info()

    info = asyncio.run(main())
    assert info["nodes"][0]["role"] == "master"
    with Cache("mem://") as cache, pytest.raises(CacheError):
        cache.server_info()


def test_server_info_raises_when_no_node_answers(redis_server: RedisProcess) -> None:
    with Cache(redis_server.url, socket_timeout=0.5, fail_silently=True) as cache:
        redis_server.kill9()
        with pytest.raises(CacheConnectionError):
            cache.server_info()


def test_health_has_used_memory_as_text_and_bytes(redis_server: RedisProcess) -> None:
    with Cache(redis_server.url) as cache:
        health = cache.health_check()
    assert health["healthy"] is True
    assert isinstance(health["used_memory_bytes"], int) and health["used_memory_bytes"] > 0
    assert isinstance(health["used_memory"], str) and health["used_memory"][-1] in "BKMG"


def test_decode_errors_reach_logging_once_each(redis_server: RedisProcess, collect: Collect) -> None:
    redis_server.cli("SET", "junk", "not-an-envelope")
    with Cache(redis_server.url, l1_coherence="off") as cache:
        for _ in range(3):
            assert cache.get("junk") is None
        assert wait_for(lambda: len(collect.of("codec.decode_error")) == 3)
        time.sleep(0.3)  # nothing more arrives
    records = collect.of("codec.decode_error")
    assert len(records) == 3
    assert all(r.levelno == logging.WARNING and r.name == "stratacache.codec" for r in records)
    assert "'junk'" in records[0].getMessage()


def test_connection_lost_and_back_are_logged(restartable_redis: RestartableRedis, collect: Collect) -> None:
    with Cache(restartable_redis.url, socket_timeout=0.5, l1_coherence="off", fail_silently=True,
               circuit_breaker_threshold=0) as cache:
        cache.set("k", 1)
        restartable_redis.kill9()
        for _ in range(3):
            cache.set("k", 1)
        assert wait_for(lambda: len(collect.of("l2.connection_lost")) == 1)
        restartable_redis.restart()
        assert wait_for(lambda: cache.health_check()["healthy"])
        assert wait_for(lambda: len(collect.of("l2.reconnected")) == 1)
    assert [r.levelno for r in collect.of("l2.connection_lost")] == [logging.WARNING]
    assert [r.levelno for r in collect.of("l2.reconnected")] == [logging.INFO]
    assert all(r.name == "stratacache.l2" for r in collect.of("l2.reconnected"))


def test_a_flood_is_rate_limited_and_the_rest_counted(redis_server: RedisProcess, collect: Collect) -> None:
    redis_server.cli("SET", "junk", "not-an-envelope")
    n = 300
    with Cache(redis_server.url, l1_coherence="off") as cache:
        started = time.monotonic()
        for _ in range(n):
            cache.get("junk")
        elapsed = time.monotonic() - started

        def accounted() -> int:
            records = collect.of("codec.decode_error")
            held = sum(r.args[0] for r in records if r.msg.startswith("suppressed"))  # type: ignore[index]
            return sum(1 for r in records if not r.msg.startswith("suppressed")) + held

        assert wait_for(lambda: accounted() == n)
    logged = [r for r in collect.of("codec.decode_error") if not r.msg.startswith("suppressed")]
    # At most RATE_PER_S per second of flood (+1 second for the window the flood ended in).
    assert len(logged) <= RATE_PER_S * (int(elapsed) + 2)
    assert len(logged) < n


def test_a_slow_handler_does_not_block_the_cache(redis_server: RedisProcess) -> None:
    class Slow(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            time.sleep(0.2)

    slow = Slow()
    logger = logging.getLogger("stratacache")
    logger.addHandler(slow)
    stratacache.enable_logging(logging.WARNING)
    redis_server.cli("SET", "junk", "not-an-envelope")
    done = threading.Event()

    def reads() -> None:
        with Cache(redis_server.url, l1_coherence="off") as cache:
            for _ in range(200):
                assert cache.get("junk") is None
            cache.set("k", "v")
            assert cache.get("k") == "v"
        done.set()

    try:
        worker = threading.Thread(target=reads)
        worker.start()
        worker.join(60)
        assert done.is_set(), "cache calls were held up by a slow logging handler"
    finally:
        stratacache.disable_logging()
        logger.removeHandler(slow)


def test_disable_logging_stops_the_events(redis_server: RedisProcess, collect: Collect) -> None:
    redis_server.cli("SET", "junk", "not-an-envelope")
    with Cache(redis_server.url, l1_coherence="off") as cache:
        cache.get("junk")
        assert wait_for(lambda: len(collect.of("codec.decode_error")) == 1)
        stratacache.disable_logging()
        cache.get("junk")
        time.sleep(0.5)
    assert len(collect.of("codec.decode_error")) == 1


def test_rate_limiter_counts_what_it_holds_back() -> None:
    limiter = RateLimiter(2, 1.0)
    assert [limiter.admit("e", 0.0)[0] for _ in range(5)] == [True, True, False, False, False]
    assert limiter.flush(0.5) == []  # the window is not over
    assert limiter.flush(1.0) == [("e", 3)]
    assert limiter.admit("e", 1.1) == (True, 0)  # flushed: not reported twice
    limiter.admit("e", 1.2)
    limiter.admit("e", 1.3)
    assert limiter.admit("e", 2.5) == (True, 1)  # reported with the next record instead
