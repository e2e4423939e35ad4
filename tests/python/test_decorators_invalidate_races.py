"""Invalidation under failure and under concurrency: every target is invalidated even
when Redis fails part-way, and a load that raced an invalidation does not store its
(possibly stale) result."""
from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from stratacache import AsyncCache, CacheError, cached, configure, invalidate_cache

pytestmark = pytest.mark.usefixtures("clean_stratacache")


def test_outage_still_invalidates_every_pattern_in_l1(redis_server: Any) -> None:
    configure(redis_server.url, socket_timeout=0.5, socket_connect_timeout=0.2, fail_silently=True)
    calls = {"one": 0, "all": 0}

    @cached(key_prefix="server")
    def one(server_id: int) -> int:
        calls["one"] += 1
        return server_id

    @cached(key_prefix="servers")
    def all_servers() -> list[int]:
        calls["all"] += 1
        return [1, 2]

    @invalidate_cache("server:{server_id}", "servers:*")
    def update(server_id: int) -> str:
        return "ok"

    one(1)
    all_servers()
    redis_server.kill9()
    assert update(1) == "ok"  # the outage is absorbed...
    one(1)
    all_servers()
    # ...and neither L1 copy survived: both loaders ran again.
    assert calls == {"one": 2, "all": 2}


def test_load_racing_an_invalidation_is_not_stored() -> None:
    configure("mem://")
    started, release = threading.Event(), threading.Event()
    calls = 0

    @cached(key_prefix="p")
    def load(x: int) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            started.set()
            release.wait(5)
        return calls

    @invalidate_cache("p:{x}")
    def update(x: int) -> None:
        return None

    worker = threading.Thread(target=load, args=(1,))
    worker.start()
    assert started.wait(5)
    update(1)  # lands while the first load is still computing (old data)
    release.set()
    worker.join(5)
    assert load(1) == 2  # the first result was not stored: the loader ran again
    assert load(1) == 2


def test_calls_after_close_raise(redis_server: Any) -> None:
    cache = AsyncCache(redis_server.url)
    asyncio.run(cache.close())
    with pytest.raises(CacheError, match="closed"):
        asyncio.run(cache.exists("k"))
