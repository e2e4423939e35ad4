"""@invalidate_cache: runs first, invalidates only on success, patterns with arguments,
exact keys and globs, L1 and L2, sync and async."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from stratacache import Cache, cached, configure, get_sync_cache, invalidate_cache

pytestmark = pytest.mark.usefixtures("clean_stratacache")


def test_issue_example_glob_async(redis_server: Any) -> None:
    configure(redis_server.url)
    calls = 0

    @cached(ttl=600, key_prefix="server")
    async def get_server_details(server_id: int) -> dict[str, int]:
        nonlocal calls
        calls += 1
        return {"id": server_id, "v": calls}

    @invalidate_cache("server:*")
    async def update_server(server_id: int, data: dict[str, Any]) -> str:
        return "ok"

    async def main() -> None:
        await get_server_details(1)
        await get_server_details(2)
        assert redis_server.cli("EXISTS", "server:1") == "1"
        assert await update_server(1, {"name": "x"}) == "ok"
        assert redis_server.cli("EXISTS", "server:1", "server:2") == "0"
        assert (await get_server_details(1))["v"] == 3  # L1 was invalidated too

    asyncio.run(main())


def test_exact_pattern_with_arguments_reaches_l1_and_l2(redis_server: Any) -> None:
    configure(redis_server.url)
    versions = {5: 1, 6: 1}

    @cached(key_prefix="server")
    def get_server_details(server_id: int) -> int:
        return versions[server_id]

    @invalidate_cache("server:{server_id}")
    def update_server(server_id: int, version: int) -> None:
        versions[server_id] = version

    assert get_server_details(server_id=5) == 1
    assert get_server_details(6) == 1
    update_server(5, 2)
    assert get_server_details(5) == 2  # L1 copy gone too
    assert get_server_details(6) == 1  # other keys untouched
    update_server(version=3, server_id=6)
    assert get_server_details(6) == 3


def test_defaults_and_rendering_match_keys() -> None:
    cache = Cache("mem://")

    @cached(cache=cache, key_prefix="users")
    def get_users(org: str, active: bool = True, ratio: float = 0.5) -> int:
        return 1

    @invalidate_cache("users:{org}:{active}:{ratio}", cache=cache)
    def touch(org: str, active: bool = True, ratio: float = 0.5) -> None:
        pass

    get_users("acme")
    assert cache.exists("users:acme:True:0.5")
    touch("acme")
    assert not cache.exists("users:acme:True:0.5")


def test_glob_with_arguments_escapes_values() -> None:
    cache = Cache("mem://")
    for k in ("user:a*:1", "user:a*:2", "user:ab:1"):
        cache.set(k, 1)

    @invalidate_cache("user:{name}:*", cache=cache)
    def rename(name: str) -> None:
        pass

    rename("a*")  # the argument is literal, the pattern's own * is a glob
    assert not cache.exists("user:a*:1") and not cache.exists("user:a*:2")
    assert cache.exists("user:ab:1")


def test_not_invalidated_when_the_function_raises() -> None:
    cache = Cache("mem://")
    cache.set("item:1", "v")

    @invalidate_cache("item:{item_id}", cache=cache)
    def update(item_id: int) -> None:
        raise RuntimeError("failed")

    @invalidate_cache("item:{item_id}", cache=cache)
    async def aupdate(item_id: int) -> None:
        raise RuntimeError("failed")

    with pytest.raises(RuntimeError):
        update(1)
    with pytest.raises(RuntimeError):
        asyncio.run(aupdate(1))
    assert cache.get("item:1") == "v"


def test_several_patterns_methods_and_attribute_fields() -> None:
    cache = Cache("mem://")

    class Service:
        def __init__(self, tenant: str) -> None:
            self.tenant = tenant

        @invalidate_cache("t:{self.tenant}:item:{item_id}", "t:{self.tenant}:list:*", cache=cache)
        def save(self, item_id: int) -> int:
            return item_id

        @invalidate_cache("static:{x}", cache=cache)
        @staticmethod
        def static(x: int) -> None:
            pass

    for k in ("t:a:item:1", "t:a:list:1", "t:a:list:2", "t:b:item:1", "static:3"):
        cache.set(k, 1)
    assert Service("a").save(1) == 1
    assert [k for k in ("t:a:item:1", "t:a:list:1", "t:a:list:2", "t:b:item:1") if cache.exists(k)] == ["t:b:item:1"]
    Service.static(3)
    assert not cache.exists("static:3")


def test_kwargs_fields_and_bad_patterns() -> None:
    cache = Cache("mem://")
    cache.set("k:7", 1)

    @invalidate_cache("k:{ident}", cache=cache)
    def by_kwargs(**kw: Any) -> None:
        pass

    by_kwargs(ident=7)
    assert not cache.exists("k:7")
    with pytest.raises(KeyError, match="other"):
        invalidate_cache("k:{other}", cache=cache)(lambda **kw: None)(ident=1)

    with pytest.raises(ValueError, match="missing"):
        @invalidate_cache("k:{missing}")
        def f(x: int) -> None: ...
    with pytest.raises(ValueError):
        invalidate_cache("k:{0}")
    with pytest.raises(ValueError):
        invalidate_cache()


def test_process_wide_default(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = get_sync_cache()
    cache.set("p:1", 1)

    @invalidate_cache("p:{x}")
    def f(x: int) -> None:
        pass

    f(1)
    assert not cache.exists("p:1")
