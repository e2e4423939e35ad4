"""Single flight: concurrent calls for one missing key run the function once (the core's
read-through leases; tests/python/test_read_through.py covers processes, stale values
and early refresh)."""
from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Iterator

import pytest

from stratacache import AsyncCache, Cache, CacheLoadError, cached

pytestmark = pytest.mark.usefixtures("clean_stratacache")

N = 50


@pytest.fixture(params=["mem", "redis"])
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    yield "mem://" if request.param == "mem" else request.getfixturevalue("redis_server").url


def _run_threads(fn: Any, n: int = N) -> tuple[list[Any], list[BaseException]]:
    barrier = threading.Barrier(n)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        try:
            r = fn()
            with lock:
                results.append(r)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results, errors


def test_one_loader_call_under_50_threads(url: str) -> None:
    cache = Cache(url)
    calls = 0

    @cached(cache=cache, key_prefix="sf")
    def load(x: int) -> dict[str, int]:
        nonlocal calls
        calls += 1
        time.sleep(0.2)
        return {"x": x}

    results, errors = _run_threads(lambda: load(1))
    assert errors == []
    assert calls == 1
    assert results == [{"x": 1}] * N
    assert load.cache_info().misses + load.cache_info().hits == N  # type: ignore[attr-defined]
    assert load(1) == {"x": 1} and calls == 1
    cache.close()


def test_loader_exception_reaches_its_caller_the_waiters_get_cache_load_error_nothing_cached(url: str) -> None:
    cache = Cache(url)
    calls = 0

    @cached(cache=cache, key_prefix="sfe")
    def load(x: int) -> int:
        nonlocal calls
        calls += 1
        time.sleep(0.2)
        raise ValueError("broken")

    results, errors = _run_threads(lambda: load(1))
    assert results == [] and len(errors) == N
    assert calls == 1
    assert [type(e) for e in errors].count(ValueError) == 1  # the caller that ran it
    waiters = [e for e in errors if not isinstance(e, ValueError)]
    assert all(isinstance(e, CacheLoadError) and "ValueError: broken" in str(e) for e in waiters)
    assert not cache.exists("sfe:1")
    cache.close()


def test_one_loader_call_under_50_coroutines(url: str) -> None:
    calls = 0

    async def main() -> None:
        cache = AsyncCache(url)

        @cached(cache=cache, key_prefix="asf")
        async def load(x: int) -> list[int]:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.2)
            return [x]

        results = await asyncio.gather(*(load(1) for _ in range(N)))
        assert results == [[1]] * N
        assert await load(1) == [1]
        # a different key is loaded separately
        assert await asyncio.gather(load(2), load(2)) == [[2], [2]]
        await cache.close()

    asyncio.run(main())
    assert calls == 2


def test_coroutine_loader_exception_reaches_its_caller_the_waiters_get_cache_load_error(url: str) -> None:
    calls = 0

    async def main() -> None:
        cache = AsyncCache(url)

        @cached(cache=cache, key_prefix="asfe")
        async def load(x: int) -> int:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.1)
            raise KeyError("nope")

        results = await asyncio.gather(*(load(1) for _ in range(N)), return_exceptions=True)
        assert [type(r) for r in results].count(KeyError) == 1
        assert all(isinstance(r, CacheLoadError) and "KeyError: 'nope'" in str(r)
                   for r in results if not isinstance(r, KeyError))
        assert not await cache.exists("asfe:1")
        await cache.close()

    asyncio.run(main())
    assert calls == 1


def test_cancelled_leader_hands_over_to_a_waiter() -> None:
    calls = 0

    async def main() -> None:
        cache = AsyncCache("mem://")

        @cached(cache=cache, key_prefix="cancel")
        async def load(x: int) -> int:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.1)
            return x

        leader = asyncio.ensure_future(load(1))
        await asyncio.sleep(0.01)
        waiter = asyncio.ensure_future(load(1))
        await asyncio.sleep(0.01)
        leader.cancel()
        assert await waiter == 1
        assert leader.cancelled()

    asyncio.run(main())
    assert calls == 2
