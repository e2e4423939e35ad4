"""@cached: forms, function kinds, keys, cache_info/cache_clear/__wrapped__,
condition/unless, TTL forms, exceptions, None, enabled=false."""
from __future__ import annotations

import asyncio
import dataclasses
import datetime
import decimal
import enum
import uuid
from typing import Any, Iterator

import pytest

from stratacache import AsyncCache, Cache, CacheInfo, cached, configure, get_sync_cache, invalidate_cache

pytestmark = pytest.mark.usefixtures("clean_stratacache")


@pytest.fixture(params=["mem", "redis"])
def cache(request: pytest.FixtureRequest) -> Iterator[Cache]:
    url = "mem://" if request.param == "mem" else request.getfixturevalue("redis_server").url
    c = Cache(url)
    yield c
    c.close()


class Calls:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, value: Any = None) -> Any:
        self.n += 1
        return value


# ---- the issue's examples -----------------------------------------------------------

def test_issue_examples(redis_server: Any) -> None:
    configure(redis_server.url)
    calls = Calls()

    @cached(ttl=600, key_prefix="server")
    async def get_server_details(server_id: int) -> dict[str, Any]:
        calls()
        return {"id": server_id, "name": f"srv{server_id}"}

    def build_cache_key(user_id: int, include_deleted: bool = False) -> str:
        return f"{user_id}:deleted={include_deleted}"

    @cached(ttl=300, key_prefix="user", key_builder=build_cache_key)
    async def get_users(user_id: int, include_deleted: bool = False) -> list[int]:
        calls()
        return [user_id]

    async def main() -> None:
        assert await get_server_details(5) == {"id": 5, "name": "srv5"}
        assert await get_server_details(server_id=5) == {"id": 5, "name": "srv5"}
        assert calls.n == 1
        assert redis_server.cli("EXISTS", "server:5") == "1"
        assert 598 <= int(redis_server.cli("TTL", "server:5")) <= 600
        assert await get_users(7) == [7]
        assert await get_users(7, include_deleted=False) == [7]
        assert calls.n == 2
        assert redis_server.cli("EXISTS", "user:7:deleted=False") == "1"
        assert 298 <= int(redis_server.cli("TTL", "user:7:deleted=False")) <= 300
        await get_users(7, True)
        assert calls.n == 3

    asyncio.run(main())


# ---- forms and function kinds -------------------------------------------------------

def test_bare_and_called_forms(cache: Cache) -> None:
    configure(cache.url)
    calls = Calls()

    @cached
    def bare(x: int) -> int:
        return calls(x * 2)

    @cached()
    def empty_call(x: int) -> int:
        return calls(x * 3)

    assert bare(2) == bare(2) == 4
    assert empty_call(2) == empty_call(2) == 6
    assert calls.n == 2
    assert bare.__wrapped__(2) == 4  # type: ignore[attr-defined]
    assert bare.__name__ == "bare"
    assert bare.cache_key(2) == f"{__name__}.test_bare_and_called_forms.<locals>.bare:2"  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="keyword"):
        cached(600)  # type: ignore[call-overload]


def test_methods_classmethods_staticmethods(cache: Cache) -> None:
    calls = Calls()

    class Repo:
        def __init__(self, name: str) -> None:
            self.name = name

        @cached(cache=cache, key_prefix="m")
        def method(self, x: int) -> int:
            return calls(x + 1)

        @cached(cache=cache, key_prefix="cm1")
        @classmethod
        def cm_outer(cls, x: int) -> int:
            return calls(x + 2)

        @classmethod
        @cached(cache=cache, key_prefix="cm2")
        def cm_inner(cls, x: int) -> int:
            return calls(x + 3)

        @cached(cache=cache, key_prefix="sm1")
        @staticmethod
        def sm_outer(x: int) -> int:
            return calls(x + 4)

        @staticmethod
        @cached(cache=cache, key_prefix="sm2")
        def sm_inner(x: int) -> int:
            return calls(x + 5)

        @cached(cache=cache)
        async def amethod(self, x: int) -> int:
            return calls(x + 6)

    a, b = Repo("a"), Repo("b")
    assert a.method(1) == b.method(1) == 2  # self is not part of the key
    assert cache.get("m:1") == 2
    assert Repo.cm_outer(1) == a.cm_outer(1) == 3
    assert cache.get("cm1:1") == 3
    assert Repo.cm_inner(1) == a.cm_inner(1) == 4
    assert cache.get("cm2:1") == 4
    assert Repo.sm_outer(1) == a.sm_outer(1) == 5
    assert cache.get("sm1:1") == 5
    assert Repo.sm_inner(1) == a.sm_inner(1) == 6
    assert cache.get("sm2:1") == 6
    assert calls.n == 5
    assert a.method.cache_info() == CacheInfo(1, 1, None, None)  # type: ignore[attr-defined]
    assert Repo.cm_outer.cache_info().hits == 1  # type: ignore[attr-defined]
    assert Repo.sm_inner.cache_info().hits == 1  # type: ignore[attr-defined]

    async def main() -> None:
        assert await a.amethod(1) == await b.amethod(1) == 7

    asyncio.run(main())
    assert calls.n == 6
    qual = Repo.amethod.__qualname__
    assert cache.get(f"{__name__}.{qual}:1") == 7


def test_key_equivalence(cache: Cache) -> None:
    calls = Calls()

    @cached(cache=cache, key_prefix="f")
    def f(x: int, y: int = 10, *, z: str = "z") -> int:
        return calls(x + y)

    f(1)
    f(x=1)
    f(1, 10)
    f(1, y=10, z="z")
    f(y=10, x=1)
    assert calls.n == 1
    assert cache.exists("f:1:10:z")
    f(2, 10)
    assert calls.n == 2

    @cached(cache=cache, key_prefix="g")
    def g(x: int) -> int:
        return calls(x)

    g(1)  # fast path
    g(x=1)  # bind path
    assert calls.n == 3
    assert g.cache_key(1) == g.cache_key(x=1) == "g:1"  # type: ignore[attr-defined]

    @cached(cache=cache, key_prefix="h")
    def h(a: int, b: int = 2) -> int:
        return calls(a + b)

    assert h.cache_key(1, 2) == h.cache_key(1) == h.cache_key(a=1) == h.cache_key(b=2, a=1) == "h:1:2"  # type: ignore[attr-defined]

    @cached(cache=cache, key_prefix="v")
    def variadic(a: int, *rest: int, **extra: Any) -> int:
        return calls(a)

    assert variadic.cache_key(1, 2, 3, b=4, a2=5) == "v:1:2:3:a2=5:b=4"  # type: ignore[attr-defined]
    assert variadic.cache_key(1, 2, 3, a2=5, b=4) == "v:1:2:3:a2=5:b=4"  # type: ignore[attr-defined]


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class User:
    id: int


class Keyed:
    def __init__(self, id: int) -> None:
        self.id = id

    def __cache_key__(self) -> str:
        return f"keyed-{self.id}"


def test_key_rendering(cache: Cache) -> None:
    @cached(cache=cache, key_prefix="r")
    def r(v: Any) -> int:
        return 1

    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    cases: list[tuple[Any, str]] = [
        ("s", "r:s"), (5, "r:5"), (True, "r:True"), (None, "r:None"), (1.5, "r:1.5"), (u, f"r:{u}"),
        (decimal.Decimal("1.10"), "r:1.10"), (datetime.date(2024, 1, 2), "r:2024-01-02"),
        (datetime.datetime(2024, 1, 2, 3, 4, 5), "r:2024-01-02T03:04:05"), (Color.RED, "r:red"),
        (b"\x00\xff", "r:00ff"), ((1, "a"), 'r:[1,"a"]'), ([1, [2]], "r:[1,[2]]"),
        (Keyed(3), "r:keyed-3"),
    ]
    for value, key in cases:
        assert r.cache_key(value) == key, value  # type: ignore[attr-defined]
    assert r.cache_key({"b": 1, "a": {2, 1}}) == 'r:{"a":[1,2],"b":1}'  # type: ignore[attr-defined]
    assert r.cache_key(["1"]) != r.cache_key([1])  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="argument 'v' of type 'User'"):
        r(User(1))


def test_key_builder_gets_the_functions_arguments(cache: Cache) -> None:
    seen: list[tuple[Any, ...]] = []

    def builder(*args: Any, **kwargs: Any) -> str:
        seen.append((args, kwargs))
        return "fixed"

    class C:
        @cached(cache=cache, key_prefix="kb", key_builder=builder)
        def m(self, x: int, flag: bool = False) -> int:
            return x

    c = C()
    assert c.m(1, flag=True) == 1
    assert seen == [((c, 1), {"flag": True})]
    assert cache.get("kb:fixed") == 1


# ---- cache_info / cache_clear -------------------------------------------------------

def test_cache_info_and_clear(cache: Cache) -> None:
    calls = Calls()

    @cached(cache=cache, key_prefix="ci[x]")  # glob characters in the prefix are escaped
    def f(x: int) -> int:
        return calls(x)

    cache.set("cix:1", "unrelated")
    f(1), f(1), f(2)
    assert f.cache_info() == CacheInfo(hits=1, misses=2, maxsize=None, currsize=None)  # type: ignore[attr-defined]
    f.cache_clear()  # type: ignore[attr-defined]
    assert f.cache_info() == CacheInfo(0, 0, None, None)  # type: ignore[attr-defined]
    assert not cache.exists("ci[x]:1")
    assert cache.get("cix:1") == "unrelated"
    f(1)
    assert calls.n == 3


def test_async_cache_clear_is_a_coroutine(cache: Cache) -> None:
    calls = Calls()

    @cached(cache=cache, key_prefix="ac")
    async def f(x: int) -> int:
        return calls(x)

    async def main() -> None:
        await f(1)
        await f(1)
        assert f.cache_info().hits == 1  # type: ignore[attr-defined]
        await f.cache_clear()  # type: ignore[attr-defined]
        await f(1)

    asyncio.run(main())
    assert calls.n == 2


# ---- what gets stored ---------------------------------------------------------------

def test_condition_and_unless(cache: Cache) -> None:
    calls = Calls()

    @cached(cache=cache, key_prefix="cond", condition=lambda r: r > 0)
    def cond(x: int) -> int:
        return calls(x)

    @cached(cache=cache, key_prefix="unless", unless=lambda r: r is None)
    def unl(x: int | None) -> int | None:
        return calls(x)

    cond(-1), cond(-1), cond(1), cond(1)
    assert calls.n == 3
    unl(None), unl(None), unl(2), unl(2)
    assert calls.n == 6
    assert not cache.exists("unless:None") and cache.exists("unless:2")


def test_exceptions_never_cached_none_is(cache: Cache) -> None:
    calls = Calls()

    @cached(cache=cache, key_prefix="exc")
    def boom(x: int) -> None:
        calls()
        raise RuntimeError("no")

    @cached(cache=cache, key_prefix="none")
    def nothing(x: int) -> None:
        return calls(None)

    for _ in range(2):
        with pytest.raises(RuntimeError):
            boom(1)
    assert calls.n == 2 and not cache.exists("exc:1")
    assert nothing(1) is None and nothing(1) is None
    assert calls.n == 3
    assert nothing.cache_info().hits == 1  # type: ignore[attr-defined]

    @cached(cache=cache, key_prefix="aexc")
    async def aboom(x: int) -> None:
        calls()
        raise RuntimeError("no")

    async def main() -> None:
        for _ in range(2):
            with pytest.raises(RuntimeError):
                await aboom(1)

    asyncio.run(main())
    assert calls.n == 5


def test_ttl_forms(redis_server: Any) -> None:
    cache = Cache(redis_server.url)

    @cached(cache=cache, key_prefix="t1", ttl=60)
    def t1(x: int) -> int:
        return x

    @cached(cache=cache, key_prefix="t2", ttl=datetime.timedelta(minutes=2))
    def t2(x: int) -> int:
        return x

    @cached(cache=cache, key_prefix="t3", ttl=lambda r: 30 if r > 1 else datetime.timedelta(seconds=90))
    def t3(x: int) -> int:
        return x

    @cached(cache=cache, key_prefix="t4")
    def t4(x: int) -> int:
        return x

    t1(1), t2(1), t3(1), t3(2), t4(1)
    assert 58 <= int(redis_server.cli("TTL", "t1:1")) <= 60
    assert 118 <= int(redis_server.cli("TTL", "t2:1")) <= 120
    assert 88 <= int(redis_server.cli("TTL", "t3:1")) <= 90
    assert 28 <= int(redis_server.cli("TTL", "t3:2")) <= 30
    assert 298 <= int(redis_server.cli("TTL", "t4:1")) <= 300
    with pytest.raises(ValueError):
        cached(ttl=-5)
    cache.close()


def test_unserializable_result_raises(cache: Cache) -> None:
    @cached(cache=cache, key_prefix="u")
    def f(x: int) -> set[int]:
        return {x}

    with pytest.raises(TypeError, match="set"):
        f(1)


# ---- which cache --------------------------------------------------------------------

def test_cache_resolved_at_call_time(redis_server: Any) -> None:
    calls = Calls()

    @cached(key_prefix="late")
    def f(x: int) -> int:
        return calls(x)

    f(1)  # the embedded default (no environment)
    assert not get_sync_cache().l2_enabled
    configure(redis_server.url)
    f(1)  # a new handle: a miss, stored in Redis
    assert calls.n == 2
    assert redis_server.cli("EXISTS", "late:1") == "1"


def test_async_cache_instance_for_sync_function(redis_server: Any) -> None:
    acache = AsyncCache(redis_server.url)

    @cached(cache=acache, key_prefix="mixed")
    def f(x: int) -> int:
        return x * 2

    assert f(2) == 4
    assert redis_server.cli("EXISTS", "mixed:2") == "1"

    async def main() -> None:
        assert await acache.get("mixed:2") == 4
        await acache.close()

    asyncio.run(main())


def test_cache_enabled_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CACHE_ENABLED", "false")
    calls = Calls()

    @cached(key_prefix="off")
    def f(x: int) -> int:
        return calls(x)

    @cached(key_prefix="aoff")
    async def af(x: int) -> int:
        return calls(x)

    f(1), f(1)
    asyncio.run(af(1))
    asyncio.run(af(1))
    assert calls.n == 4
    assert f.cache_info() == CacheInfo(0, 0, None, None)  # type: ignore[attr-defined]
    assert not get_sync_cache().exists("off:1")
    configure(enabled=True)
    f(1), f(1)
    assert calls.n == 5


def test_wrapper_keeps_the_signature_and_call_errors(cache: Cache) -> None:
    import inspect

    sentinel: list[int] = []

    @cached(cache=cache, key_prefix="sig")
    def f(a: int, b: list[int] = sentinel, c: str = "c") -> int:
        assert b is sentinel  # defaults are the function's own objects
        return a

    assert inspect.signature(f) == inspect.signature(f.__wrapped__)  # type: ignore[attr-defined]
    assert f(1) == f(1, c="c") == f(a=1) == 1
    assert f.cache_info().misses == 1  # type: ignore[attr-defined]
    assert f.cache_key(1) == "sig:1:[]:c"  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        f()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        f(1, 2, 3, 4)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        f(1, d=2)  # type: ignore[call-arg]

    @cached(cache=cache, key_prefix="kwonly")
    def g(a: int, *, b: int = 2) -> int:
        return a + b

    assert g(1) == g(1, b=2) == 3 and g.cache_info().hits == 1  # type: ignore[attr-defined]


def test_async_cached_and_invalidate_start_no_thread(redis_server: Any) -> None:
    import threading

    async def main() -> None:
        acache = AsyncCache(redis_server.url)
        calls = Calls()

        @cached(cache=acache, key_prefix="ah")
        async def f(x: int) -> int:
            return calls(x)

        @invalidate_cache("ah:{x}", "ah:*", cache=acache)
        async def update(x: int) -> None:
            return None

        before = set(threading.enumerate())
        assert await f(1) == 1  # miss: L2 read and write through the loop's completion queue
        acache.flush_local()
        assert await f(1) == 1  # from L2
        assert f.cache_info().hits == 1  # type: ignore[attr-defined]
        await update(1)
        assert await f(1) == 1 and calls.n == 2  # invalidated in L1 and L2
        await f.cache_clear()  # type: ignore[attr-defined]
        assert redis_server.cli("EXISTS", "ah:1") == "0"
        assert set(threading.enumerate()) == before
        await acache.close()

    asyncio.run(main())
