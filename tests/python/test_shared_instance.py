"""One cache shared by two languages in one process: Python opens the named cache, a
second user of libstratacache in the same process (ctypes here, as a C extension or
another language's runtime would) opens the same name through the C ABI of the very
library Python loaded (stratacache.library_path())."""
from __future__ import annotations

import asyncio
import ctypes as C
import json
import os

import pytest

import stratacache
from stratacache import AsyncCache, Cache, CacheConfigError

OK, ENOTFOUND, EINVAL, ECLOSED = 0, -1, -2, -12
FORMAT_JSON, FORMAT_MSGPACK = 1, 2


@pytest.fixture(scope="module")
def lib() -> C.CDLL:
    path = stratacache.library_path()
    assert os.path.isfile(path) and os.path.basename(path).startswith("libstratacache.so")
    lib = C.CDLL(path)
    vp, sz, pp = C.c_void_p, C.c_size_t, C.POINTER(C.c_void_p)
    for name, res, args in [
        ("stratacache_open_shared", C.c_int, [pp, C.c_char_p, C.c_char_p]),
        ("stratacache_close", None, [vp]),
        ("stratacache_last_error", C.c_char_p, []),
        ("stratacache_set_json", C.c_int, [vp, C.c_char_p, sz, C.c_char_p, sz, C.c_int64, vp]),
        ("stratacache_set", C.c_int, [vp, C.c_char_p, sz, C.c_char_p, sz, C.c_int, C.c_int64, vp]),
        ("stratacache_get", C.c_int, [pp, C.POINTER(sz), C.POINTER(C.c_int), vp, C.c_char_p, sz, vp]),
        ("stratacache_free", None, [vp]),
        ("stratacache_stat", C.c_int, [C.POINTER(C.c_uint64), vp, C.c_char_p]),
    ]:
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


class Foreign:
    """The other language's handle on the shared cache."""

    def __init__(self, lib: C.CDLL, name: str, url: str) -> None:
        self.lib, self.ptr = lib, C.c_void_p()
        self.rc = lib.stratacache_open_shared(C.byref(self.ptr), name.encode(), url.encode())

    def set_json(self, key: str, value: object) -> None:
        text = json.dumps(value).encode()
        assert self.lib.stratacache_set_json(self.ptr, key.encode(), len(key), text, len(text), 0, None) == OK

    def set(self, key: str, payload: bytes, fmt: int) -> None:
        assert self.lib.stratacache_set(self.ptr, key.encode(), len(key), payload, len(payload), fmt, 0, None) == OK

    def get_rc(self, key: str) -> int:
        out, n = C.c_void_p(), C.c_size_t()
        rc = self.lib.stratacache_get(C.byref(out), C.byref(n), None, self.ptr, key.encode(), len(key), None)
        self.lib.stratacache_free(out)
        return rc

    def stat(self, name: str) -> int:
        v = C.c_uint64()
        assert self.lib.stratacache_stat(C.byref(v), self.ptr, name.encode()) == OK
        return v.value

    def close(self) -> None:
        self.lib.stratacache_close(self.ptr)


def test_library_path_is_the_loaded_library() -> None:
    path = stratacache.library_path()
    with open("/proc/self/maps") as maps:
        assert any(line.rstrip().endswith(os.path.realpath(path)) for line in maps)


def test_mem_cache_shared_with_ctypes(lib: C.CDLL) -> None:
    cache = Cache("mem://", shared="app")
    other = Foreign(lib, "app", "mem://")
    assert other.rc == OK, lib.stratacache_last_error()
    try:
        # mem:// has no Redis: two separate caches could never see each other's values.
        other.set_json("user:1", {"name": "Ada", "langs": ["C", "Python"], "id": 1})
        other.set("raw:json", b'{"n": 12345678901234}', FORMAT_JSON)
        assert cache.get("user:1") == {"name": "Ada", "langs": ["C", "Python"], "id": 1}
        assert cache.get("raw:json") == {"n": 12345678901234}
        cache.set("from-python", [1, "two"], ttl=0)
        assert other.get_rc("from-python") == OK
        # One L1: Python's two hits and the foreign one count in the same counters.
        assert cache.stats()["l1"]["hits"] == other.stat("l1.hits") == 3
        other.close()
        assert other.get_rc("user:1") == ECLOSED
        assert cache.get("user:1") == {"name": "Ada", "langs": ["C", "Python"], "id": 1}
        cache.set("after", "still open")
        assert cache.get("after") == "still open"
    finally:
        other.close()
        cache.close()


def test_other_url_under_an_open_name_fails_clearly(lib: C.CDLL) -> None:
    cache = Cache("mem://", shared="app-url")
    try:
        other = Foreign(lib, "app-url", "mem://?max_key_length=64")
        assert other.rc == EINVAL
        assert b"app-url" in lib.stratacache_last_error()
        with pytest.raises(CacheConfigError, match="app-url"):
            Cache("mem://?max_key_length=64", shared="app-url")
        with pytest.raises(CacheConfigError, match="shared"):
            Cache("mem://", shared=5)
    finally:
        cache.close()
    # Closed by its last handle: the name is free for another URL.
    reopened = Cache("mem://?max_key_length=64", shared="app-url")
    reopened.close()


def test_redis_cache_shared_with_ctypes_reads_from_l1(lib: C.CDLL, redis_server) -> None:
    url = redis_server.url
    cache = Cache(url, shared="app-redis", fail_silently=False)
    other = Foreign(lib, "app-redis", url)
    assert other.rc == OK, lib.stratacache_last_error()
    try:
        payload = bytes.fromhex("82a46e616d65a3416461a26964cd0400")  # msgpack {"name": "Ada", "id": 1024}
        other.set("user:2", payload, FORMAT_MSGPACK)
        l2_reads = other.stat("l2.hits") + other.stat("l2.misses")
        assert cache.get("user:2") == {"name": "Ada", "id": 1024}
        assert other.stat("l2.hits") + other.stat("l2.misses") == l2_reads  # served by the shared L1
        assert cache.stats()["l1"]["hits"] == 1
        other.close()
        assert cache.get("user:2") == {"name": "Ada", "id": 1024}
    finally:
        other.close()
        cache.close()


def test_async_cache_opens_a_shared_name(lib: C.CDLL) -> None:
    async def main() -> None:
        cache = AsyncCache("mem://", shared="app-async")
        other = Foreign(lib, "app-async", "mem://")
        try:
            other.set_json("k", {"from": "ctypes"})
            assert await cache.get("k") == {"from": "ctypes"}
        finally:
            other.close()
            await cache.close()

    asyncio.run(main())
