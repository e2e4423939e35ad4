"""Coherent L1 across two real processes: this one reads through its L1, another
process (``python -c`` with the installed package) writes and deletes in Redis, and
the change reaches this process's L1 as an invalidation."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any, Awaitable, Callable

import pytest

from stratacache import AsyncCache, Cache, CacheConfigError

pytestmark = pytest.mark.usefixtures("clean_stratacache")

PREFIX = "coh:"
DEADLINE_S = 5.0
COHERENCE_COUNTERS = ("invalidations", "coherence_flushes", "flushes_channel", "flushes_connection",
                      "flushes_topology", "flushes_server", "flushes_fork")

# The other process: opens its own Cache on the same Redis and prefix and applies the
# operations given as JSON, e.g. [["set", "k", "v"], ["delete", "k"]].
OTHER_PROCESS = """
import json, sys
from stratacache import Cache
with Cache(sys.argv[1], prefix=sys.argv[2]) as cache:
    for op, key, *value in json.loads(sys.argv[3]):
        getattr(cache, op)(key, *value)
"""


def other_process(url: str, *ops: list[Any]) -> None:
    """Runs ``ops`` in a second Python process and waits for it to finish."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "CACHE_"))}
    subprocess.run([sys.executable, "-c", OTHER_PROCESS, url, PREFIX, json.dumps(ops)],
                   env=env, cwd="/", check=True, timeout=30)


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE_S} s: {what}")
        time.sleep(0.01)


def l1(cache: Cache | AsyncCache, name: str) -> int:
    value: int = cache.stats()["l1"][name]
    return value


def assert_l1_hit(cache: Cache, key: str, want: Any) -> None:
    """Reads ``key`` twice: the second read must be an L1 hit giving ``want``."""
    assert cache.get(key) == want
    hits = l1(cache, "hits")
    assert cache.get(key) == want
    assert l1(cache, "hits") == hits + 1


def coherent(cache: Cache) -> dict[str, Any]:
    """The health once every invalidation channel is up (reads fill L1 only then)."""
    wait_until(lambda: cache.health_check()["coherence_up"] is True, "coherence_up")
    return cache.health_check()


@pytest.mark.parametrize("mode", ["auto", "tracking", "broadcast"])
def test_other_process_writes_reach_l1(redis_server: Any, mode: str) -> None:
    with Cache(redis_server.url, prefix=PREFIX, l1_coherence=mode) as cache:
        health = coherent(cache)
        assert health["coherence"] == ("broadcast" if mode == "broadcast" else "tracking")
        assert health["coherence_channels"] == 1 and health["coherence_error"] == ""
        other_process(redis_server.url, ["set", "k", "one"])
        assert_l1_hit(cache, "k", "one")

        before = l1(cache, "invalidations")
        other_process(redis_server.url, ["set", "k", "two"])
        wait_until(lambda: cache.get("k") == "two", "the other process's set")
        assert l1(cache, "invalidations") > before

        assert_l1_hit(cache, "k", "two")
        before = l1(cache, "invalidations")
        other_process(redis_server.url, ["delete", "k"])
        wait_until(lambda: cache.get("k") is None, "the other process's delete")
        assert l1(cache, "invalidations") > before


async def async_wait_until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE_S} s: {what}")
        await asyncio.sleep(0.01)


def test_async_cache_read_sees_other_process_write(redis_server: Any) -> None:
    async def main() -> None:
        async with AsyncCache(redis_server.url, prefix=PREFIX) as cache:
            async def up() -> bool:
                return (await cache.health_check())["coherence_up"] is True

            async def updated() -> bool:
                return bool(await cache.get("a") == [2])

            await async_wait_until(up, "coherence_up")
            other_process(redis_server.url, ["set", "a", [1]])
            assert await cache.get("a") == [1]
            hits = l1(cache, "hits")
            assert await cache.get("a") == [1]  # answered by L1
            assert l1(cache, "hits") == hits + 1
            before = l1(cache, "invalidations")
            other_process(redis_server.url, ["set", "a", [2]])
            await async_wait_until(updated, "the other process's set")
            assert l1(cache, "invalidations") > before

    asyncio.run(main())


def test_off_keeps_serving_the_l1_copy(redis_server: Any) -> None:
    """Documented: with l1_coherence=off an L1 copy lives until l1_ttl, whatever
    happens in Redis."""
    with Cache(redis_server.url, prefix=PREFIX, l1_coherence="off") as cache:
        health = cache.health_check()
        assert (health["coherence"], health["coherence_up"], health["coherence_channels"]) == ("off", True, 0)
        other_process(redis_server.url, ["set", "k", "one"])
        assert_l1_hit(cache, "k", "one")
        other_process(redis_server.url, ["set", "k", "two"])
        with Cache(redis_server.url, prefix=PREFIX) as fresh:  # its own, empty L1: Redis has "two"
            assert fresh.get("k") == "two"
        assert_l1_hit(cache, "k", "one")
        assert l1(cache, "invalidations") == 0 and l1(cache, "coherence_flushes") == 0


def test_fields_without_redis() -> None:
    with Cache("mem://") as cache:
        health = cache.health_check()
        assert {k: health[k] for k in ("coherence", "coherence_up", "coherence_channels", "coherence_error")} == {
            "coherence": "off", "coherence_up": True, "coherence_channels": 0, "coherence_error": ""}
        stats = cache.stats()["l1"]
        assert {name: stats[name] for name in COHERENCE_COUNTERS} == dict.fromkeys(COHERENCE_COUNTERS, 0)
        assert cache._core.native.health()["coherence"] == "off"


def test_l1_coherence_option_is_validated() -> None:
    with pytest.raises(CacheConfigError, match="auto, tracking, broadcast or off"):
        Cache("mem://", l1_coherence="sometimes")
    with pytest.raises(CacheConfigError, match="l1_coherence"):
        Cache("mem://?l1_coherence=maybe")
