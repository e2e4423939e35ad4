"""The C ABI through ctypes, exactly as a language without a binding would use it:
dlopen libstratacache.so, declare the functions, round-trip values."""
from __future__ import annotations

import ctypes as C
import json
import os
import time
from pathlib import Path

import pytest

OK, ENOTFOUND, EINVAL, EUNAVAILABLE, ETIMEDOUT = 0, -1, -2, -3, -4
EWRONGTYPE = -8
FORMAT_RAW, FORMAT_JSON, FORMAT_MSGPACK = 0, 1, 2
SKIP_L1 = 1


def _find_library() -> str:
    env = os.environ.get("STRATACACHE_LIB")
    if env:
        return env
    here = Path(__file__).resolve().parents[2]
    return str(here / "build" / "libstratacache.so")


@pytest.fixture(scope="module")
def lib() -> C.CDLL:
    path = _find_library()
    if not Path(path).exists():
        pytest.fail(f"{path} not found: build first (scripts/build.sh) or set STRATACACHE_LIB")
    lib = C.CDLL(path)
    vp, sz, i64, u64 = C.c_void_p, C.c_size_t, C.c_int64, C.c_uint64
    pp = C.POINTER(C.c_void_p)
    sig = {
        "stratacache_version_string": (C.c_char_p, []),
        "stratacache_version_number": (C.c_uint, []),
        "stratacache_strerror": (C.c_char_p, [C.c_int]),
        "stratacache_last_error": (C.c_char_p, []),
        "stratacache_free": (None, [vp]),
        "stratacache_open": (C.c_int, [pp, C.c_char_p]),
        "stratacache_close": (None, [vp]),
        "stratacache_get": (C.c_int, [pp, C.POINTER(sz), C.POINTER(C.c_int), vp, C.c_char_p, sz, vp]),
        "stratacache_set": (C.c_int, [vp, C.c_char_p, sz, C.c_char_p, sz, C.c_int, i64, vp]),
        "stratacache_get_json": (C.c_int, [pp, C.POINTER(sz), vp, C.c_char_p, sz, vp]),
        "stratacache_set_json": (C.c_int, [vp, C.c_char_p, sz, C.c_char_p, sz, i64, vp]),
        "stratacache_delete": (C.c_int, [C.POINTER(i64), vp, C.POINTER(C.c_char_p), C.POINTER(sz), sz, vp]),
        "stratacache_exists": (C.c_int, [C.POINTER(C.c_int), vp, C.c_char_p, sz, vp]),
        "stratacache_ttl": (C.c_int, [C.POINTER(i64), vp, C.c_char_p, sz, vp]),
        "stratacache_increment": (C.c_int, [C.POINTER(i64), vp, C.c_char_p, sz, i64, i64, vp]),
        "stratacache_clear_pattern": (C.c_int, [C.POINTER(i64), vp, C.c_char_p, sz, vp]),
        "stratacache_stat": (C.c_int, [C.POINTER(u64), vp, C.c_char_p]),
        "stratacache_health_json": (C.c_int, [pp, C.POINTER(sz), vp, vp]),
        "stratacache_callopts_new": (C.c_int, [pp]),
        "stratacache_callopts_set_flags": (C.c_int, [vp, C.c_uint32]),
        "stratacache_callopts_free": (None, [vp]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    return lib


class Handle:
    """A tiny wrapper of the kind any ctypes user would write."""

    def __init__(self, lib: C.CDLL, url: str) -> None:
        self.lib = lib
        self.ptr = C.c_void_p()
        rc = lib.stratacache_open(C.byref(self.ptr), url.encode())
        assert rc == OK, lib.stratacache_last_error()

    def close(self) -> None:
        self.lib.stratacache_close(self.ptr)

    def set(self, key: bytes, value: bytes, fmt: int = FORMAT_RAW, ttl_ms: int = -1, co=None) -> int:
        return self.lib.stratacache_set(self.ptr, key, len(key), value, len(value), fmt, ttl_ms, co)

    def get(self, key: bytes, co=None) -> tuple[int, bytes | None, int]:
        out, n, fmt = C.c_void_p(), C.c_size_t(), C.c_int(-1)
        rc = self.lib.stratacache_get(C.byref(out), C.byref(n), C.byref(fmt), self.ptr, key, len(key), co)
        if rc != OK:
            return rc, None, -1
        data = C.string_at(out, n.value)
        self.lib.stratacache_free(out)
        return rc, data, fmt.value

    def get_json(self, key: bytes) -> tuple[int, object]:
        out, n = C.c_void_p(), C.c_size_t()
        rc = self.lib.stratacache_get_json(C.byref(out), C.byref(n), self.ptr, key, len(key), None)
        if rc != OK:
            return rc, None
        text = C.string_at(out, n.value).decode()
        self.lib.stratacache_free(out)
        return rc, json.loads(text)

    def set_json(self, key: bytes, obj: object, ttl_ms: int = -1) -> int:
        text = json.dumps(obj).encode()
        return self.lib.stratacache_set_json(self.ptr, key, len(key), text, len(text), ttl_ms, None)

    def stat(self, name: str) -> int:
        v = C.c_uint64()
        assert self.lib.stratacache_stat(C.byref(v), self.ptr, name.encode()) == OK
        return v.value


def test_version_and_errors(lib: C.CDLL) -> None:
    assert lib.stratacache_version_string().decode().count(".") == 2
    assert lib.stratacache_version_number() >= 100
    assert lib.stratacache_strerror(ENOTFOUND) == b"not found"
    ptr = C.c_void_p()
    assert lib.stratacache_open(C.byref(ptr), b"redis://h?socket_timeout=soon") == EINVAL
    assert b"socket_timeout" in lib.stratacache_last_error()
    assert not ptr.value


@pytest.mark.parametrize("where", ["mem", "redis"])
def test_round_trips(lib: C.CDLL, redis_server, where: str) -> None:
    url = "mem://" if where == "mem" else redis_server.url + "?prefix=py:"
    h = Handle(lib, url)
    try:
        key = b"k\x00\r\n*?[]{}"
        assert h.set(key, b"\x00\xffbytes", ttl_ms=60000) == OK
        assert h.get(key)[1:] == (b"\x00\xffbytes", FORMAT_RAW)
        assert h.get(b"missing")[0] == ENOTFOUND

        doc = {"name": "Alice", "roles": ["admin"], "n": 3, "pi": 3.25, "none": None}
        assert h.set_json(b"user:123", doc, ttl_ms=600000) == OK
        assert h.get_json(b"user:123") == (OK, doc)
        assert h.get(b"user:123")[2] == FORMAT_MSGPACK

        n = C.c_int64()
        assert lib.stratacache_increment(C.byref(n), h.ptr, b"views", 5, 1, -1, None) == OK
        assert lib.stratacache_increment(C.byref(n), h.ptr, b"views", 5, 5, -1, None) == OK
        assert n.value == 6
        assert h.get_json(b"views") == (OK, 6)
        assert lib.stratacache_increment(C.byref(n), h.ptr, b"user:123", 8, 1, -1, None) == EWRONGTYPE

        ttl = C.c_int64()
        assert lib.stratacache_ttl(C.byref(ttl), h.ptr, b"user:123", 8, None) == OK
        assert 590000 < ttl.value <= 600000
        assert lib.stratacache_ttl(C.byref(ttl), h.ptr, b"nope", 4, None) == ENOTFOUND

        for i in range(20):
            assert h.set(b"server:%d" % i, b"x") == OK
        deleted = C.c_int64()
        assert lib.stratacache_clear_pattern(C.byref(deleted), h.ptr, b"server:*", 8, None) == OK
        assert deleted.value == 20

        keys = (C.c_char_p * 3)(b"user:123", b"views", b"nope")
        lens = (C.c_size_t * 3)(8, 5, 4)
        assert lib.stratacache_delete(C.byref(deleted), h.ptr, keys, lens, 3, None) == OK
        assert deleted.value == 2
        ex = C.c_int(-1)
        assert lib.stratacache_exists(C.byref(ex), h.ptr, b"views", 5, None) == OK
        assert ex.value == 0

        out, size = C.c_void_p(), C.c_size_t()
        assert lib.stratacache_health_json(C.byref(out), C.byref(size), h.ptr, None) == OK
        health = json.loads(C.string_at(out, size.value))
        lib.stratacache_free(out)
        assert health["healthy"] is True
        if where == "redis":
            assert health["version"].startswith("7.")
            assert health["latency_ms"] > 0
    finally:
        h.close()


def test_values_shared_between_handles_and_outage(lib: C.CDLL, redis_server) -> None:
    # l1_coherence=off: L1 keeps its copies through the outage below (with coherence on,
    # losing the invalidation channel empties it: docs/coherence.md).
    url = redis_server.url + "?socket_timeout=0.5&socket_connect_timeout=0.2&l1_coherence=off"
    a, b = Handle(lib, url), Handle(lib, url)
    try:
        assert a.set_json(b"cfg", {"v": [1, 2, 3]}) == OK
        assert b.get_json(b"cfg") == (OK, {"v": [1, 2, 3]})
        assert b.stat("l2.hits") == 1
        # A value another client wrote: a miss, counted, and left alone (not ours).
        redis_server.cli("SET", "junk", "not-an-envelope")
        assert b.get(b"junk")[0] == ENOTFOUND
        assert b.stat("decode_errors") == 1
        assert redis_server.cli("GET", "junk") == "not-an-envelope"
        # Redis dies: L1 still serves, L2 fails fast.
        redis_server.kill9()
        assert b.get_json(b"cfg") == (OK, {"v": [1, 2, 3]})
        co = C.c_void_p()
        assert lib.stratacache_callopts_new(C.byref(co)) == OK
        assert lib.stratacache_callopts_set_flags(co, SKIP_L1) == OK
        start = time.monotonic()
        rc = b.get(b"cfg", co)[0]
        assert rc in (EUNAVAILABLE, ETIMEDOUT)
        assert time.monotonic() - start < 0.6
        assert lib.stratacache_last_error()
        lib.stratacache_callopts_free(co)
    finally:
        a.close()
        b.close()


def test_breaker_and_failure_kind_counters_by_name(lib: C.CDLL, redis_server) -> None:
    h = Handle(lib, redis_server.url + "?circuit_breaker_threshold=1&circuit_breaker_cooldown=5")
    try:
        for name in ("breaker_opens", "breaker_rejections", "connection_errors", "auth_errors", "server_errors",
                     "protocol_errors", "sentinel_failures", "master_changes"):
            assert h.stat("l2." + name) == 0, name
        redis_server.kill9()
        for _ in range(3):
            assert h.get(b"k")[0] == EUNAVAILABLE
        assert h.stat("l2.connection_errors") == 1
        assert h.stat("l2.breaker_opens") == 1
        assert h.stat("l2.breaker_rejections") == 2
        assert h.stat("l2.errors") == 3
    finally:
        h.close()
