"""Read-through from Python: get_or_set, @cached's miss path and NativeCache.acquire /
Lease, against real redis-servers. One load per key across threads, event loops,
handles and processes; stale values; negative entries; early refresh; timeouts."""
from __future__ import annotations

import asyncio
import dataclasses
import gc
import os
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any, Iterator

import pytest
from conftest import run_together

from stratacache import (
    AsyncCache,
    Cache,
    CacheError,
    CacheLoadError,
    CacheTimeoutError,
    cached,
    configure,
    get_cache,
    get_sync_cache,
)
from stratacache import _native
from stratacache._native import MISSING, NativeCache

pytestmark = pytest.mark.usefixtures("clean_stratacache")


@pytest.fixture(params=["mem", "redis"])
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    yield "mem://" if request.param == "mem" else request.getfixturevalue("redis_server").url


class Counter:
    """Thread-safe call counter."""

    def __init__(self) -> None:
        self.n = 0
        self._lock = threading.Lock()

    def bump(self) -> int:
        with self._lock:
            self.n += 1
            return self.n


# ---- get_or_set ------------------------------------------------------------------

def test_get_or_set_loads_once_then_hits(url: str) -> None:
    cache = Cache(url)
    calls = Counter()
    assert cache.get_or_set("g", lambda: {"n": calls.bump()}, 30) == {"n": 1}
    assert cache.get_or_set("g", lambda: {"n": calls.bump()}, 30) == {"n": 1}
    assert calls.n == 1
    assert cache.get("g") == {"n": 1}  # stored as set() stores: a plain get reads it
    assert 0 < (cache.get_ttl("g") or 0) <= 30
    counts = cache.stats()["read_through"]
    assert counts["loads"] == 1 and counts["lease_waits"] == 0 and counts["stale_served"] == 0
    cache.close()


def test_async_get_or_set_takes_coroutine_functions_and_plain_callables(url: str) -> None:
    calls = Counter()

    async def load() -> list[int]:
        await asyncio.sleep(0.01)
        return [calls.bump()]

    async def main() -> None:
        cache = AsyncCache(url)
        assert await cache.get_or_set("a", load, 30) == [1]
        assert await cache.get_or_set("a", load, 30) == [1]
        assert await cache.get_or_set("b", lambda: "plain", 30) == "plain"
        assert await cache.get("b") == "plain"
        await cache.close()

    asyncio.run(main())
    assert calls.n == 1


def test_32_threads_on_a_cold_key_run_the_loader_once(redis_server: Any) -> None:
    cache = Cache(redis_server.url)
    calls = Counter()

    def load() -> int:
        calls.bump()
        time.sleep(0.2)
        return 42

    results, errors = run_together(32, lambda: cache.get_or_set("cold", load, 30))
    assert errors == [] and results == [42] * 32
    assert calls.n == 1
    cache.close()


def test_two_event_loops_and_threads_on_one_handle_load_once(redis_server: Any) -> None:
    configure(redis_server.url)
    calls = Counter()
    start = threading.Barrier(2 + 8)

    def sync_load() -> str:
        calls.bump()
        time.sleep(0.3)
        return "v"

    async def async_load() -> str:
        calls.bump()
        await asyncio.sleep(0.3)
        return "v"

    results: list[Any] = []

    def loop_thread() -> None:
        async def main() -> list[Any]:
            cache = await get_cache()
            start.wait()
            return list(await asyncio.gather(*(cache.get_or_set("shared", async_load, 30) for _ in range(8))))

        results.extend(asyncio.run(main()))

    def plain_thread() -> None:
        cache = get_sync_cache()
        start.wait()
        results.append(cache.get_or_set("shared", sync_load, 30))

    threads = [threading.Thread(target=loop_thread) for _ in range(2)]
    threads += [threading.Thread(target=plain_thread) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == ["v"] * 24
    assert calls.n == 1


def test_two_handles_on_one_redis_load_once(redis_server: Any) -> None:
    """Two Cache objects: two native handles, each with its own L1, as two processes."""
    first, second = Cache(redis_server.url), Cache(redis_server.url)
    calls = Counter()

    def load() -> int:
        calls.bump()
        time.sleep(0.3)
        return 7

    caches = [first, second] * 8
    picked = iter(range(len(caches)))
    lock = threading.Lock()

    def call() -> int:
        with lock:
            cache = caches[next(picked)]
        return cache.get_or_set("two", load, 30)

    results, errors = run_together(len(caches), call)
    assert errors == [] and results == [7] * len(caches)
    assert calls.n == 1
    first.close()
    second.close()


_PROCESS_SCRIPT = textwrap.dedent("""
    import sys, threading, time
    from stratacache import Cache, cached

    url, start_at = sys.argv[1], float(sys.argv[2])
    cache = Cache(url)

    @cached(cache=cache, key_prefix="mp", ttl=60)
    def load(x):
        cache.increment("mp-calls")
        time.sleep(0.3)
        return {"x": x}

    results = []
    def worker():
        results.append(load(1))
    threads = [threading.Thread(target=worker) for _ in range(16)]
    time.sleep(max(0.0, start_at - time.time()))
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [{"x": 1}] * 16, results
    print("ok")
""")


def test_four_processes_of_16_threads_run_the_function_once(redis_server: Any) -> None:
    start_at = time.time() + 3  # every process imported and connected by then
    procs = [subprocess.Popen([sys.executable, "-c", _PROCESS_SCRIPT, redis_server.url, str(start_at)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
             for _ in range(4)]
    outs = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0 and out.strip() == b"ok", err.decode()
    assert redis_server.cli("GET", "mp-calls").endswith("1")
    assert Cache(redis_server.url).get("mp-calls") == 1


def test_stale_value_is_served_when_the_reload_raises_and_the_exception_is_not_cached(url: str) -> None:
    cache = Cache(url)
    calls = Counter()
    failing = threading.Event()

    @cached(cache=cache, key_prefix="stale", ttl=0.3, stale_ttl=30)
    def load(x: int) -> dict[str, int]:
        n = calls.bump()
        if failing.is_set():
            raise RuntimeError("backend down")
        return {"x": x, "n": n}

    assert load(1) == {"x": 1, "n": 1}
    failing.set()
    time.sleep(0.45)  # past the fresh period, within the stale one
    assert load(1) == {"x": 1, "n": 1}  # the reload raised: the stale value
    assert calls.n == 2
    assert load(1) == {"x": 1, "n": 1}  # not cached: it ran again
    assert calls.n == 3
    failing.clear()
    assert load(1) == {"x": 1, "n": 4}  # reloaded and stored
    assert load(1) == {"x": 1, "n": 4} and calls.n == 4
    cache.close()


def test_without_a_stale_value_the_loaders_exception_propagates_and_nothing_is_stored(url: str) -> None:
    cache = Cache(url)

    def broken() -> int:
        raise KeyError("gone")

    with pytest.raises(KeyError):
        cache.get_or_set("nope", broken, 30)
    assert cache.get_or_set("nope", lambda: 5, 30) == 5
    cache.close()


def test_negative_ttl_remembers_none_as_does_not_exist(url: str) -> None:
    cache = Cache(url)
    calls = Counter()

    def missing() -> None:
        calls.bump()
        return None

    assert cache.get_or_set("neg", missing, 30, negative_ttl=0.4) is None
    assert cache.get_or_set("neg", missing, 30, negative_ttl=0.4) is None
    assert calls.n == 1
    assert cache.get("neg", "default") == "default"  # a plain get: a miss, not a None value
    time.sleep(0.55)
    assert cache.get_or_set("neg", missing, 30, negative_ttl=0.4) is None
    assert calls.n == 2
    # Without negative_ttl, None is an ordinary value.
    assert cache.get_or_set("none", missing, 30) is None
    assert cache.get_or_set("none", missing, 30) is None
    assert calls.n == 3
    assert cache.exists("none")
    cache.close()


def test_negative_entries_in_async_and_decorators(url: str) -> None:
    calls = Counter()

    async def main() -> None:
        cache = AsyncCache(url)

        @cached(cache=cache, key_prefix="aneg", negative_ttl=30)
        async def find(x: int) -> None:
            calls.bump()
            return None

        assert await find(1) is None
        assert await find(1) is None
        await cache.close()

    asyncio.run(main())
    assert calls.n == 1


def test_early_refresh_keeps_a_hot_key_fresh_without_making_callers_wait(redis_server: Any) -> None:
    cache = Cache(redis_server.url)
    calls = Counter()

    @cached(cache=cache, key_prefix="hot", ttl=1, early_refresh=1)
    def load(x: int) -> int:
        calls.bump()
        time.sleep(0.05)
        return x

    assert load(1) == 1  # the first load: this caller waits for it
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + 3

    def caller() -> None:
        worst = 0.0
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            assert load(1) == 1
            worst = max(worst, time.perf_counter() - t0)
            time.sleep(0.001)
        with lock:
            latencies.append(worst)

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(latencies) == 4
    assert max(latencies) < 0.040, latencies  # nobody waited for a ~50 ms load
    assert 2 <= calls.n - 1 <= 6, calls.n  # about one refresh per second over 3 s
    refresh_threads = [t.name for t in threading.enumerate() if t.name == "stratacache-refresh"]
    assert refresh_threads and all(t.daemon for t in threading.enumerate() if t.name == "stratacache-refresh")
    cache.close()


def test_early_refresh_of_a_coroutine_runs_as_a_background_task(url: str) -> None:
    calls = Counter()

    async def main() -> None:
        cache = AsyncCache(url)

        @cached(cache=cache, key_prefix="ahot", ttl=0.5, early_refresh=50)  # refreshes almost at once
        async def load(x: int) -> int:
            n = calls.bump()
            await asyncio.sleep(0.05)
            return n

        assert await load(1) == 1
        seen = {1}
        worst = 0.0
        deadline = time.monotonic() + 0.45  # before the fresh period ends
        while 2 not in seen and time.monotonic() < deadline:
            t0 = time.perf_counter()
            seen.add(await load(1))  # the current value at once; a refresh runs behind
            worst = max(worst, time.perf_counter() - t0)
            await asyncio.sleep(0.01)
        assert seen == {1, 2} and worst < 0.04, (seen, worst)
        assert calls.n >= 2  # beta 50: the next refresh may have begun already
        await cache.close()

    asyncio.run(main())


def test_soft_timeout_returns_the_stale_value_and_the_load_fills_later(url: str) -> None:
    async def main() -> None:
        cache = AsyncCache(url)
        assert await cache.get_or_set("soft", lambda: "old", 0.2, stale_ttl=30) == "old"
        await asyncio.sleep(0.3)

        async def slow() -> str:
            await asyncio.sleep(0.4)
            return "new"

        t0 = time.perf_counter()
        assert await cache.get_or_set("soft", slow, 0.2, stale_ttl=30, soft_timeout=0.05) == "old"
        assert time.perf_counter() - t0 < 0.3
        await asyncio.sleep(0.5)
        assert await cache.get("soft") == "new"  # the load went on and filled the lease
        await cache.close()

    asyncio.run(main())


def test_hard_timeout_raises_or_with_fail_silently_runs_the_function(redis_server: Any) -> None:
    strict = Cache(redis_server.url, fail_silently=False)
    lenient = Cache(redis_server.url)
    loading = threading.Event()

    def slow() -> str:
        loading.set()
        time.sleep(1.0)
        return "slow"

    holder = threading.Thread(target=lambda: strict.get_or_set("hard", slow, 30))
    holder.start()
    assert loading.wait(5)
    t0 = time.perf_counter()
    with pytest.raises(CacheTimeoutError):
        strict.get_or_set("hard", lambda: "other", 30, hard_timeout=0.2)
    assert time.perf_counter() - t0 < 0.8
    assert lenient.get_or_set("hard", lambda: "own", 30, hard_timeout=0.2) == "own"
    assert lenient.stats()["errors_absorbed"] == 1
    holder.join(5)
    assert strict.get("hard") == "slow"
    strict.close()
    lenient.close()


def test_condition_and_unless_return_the_result_without_storing_it(url: str) -> None:
    cache = Cache(url)
    calls = Counter()

    @cached(cache=cache, key_prefix="cond", unless=lambda r: r < 0)
    def value(x: int) -> int:
        calls.bump()
        return x

    assert value(-1) == -1 and value(-1) == -1
    assert calls.n == 2  # not stored: ran twice
    assert value(3) == 3 and value(3) == 3
    assert calls.n == 3
    assert value.cache_info().hits == 1 and value.cache_info().misses == 3  # type: ignore[attr-defined]

    @cached(cache=cache, key_prefix="cond2", condition=lambda r: r > 0)
    def other(x: int) -> int:
        calls.bump()
        return x

    assert other(0) == 0 and other(0) == 0 and calls.n == 5
    cache.close()


def test_ttl_callable_of_the_result_is_the_fill_ttl(redis_server: Any) -> None:
    cache = Cache(redis_server.url)

    @cached(cache=cache, key_prefix="ttlfn", ttl=lambda r: r)
    def ttl_of(x: int) -> int:
        return x

    ttl_of(100)
    assert 90 <= (cache.get_ttl("ttlfn:100") or 0) <= 100
    cache.close()


def test_cache_info_counts_hits_and_misses_across_threads(url: str) -> None:
    cache = Cache(url)

    @cached(cache=cache, key_prefix="info")
    def load(x: int) -> int:
        time.sleep(0.1)
        return x

    results, errors = run_together(8, lambda: load(1))
    assert errors == [] and results == [1] * 8
    info = load.cache_info()  # type: ignore[attr-defined]
    assert info.hits + info.misses == 8 and info.misses >= 1
    load(1)
    assert load.cache_info().hits == info.hits + 1  # type: ignore[attr-defined]
    cache.close()


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


def test_pickle_mode_fills_signed_pickles_and_reads_them_back(redis_server: Any) -> None:
    cache = Cache(redis_server.url, serializer="pickle", pickle_secret="s3cret")
    assert cache.get_or_set("p", lambda: Point(1, 2), 30, stale_ttl=30) == Point(1, 2)
    other = Cache(redis_server.url, serializer="pickle", pickle_secret="s3cret")
    assert other.get("p") == Point(1, 2)  # stored as set() stores it
    assert other.get_or_set("p", lambda: Point(0, 0), 30) == Point(1, 2)
    cache.close()
    other.close()


# ---- NativeCache.acquire and Lease -------------------------------------------------

def test_acquire_returns_a_lease_then_the_value() -> None:
    native = NativeCache("mem://")
    value, info, lease = native.acquire("k", ttl=30)
    assert value is MISSING and info == 0 and lease is not None
    assert lease.key == "k" and not lease.refresh and lease.pending
    assert lease.fill({"a": 1}) is True and not lease.pending
    with pytest.raises(CacheError, match="already filled"):
        lease.fill(1)
    lease.abandon()  # a no-op once consumed
    assert native.acquire("k") == ({"a": 1}, 0, None)
    assert native.get("k") == {"a": 1}
    native.close()


def test_acquire_arguments_are_checked() -> None:
    native = NativeCache("mem://")
    with pytest.raises(TypeError):
        native.acquire("k", stale=1)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        native.acquire("k", early_refresh=-1.0)
    with pytest.raises(ValueError):
        native.acquire("k", ttl=-1)
    value, _, lease = native.acquire("k")
    assert lease is not None
    with pytest.raises(TypeError):
        lease.fill(object())  # not encodable: the lease stays the caller's
    assert lease.pending
    lease.abandon()
    native.close()


def test_waiters_get_cache_load_error_with_the_message_or_look_again_on_retry(redis_server: Any) -> None:
    native = NativeCache(redis_server.url)
    _, _, lease = native.acquire("w")
    assert lease is not None
    outcome: list[Any] = []

    def waiter() -> None:
        try:
            outcome.append(native.acquire("w", timeout=5))
        except CacheLoadError as exc:
            outcome.append(exc)

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.1)
    lease.abandon("ValueError: boom")
    t.join(5)
    assert isinstance(outcome[0], CacheLoadError) and "boom" in str(outcome[0])

    _, _, lease = native.acquire("w")
    assert lease is not None
    outcome.clear()
    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.1)
    lease.abandon(retry=True)
    t.join(5)
    value, _, second = outcome[0]
    assert value is MISSING and second is not None  # the waiter looked again and loads now
    second.fill(1)
    native.close()


def test_dropping_an_unfilled_lease_abandons_it_also_after_close(redis_server: Any) -> None:
    native = NativeCache(redis_server.url)
    _, _, lease = native.acquire("d")
    outcome: list[Any] = []

    def waiter() -> None:
        try:
            outcome.append(native.acquire("d", timeout=5))
        except CacheLoadError as exc:
            outcome.append(exc)

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.1)
    del lease
    gc.collect()
    t.join(5)
    assert isinstance(outcome[0], CacheLoadError) and "dropped" in str(outcome[0])

    _, _, lease = native.acquire("e")
    _, _, other = native.acquire("f")
    native.close()
    assert lease is not None and other is not None
    with pytest.raises(CacheError):
        lease.fill(1)  # closed: the lease is abandoned and freed
    del other  # dropped after close: no crash
    gc.collect()


def test_a_fill_after_the_redis_lease_was_taken_over_is_refused(redis_server: Any) -> None:
    first, second = NativeCache(redis_server.url), NativeCache(redis_server.url)
    _, _, lease = first.acquire("t", lease_ttl=0.1)
    assert lease is not None
    time.sleep(0.3)  # the Redis lease ran out
    _, _, newer = second.acquire("t", timeout=2)
    assert newer is not None
    assert newer.fill("newer") is True
    assert lease.fill("older") is False  # Redis kept the newer value
    first.flush_l1()
    assert first.get("t") == "newer"
    first.close()
    second.close()


def test_acquire_async_and_fill_async_resolve_on_the_loop() -> None:
    async def main() -> None:
        from stratacache._core import completer_for

        native = NativeCache("mem://")
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        native.acquire_async(completer_for(loop), fut, "k", ttl=30)
        value, info, lease = await fut
        assert value is MISSING and lease is not None
        filled = loop.create_future()
        lease.fill_async(completer_for(loop), filled, [1, 2])
        assert await filled is True and not lease.pending
        fut = loop.create_future()
        native.acquire_async(completer_for(loop), fut, "k")
        assert await fut == ([1, 2], 0, None)
        native.close()

    asyncio.run(main())


def test_info_bits_are_exported() -> None:
    assert (_native.INFO_STALE, _native.INFO_LOADED, _native.INFO_REFRESH) == (1, 2, 4)
