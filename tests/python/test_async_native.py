"""AsyncCache over the C ABI's completion queue: every operation is a submission, each
event loop drains its own queue, futures are resolved on the loop's thread, no thread
pool exists. Real redis-server processes (standalone and a 3-master cluster)."""
from __future__ import annotations

import asyncio
import os
import selectors
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from stratacache import AsyncCache, Cache
from stratacache._native import (CacheConnectionError, CacheError, CacheTimeoutError, CacheWrongTypeError, Completer,
                                 NativeCache)

FAST = {"socket_timeout": 0.5, "socket_connect_timeout": 0.2}


def every_operation(cache: AsyncCache, i: int) -> list[Awaitable[Any]]:
    """One awaitable per AsyncCache operation (10 kinds), on keys of their own."""
    return [cache.set(f"s{i}", i), cache.get(f"s{i}"), cache.exists(f"s{i}"), cache.get_ttl(f"s{i}"),
            cache.increment(f"n{i}"), cache.get_many([f"s{i}", f"absent{i}"]), cache.set_many({f"m{i}": i}),
            cache.delete(f"d{i}"), cache.clear_pattern(f"nothing{i}:*"), cache.health_check()]


async def check_every_operation(cache: AsyncCache) -> None:
    await cache.set("user:1", {"name": "Alice", "tags": [1, 2]}, ttl=600)
    cache.flush_local()  # the gets below go to Redis
    assert await cache.get("user:1") == {"name": "Alice", "tags": [1, 2]}
    assert await cache.get("user:absent", default="dflt") == "dflt"
    assert await cache.exists("user:1") is True
    assert await cache.exists("user:absent") is False
    assert 590 <= (await cache.get_ttl("user:1") or 0) <= 600
    assert await cache.get_ttl("user:absent") is None
    await cache.set("forever", 1, ttl=0)
    assert await cache.get_ttl("forever") == -1
    assert await cache.increment("views") == 1
    assert await cache.increment("views", 41) == 42
    await cache.set_many({"a": 1, "b": [2], "{tag}c": "three"}, ttl=60)
    cache.flush_local()
    assert await cache.get_many(["a", "b", "{tag}c", "missing"]) == {"a": 1, "b": [2], "{tag}c": "three"}
    assert await cache.delete("a", "b", "missing") == 2
    assert await cache.get_many(["a", "b"]) == {}
    for i in range(5):
        await cache.set(f"page:{i}", i)
    assert await cache.clear_pattern("page:*") == 5
    assert await cache.exists("page:0") is False
    health = await cache.health_check()
    assert health["healthy"] is True and health["version"]


def test_every_operation_on_standalone_redis(redis_server: Any) -> None:
    async def main() -> None:
        cache = AsyncCache(redis_server.url, fail_silently=False)
        await check_every_operation(cache)
        assert redis_server.cli("GET", "views") == "42"  # really in Redis
        await cache.close()

    asyncio.run(main())


def test_every_operation_on_a_redis_cluster(redis_cluster: Any) -> None:
    async def main() -> None:
        cache = AsyncCache(redis_cluster.url, fail_silently=False)
        await check_every_operation(cache)
        # Keys of other slots (other masters) in one call.
        keys = {f"spread:{i}": i for i in range(50)}
        await cache.set_many(keys)
        cache.flush_local()
        assert await cache.get_many(list(keys)) == keys
        assert await cache.delete(*keys) == 50
        await cache.close()

    asyncio.run(main())


def test_many_tasks_get_their_own_values(redis_server: Any) -> None:
    async def main() -> None:
        cache = AsyncCache(redis_server.url)
        await asyncio.gather(*[cache.set(f"k{i}", {"i": i, "pad": "x" * (i % 50)}) for i in range(500)])
        cache._core.native.flush_l1()
        values = await asyncio.gather(*[cache.get(f"k{i}") for i in range(500)])
        assert [v["i"] for v in values] == list(range(500))
        assert all(v["pad"] == "x" * (i % 50) for i, v in enumerate(values))
        stats = cache._core.native.stats()
        assert stats["l2"]["hits"] == 500
        # Auto-pipelined: 1000 requests from one loop went over one or two connections.
        assert stats["l2"]["connections_opened"] <= 2
        await cache.close()

    asyncio.run(main())


def test_no_thread_pool_across_every_kind_of_operation(redis_server: Any) -> None:
    """1000 awaited operations of every kind start no Python thread (the library's own
    I/O thread is not a Python thread and runs no Python code)."""
    async def main() -> None:
        cache = AsyncCache(redis_server.url, fail_silently=False)
        await asyncio.gather(*every_operation(cache, -1))  # warm: connections, the loop's queue
        before = set(threading.enumerate())
        for i in range(0, 1000, 100):
            await asyncio.gather(*[op for j in range(i, i + 100) for op in every_operation(cache, j)])
        assert set(threading.enumerate()) == before
        assert threading.active_count() == len(before)
        assert not hasattr(cache._core, "_executor")
        await cache.close()

    asyncio.run(main())


class RecordingFuture:
    """A future that records the thread resolving it (the drain calls these methods)."""

    def __init__(self) -> None:
        self.threads: list[int] = []
        self.outcome: tuple[str, Any] | None = None
        self.event = threading.Event()

    def done(self) -> bool:
        self.threads.append(threading.get_ident())
        return self.outcome is not None

    def set_result(self, result: Any) -> None:
        self.threads.append(threading.get_ident())
        self.outcome = ("result", result)

    def set_exception(self, exc: BaseException) -> None:
        self.threads.append(threading.get_ident())
        self.outcome = ("exception", exc)


def test_completions_run_on_the_draining_thread_only(redis_server: Any) -> None:
    """Submissions of every kind complete into the queue; nothing runs until this thread
    drains, and then everything runs here (not on the library's I/O thread)."""
    native = NativeCache(redis_server.url)
    completer = Completer()
    submit: list[Callable[[Completer, RecordingFuture], None]] = [
        lambda c, f: native.set_async(c, f, "k", 1, 0),
        lambda c, f: native.get_async(c, f, "k", skip_l1=True),
        lambda c, f: native.get_many_async(c, f, ["k", "absent"]),
        lambda c, f: native.set_many_async(c, f, [("m", 2)]),
        lambda c, f: native.delete_async(c, f, ["absent"]),
        lambda c, f: native.exists_async(c, f, "k"),
        lambda c, f: native.ttl_async(c, f, "k"),
        lambda c, f: native.increment_async(c, f, "n", 5),
        lambda c, f: native.clear_pattern_async(c, f, "none:*"),
        lambda c, f: native.health_async(c, f),
    ]
    futures = []
    for s in submit:
        f = RecordingFuture()
        s(completer, f)
        futures.append(f)
    deadline = time.monotonic() + 5
    ran = 0
    while ran < len(futures) and time.monotonic() < deadline:
        time.sleep(0.005)
        ran += completer.drain()
    assert ran == len(futures)
    me = threading.get_ident()
    assert all(f.threads and set(f.threads) == {me} for f in futures)
    assert [f.outcome[0] if f.outcome else None for f in futures] == ["result"] * len(futures)
    results = [f.outcome[1] for f in futures if f.outcome]
    assert results[0] is None and results[1] == 1 and results[3] is None and results[4] == 0
    assert results[2][0] == 1 and not results[2][1]  # [1, MISSING]
    assert results[5] is True and results[6] == -1.0 and results[7] == 5 and results[8] == 0
    assert results[9]["healthy"] is True
    assert completer.drain() == 0
    native.close()


def test_asyncio_debug_mode_sees_no_call_from_another_thread(redis_server: Any) -> None:
    """asyncio's debug mode raises if a future is resolved off the loop's thread."""
    async def main() -> None:
        cache = AsyncCache(redis_server.url, fail_silently=False)
        for _ in range(20):
            await asyncio.gather(*every_operation(cache, 0))
        await cache.close()

    asyncio.run(main(), debug=True)


def test_native_async_errors_and_misses_reach_the_future(redis_server: Any) -> None:
    async def main() -> None:
        native = NativeCache(redis_server.url)
        loop = asyncio.get_running_loop()
        completer = Completer()
        loop.add_reader(completer.fileno(), completer.drain)
        try:
            fut = loop.create_future()
            native.get_async(completer, fut, "absent")
            assert await fut is not None  # MISSING, not an exception
            redis_server.cli("SET", "text", "not-an-envelope")
            fut = loop.create_future()
            native.delete_async(completer, fut, ["text", "absent"])
            assert await fut == 1
            with pytest.raises(TypeError, match="completer"):
                native.get_async(object(), loop.create_future(), "k")  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                native.increment_async(completer, loop.create_future(), "k", "one")  # type: ignore[arg-type]
        finally:
            loop.remove_reader(completer.fileno())
            native.close()

    asyncio.run(main())


def test_failure_messages_reach_the_exception(redis_server: Any) -> None:
    async def main() -> None:
        redis_server.cli("SET", "word", "hello")
        for fail_silently in (False, True):  # a caller's error is raised either way
            cache = AsyncCache(redis_server.url, fail_silently=fail_silently)
            with pytest.raises(CacheWrongTypeError, match="not an integer"):
                await cache.increment("word")
            assert cache.stats()["errors_absorbed"] == 0
            await cache.close()

    asyncio.run(main())


def outage_operations(cache: AsyncCache) -> list[Awaitable[Any]]:
    """Every operation once, on keys not in L1 (so each one needs Redis)."""
    return [cache.get("k"), cache.exists("k"), cache.get_ttl("k"), cache.increment("n"), cache.get_many(["k"]),
            cache.set("s", 1), cache.set_many({"m": 1}), cache.delete("d"), cache.clear_pattern("p:*"),
            cache.health_check()]


def test_fail_silently_absorbs_and_counts_every_operation(redis_server: Any) -> None:
    async def main() -> None:
        quiet = AsyncCache(redis_server.url, **FAST)
        loud = AsyncCache(redis_server.url, fail_silently=False, **FAST)
        await quiet.set("k", 1)
        redis_server.kill9()
        quiet.flush_local()
        results = await asyncio.gather(*outage_operations(quiet))
        assert results[:9] == [None, False, None, None, {}, None, None, 0, 0]
        assert results[9]["healthy"] is False and results[9]["error"]
        assert quiet.stats()["errors_absorbed"] == 9  # every operation but the health check
        loud_results = await asyncio.gather(*outage_operations(loud), return_exceptions=True)
        health = loud_results.pop()
        assert health["healthy"] is False  # the health check reports, never raises
        assert all(isinstance(r, CacheConnectionError) for r in loud_results), loud_results
        assert loud.stats()["errors_absorbed"] == 0
        await quiet.close()
        await loud.close()

    asyncio.run(main())


def test_closing_with_operations_of_every_kind_in_flight_completes_them(redis_server: Any) -> None:
    async def main() -> None:
        cache = AsyncCache(redis_server.url, fail_silently=False)
        tasks = [asyncio.ensure_future(op) for i in range(100) for op in every_operation(cache, i)]
        await asyncio.sleep(0)  # every task submitted; none drained yet
        await cache.close()
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=5)
        assert len(results) == 1000
        assert all(not isinstance(r, BaseException) or isinstance(r, CacheError) for r in results), results[:3]

    asyncio.run(main())


def test_closing_while_redis_is_stalled_completes_what_waits_for_it(redis_server: Any) -> None:
    async def main() -> None:
        cache = AsyncCache(redis_server.url, fail_silently=False, socket_timeout=30)
        await cache.set("k", 1)
        cache.flush_local()
        os.kill(redis_server.proc.pid, signal.SIGSTOP)
        try:
            tasks = [asyncio.ensure_future(op) for i in range(500) for op in (cache.get("k"), cache.set(f"w{i}", i))]
            await asyncio.sleep(0.05)  # submitted, waiting for a server that does not answer
            start = time.monotonic()
            await cache.close()
            results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=5)
            assert time.monotonic() - start < 5  # not the 30 s socket_timeout
        finally:
            os.kill(redis_server.proc.pid, signal.SIGCONT)
        assert len(results) == 1000
        assert all(isinstance(r, CacheConnectionError) for r in results), results[:3]
        with pytest.raises(CacheError, match="closed"):
            await cache.get("k")

    asyncio.run(main())


def test_stalled_redis_times_out_per_call_and_the_loop_keeps_running(redis_server: Any) -> None:
    async def main() -> None:
        cache = AsyncCache(redis_server.url, socket_timeout=0.2, fail_silently=False)
        await cache.set("k", "v")
        cache._core.native.flush_l1()
        os.kill(redis_server.proc.pid, signal.SIGSTOP)
        try:
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            t = asyncio.ensure_future(ticker())
            start = time.monotonic()
            results = await asyncio.gather(*[cache.get("k") for _ in range(20)], return_exceptions=True)
            took = time.monotonic() - start
            t.cancel()
            assert all(isinstance(r, CacheTimeoutError) for r in results), results
            assert took < 0.2 + 0.15
            assert ticks >= 5  # the loop was never blocked
        finally:
            os.kill(redis_server.proc.pid, signal.SIGCONT)
        # The breaker opened on the timeouts; once it lets a probe through, the right value
        # comes back (the late replies were dropped, not delivered).
        deadline = time.monotonic() + 5
        while True:
            try:
                assert await cache.get("k") == "v"
                break
            except CacheConnectionError:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
        await cache.close()

    asyncio.run(main())


def test_cancelled_task_does_not_disturb_others(redis_server: Any) -> None:
    async def main() -> None:
        cache = AsyncCache(redis_server.url)
        await cache.set("a", 1)
        cache._core.native.flush_l1()
        task = asyncio.ensure_future(cache.get("a"))
        await asyncio.sleep(0)
        task.cancel()
        assert await cache.get("a") == 1
        await cache.close()

    asyncio.run(main())


def test_mem_cache_uses_the_queue_too() -> None:
    async def main() -> None:
        cache = AsyncCache("mem://")
        before = set(threading.enumerate())
        await cache.set("k", 1)
        assert await cache.get("k") == 1
        assert await cache.get_many(["k"]) == {"k": 1}
        assert await cache.increment("n") == 1
        assert await cache.delete("k") == 1
        assert set(threading.enumerate()) == before
        await cache.close()

    asyncio.run(main())


class NoReaderLoop(asyncio.SelectorEventLoop):
    def add_reader(self, *args: Any) -> None:
        raise NotImplementedError


def test_a_loop_without_add_reader_is_refused_clearly() -> None:
    async def main() -> None:
        cache = AsyncCache("mem://")
        with pytest.raises(CacheError, match="add_reader"):
            await cache.set("k", 1)
        await cache.close()

    loop = NoReaderLoop(selectors.DefaultSelector())
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()


def test_sync_and_async_caches_see_the_same_values(redis_server: Any) -> None:
    async def main() -> None:
        sync = Cache(redis_server.url)
        cache = AsyncCache(redis_server.url)
        sync.set_many({"x": 1, "y": [2]})
        assert await cache.get_many(["x", "y"]) == {"x": 1, "y": [2]}
        await cache.set_many({"z": {"three": 3}})
        assert sync.get("z") == {"three": 3}
        sync.close()
        await cache.close()

    asyncio.run(main())
