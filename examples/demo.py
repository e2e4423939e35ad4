"""stratacache demo: @cached and @invalidate_cache on sync and async functions, on the
embedded default (mem://, no server) or on the Redis named by $REDIS_URL."""
from __future__ import annotations

import asyncio
import os
import time

from stratacache import cached, configure, get_cache, get_sync_cache, invalidate_cache

configure(url=os.environ.get("REDIS_URL") or "mem://", prefix="demo:")
calls = {"server": 0, "users": 0}


@cached(ttl=600, key_prefix="server")
async def get_server_details(server_id: int) -> dict:
    calls["server"] += 1
    await asyncio.sleep(0.02)  # the "database"
    return {"id": server_id, "name": f"srv-{server_id}", "tags": ["web", "eu"]}


@invalidate_cache("server:{server_id}")
async def update_server(server_id: int, data: dict) -> None:
    pass  # write to the database here; the cached entry is dropped afterwards


def build_cache_key(user_id: int, include_deleted: bool = False) -> str:
    return f"{user_id}:deleted={include_deleted}"


@cached(ttl=300, key_prefix="users", key_builder=build_cache_key)
def get_users(user_id: int, include_deleted: bool = False) -> list[str]:
    calls["users"] += 1
    time.sleep(0.02)
    return [f"user-{user_id}-a", f"user-{user_id}-b"]


def timed(label: str, fn, *args):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn(*args)
    print(f"  {label:<38} {1e6 * (time.perf_counter() - start):9.1f} us  -> {result}")
    return result


async def main() -> None:
    cache = await get_cache()
    print(f"stratacache on {os.environ.get('REDIS_URL') or 'mem://'}")
    print("async @cached: first call loads, second call hits")
    for _ in range(2):
        start = time.perf_counter()
        details = await get_server_details(42)
        print(f"  get_server_details(42) {1e6 * (time.perf_counter() - start):21.1f} us  -> {details}")
    await update_server(42, {"name": "renamed"})
    await get_server_details(server_id=42)
    print(f"  after @invalidate_cache('server:{{server_id}}'): loader ran {calls['server']} times")

    print("sync @cached with a key_builder")
    timed("get_users(7)", get_users, 7)
    timed("get_users(7) again", get_users, 7)
    print(f"  cache_info: {get_users.cache_info()}")

    print("read-through: 50 concurrent callers of one cold key share one load")
    loads = 0

    async def load_report() -> dict:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.05)
        return {"rows": 1234}

    results = await asyncio.gather(*(cache.get_or_set("report:daily", load_report, ttl=60, stale_ttl=600)
                                     for _ in range(50)))
    print(f"  {len(results)} callers got {results[0]}; the loader ran {loads} time(s)")

    print("the cache API")
    await cache.set("user:123", {"name": "Alice", "role": "admin"}, ttl=600)
    print(f"  get user:123       -> {await cache.get('user:123')}")
    print(f"  exists / get_ttl   -> {await cache.exists('user:123')} / {await cache.get_ttl('user:123')} s")
    print(f"  increment x1, x5   -> {await cache.increment('post:123:views')}, "
          f"{await cache.increment('post:123:views', amount=5)}")
    print(f"  clear_pattern user:* -> {await cache.clear_pattern('user:*')} deleted")
    print(f"  health_check       -> {await cache.health_check()}")
    print(f"  sync cache shares it: {get_sync_cache().get('post:123:views')}")


asyncio.run(main())
