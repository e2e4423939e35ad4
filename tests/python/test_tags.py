"""Tags and dependencies (docs/tags.md) from Python: set/invalidate, the decorators, a
second Python process's L1, and a second language (the C program stratacache_interop)."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import pytest

import stratacache

from conftest import interop as _c

@pytest.mark.parametrize("where", ["redis", "mem"])
def test_set_and_invalidate_tags(redis_server, where: str) -> None:
    url = redis_server.url + "?prefix=pt:" if where == "redis" else "mem://"
    cache = stratacache.Cache(url)
    try:
        cache.set("u:1", {"n": 1}, tags=["user:1", "users"])
        cache.set("u:2", {"n": 2}, tags=["user:2", "users"])
        cache.set_many({"p:1": 1, "p:2": 2}, tags=["posts"])
        cache.set("plain", 0)
        assert cache.invalidate_tags("user:1") == 1
        assert cache.get("u:1") is None and cache.get("u:2") == {"n": 2}
        assert cache.invalidate_tags("users", "posts") == 3
        assert cache.get_many(["u:2", "p:1", "p:2", "plain"]) == {"plain": 0}
        # Dependencies: overwriting the parent removes the dependent.
        cache.set("parent", 1)
        cache.set("child", 2, depends_on=["parent"])
        cache.set("parent", 3)
        assert cache.get("child") is None
        assert cache.stats()["tags"]["dependents_invalidated"] >= 1
        with pytest.raises(TypeError):
            cache.set("k", 1, tags="single-string")
    finally:
        cache.close()


def test_async_cache_tags(redis_server) -> None:
    async def main() -> None:
        cache = stratacache.AsyncCache(redis_server.url + "?prefix=pa:")
        await cache.set("a", 1, tags=["t"])
        await cache.set_many([("b", 2)], tags=["t"])
        assert await cache.invalidate_tags("t") == 2
        assert await cache.get("a") is None and await cache.get("b") is None
        await cache.close()

    asyncio.run(main())


def test_cached_and_invalidate_cache_with_tags(redis_server) -> None:
    cache = stratacache.Cache(redis_server.url + "?prefix=pd:")
    calls: list[int] = []
    try:
        @stratacache.cached(cache=cache, ttl=60, tags=["user:{user_id}"])
        def profile(user_id: int, detail: bool = False) -> dict[str, int]:
            calls.append(user_id)
            return {"id": user_id, "calls": len(calls)}

        @stratacache.invalidate_cache(cache=cache, tags=["user:{user_id}"])
        def rename(user_id: int) -> None:
            pass

        assert profile(1) == {"id": 1, "calls": 1}
        assert profile(1) == {"id": 1, "calls": 1}
        assert profile(2)["calls"] == 2
        rename(1)
        assert profile(1) == {"id": 1, "calls": 3}  # reloaded
        assert profile(2)["calls"] == 2  # untouched
        assert cache.invalidate_tags("user:2") == 1
        assert profile(2)["calls"] == 4
        with pytest.raises(ValueError):
            stratacache.cached(cache=cache, tags=["user:{nobody}"])(lambda user_id: user_id)
    finally:
        cache.close()


OTHER_PROCESS = r"""
import sys, time
from stratacache import _native
cache = _native.NativeCache(sys.argv[1])
assert cache.get("shared") == "v"
assert cache.get("shared", skip_l2=True) == "v"   # in this process's L1
print("filled", flush=True)
sys.stdin.readline()
deadline = time.monotonic() + 5
while time.monotonic() < deadline:
    if cache.get("shared", skip_l2=True) is _native.MISSING:
        print("gone", flush=True)
        break
    time.sleep(0.002)
else:
    print("still served", flush=True)
"""


def test_a_second_process_l1_sees_the_invalidation(redis_server) -> None:
    url = redis_server.url + "?prefix=pp:"
    cache = stratacache.Cache(url)
    try:
        cache.set("shared", "v", tags=["t"])
        child = subprocess.Popen([sys.executable, "-c", OTHER_PROCESS, url], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "filled"
        assert cache.invalidate_tags("t") == 1
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "gone"
        child.wait(10)
    finally:
        cache.close()


def test_c_writes_tagged_python_invalidates_and_back(redis_server) -> None:
    url = redis_server.url + "?prefix=pc:"
    done = _c("write-tagged", url, "from-c", json.dumps({"lang": "c"}), "cross")
    assert done.returncode == 0, done.stderr
    cache = stratacache.Cache(url)
    try:
        assert cache.get("from-c") == {"lang": "c"}
        assert cache.invalidate_tags("cross") == 1
        assert _c("read", url, "from-c").returncode == 3
        cache.set("from-py", {"lang": "py"}, tags=["back"])
        assert cache.get("from-py") == {"lang": "py"}  # now in this process's L1 too
        done = _c("invalidate-tags", url, "back")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "1"
        deadline = time.monotonic() + 5  # this process's L1 copy goes through coherence
        while cache.get("from-py") is not None and time.monotonic() < deadline:
            time.sleep(0.002)
        assert cache.get("from-py") is None
    finally:
        cache.close()
