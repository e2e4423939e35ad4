"""AsyncCache on the core's asynchronous API: many tasks, one loop, no thread per request."""
from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import pytest

from stratacache import AsyncCache
from stratacache._native import CacheTimeoutError, Completer, NativeCache


def test_many_tasks_get_their_own_values(redis_server: Any) -> None:
    async def main() -> None:
        cache = AsyncCache(redis_server.url)
        assert cache._core.async_native
        await asyncio.gather(*[cache.set(f"k{i}", {"i": i, "pad": "x" * (i % 50)}) for i in range(500)])
        cache._core.native.flush_l1()
        values = await asyncio.gather(*[cache.get(f"k{i}") for i in range(500)])
        assert [v["i"] for v in values] == list(range(500))
        assert all(v["pad"] == "x" * (i % 50) for i, v in enumerate(values))
        stats = cache._core.native.stats()
        assert stats["l2"]["hits"] == 500
        # Auto-pipelined: 1000 requests from one loop went over one or two connections.
        assert stats["l2"]["connections_opened"] <= 2
        assert cache._core._executor is None  # no thread pool was ever created
        await cache.close()

    asyncio.run(main())


def test_native_async_errors_and_misses_reach_the_future(redis_server: Any) -> None:
    async def main() -> None:
        native = NativeCache(redis_server.url)
        loop = asyncio.get_running_loop()
        completer = Completer()
        loop.add_reader(completer.fileno(), lambda: [
            (f.set_result(v) if ok else f.set_exception(v)) for f, ok, v in completer.drain()])
        try:
            fut = loop.create_future()
            native.get_async("absent", completer, fut)
            assert await fut is not None  # MISSING, not an exception
            redis_server.cli("SET", "text", "not-an-envelope")
            fut = loop.create_future()
            native.delete_async(["text", "absent"], completer, fut)
            assert await fut == 1
            with pytest.raises(TypeError, match="completer"):
                native.get_async("k", object(), loop.create_future())  # type: ignore[arg-type]
        finally:
            loop.remove_reader(completer.fileno())
            native.close()

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
        from stratacache._native import CacheConnectionError

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
