"""stratacache._native.NativeCache on mem://: every method, argument handling, keys,
TTLs, closing, and the module-level names."""
from __future__ import annotations

import gc
import threading
import time
from typing import Any, Callable

import pytest

from stratacache import _native
from stratacache._native import (
    MISSING,
    CacheConfigError,
    CacheError,
    CacheValueError,
    CacheWrongTypeError,
    NativeCache,
)


@pytest.fixture
def c() -> NativeCache:
    return NativeCache("mem://")


def test_module_level_names() -> None:
    assert _native.version().count(".") == 2  # equal to the project version: test_version.py
    assert _native.ABI_VERSION == 5
    assert isinstance(_native.MISSING, _native._MissingType)


def test_exception_hierarchy() -> None:
    E = _native
    assert issubclass(E.CacheError, Exception)
    assert E.CacheConnectionError.__bases__ == (E.CacheError,)
    assert E.CacheTimeoutError.__bases__ == (E.CacheConnectionError,)
    assert E.CacheAuthError.__bases__ == (E.CacheConnectionError,)
    assert E.CacheConfigError.__bases__ == (E.CacheError, ValueError)
    assert E.LockError.__bases__ == (E.CacheError,)
    assert E.LockNotOwnedError.__bases__ == (E.LockError,)
    assert E.LockNotAcquiredError.__bases__ == (E.LockError, TimeoutError)
    assert E.CacheValueError.__bases__ == (E.CacheError, ValueError)
    assert E.CacheWrongTypeError.__bases__ == (E.CacheError, TypeError)
    assert E.CacheError.__module__ == "stratacache._native"


def test_properties(c: NativeCache) -> None:
    assert c.url == "mem://"
    assert c.serializer == "msgpack"
    assert c.l2_enabled is False
    assert NativeCache("mem://", serializer="json").serializer == "json"
    assert "mem://" in repr(c)
    with pytest.raises(AttributeError):
        c.url = "x"  # type: ignore[misc]


def test_miss_is_missing_and_none_is_a_value(c: NativeCache) -> None:
    assert c.get("absent") is MISSING
    c.set("none", None)
    assert c.get("none") is None
    assert c.exists("none") is True
    assert c.exists("absent") is False
    assert c.get_many(["none", "absent"]) == [None, MISSING]
    assert c.get_many(["none", "absent"])[1] is MISSING


def test_str_and_bytes_keys_are_the_same_utf8_key(c: NativeCache) -> None:
    c.set("clé", 1)
    assert c.get("clé".encode()) == 1
    c.set(b"\x00\r\n*?[]{}", 2)  # binary-safe
    assert c.get(b"\x00\r\n*?[]{}") == 2
    c.set("", 3)  # the empty key is a key
    assert c.get(b"") == 3


@pytest.mark.parametrize("bad", [1, 1.5, None, ["k"], bytearray(b"k")])
def test_keys_of_the_wrong_type_raise_type_error(c: NativeCache, bad: Any) -> None:
    msg = f"key must be str or bytes, not '{type(bad).__name__}'"
    for call in (lambda: c.get(bad), lambda: c.set(bad, 1), lambda: c.exists(bad), lambda: c.ttl(bad),
                 lambda: c.increment(bad), lambda: c.get(bad, skip_l2=True), lambda: c.delete([bad]),
                 lambda: c.set_many([(bad, 1)])):
        with pytest.raises(TypeError) as e:
            call()
        assert str(e.value) == msg
    if not isinstance(bad, list):
        with pytest.raises(TypeError, match=msg):
            c.get_many(["ok", bad])
        with pytest.raises(TypeError, match=msg):
            c.delete(["ok", bad])
        with pytest.raises(TypeError, match=msg):
            c.set_many([("ok", 1), (bad, 2)])
    with pytest.raises(TypeError, match="pattern must be str or bytes"):
        c.clear_pattern(1)  # type: ignore[arg-type]


def test_argument_errors_read_like_python_ones(c: NativeCache) -> None:
    with pytest.raises(TypeError, match=r"get\(\) missing required argument 'key'"):
        c.get()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"get\(\) got an unexpected keyword argument 'ttl'"):
        c.get("k", ttl=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"get\(\) takes at most 1 positional argument \(2 given\)"):
        c.get("k", True)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"set\(\) got multiple values for argument 'value'"):
        c.set("k", 1, value=2)  # type: ignore[misc]
    with pytest.raises(TypeError, match=r"set\(\) missing required argument 'value'"):
        c.set("k")  # type: ignore[call-arg]
    c.set(key="kw", value=5, ttl=10, skip_l2=True)
    assert c.get(key="kw", skip_l1=False, skip_l2=True, timeout=1.5) == 5


def test_set_overwrites_and_get_many_keeps_order(c: NativeCache) -> None:
    c.set("a", 1)
    c.set("a", "one")
    c.set("b", [2])
    assert c.get_many(("b", "x", "a")) == [[2], MISSING, "one"]
    assert c.get_many([]) == []


def test_set_many_takes_a_mapping_or_pairs(c: NativeCache) -> None:
    c.set_many({"m1": 1, "m2": {"x": [1]}})
    c.set_many([("p1", "one"), ("p2", None)], 30)
    c.set_many((("t1", 1.5),), ttl=None)
    assert c.get_many(["m1", "m2", "p1", "p2", "t1"]) == [1, {"x": [1]}, "one", None, 1.5]
    assert 29 < (c.ttl("p1") or 0) <= 30
    with pytest.raises(TypeError, match=r"items\[0\] must be a \(key, value\) tuple"):
        c.set_many(["ab"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"cannot serialize object of type 'set' \(at items\['bad'\]\['s'\]\)"):
        c.set_many([("good", 1), ("bad", {"s": {1}})])
    assert c.get("good") is MISSING  # nothing of a failed batch is written


def test_delete_counts_what_existed(c: NativeCache) -> None:
    c.set_many({"d1": 1, "d2": 2, "d3": 3})
    assert c.delete(["d1", "d2", "nope"]) == 2
    assert c.get_many(["d1", "d2", "d3"]) == [MISSING, MISSING, 3]
    assert c.delete("d3") == 1  # one str is one key, not its characters
    assert c.delete(b"d3") == 0
    assert c.delete([]) == 0


def test_exists(c: NativeCache) -> None:
    c.set("e", 0)
    assert c.exists("e") is True
    c.delete(["e"])
    assert c.exists("e") is False


def test_ttl_semantics(c: NativeCache) -> None:
    c.set("default", 1)  # default_ttl = 300 s
    t = c.ttl("default")
    assert t is not None and 299 < t <= 300
    c.set("ten", 1, 10)
    t = c.ttl("ten")
    assert t is not None and 9 < t <= 10
    c.set("forever", 1, 0)
    assert c.ttl("forever") == -1.0
    assert c.ttl("missing") is None
    c.set("frac", 1, ttl=0.25)
    t = c.ttl("frac")
    assert t is not None and 0 < t <= 0.25
    c.set("tiny", 1, ttl=0.0001)  # rounds up to 1 ms, never to 0 (= no expiry)
    time.sleep(0.3)
    assert c.get("frac") is MISSING
    assert c.get("tiny") is MISSING
    assert c.get("forever") == 1
    c2 = NativeCache("mem://", options={"default_ttl": "7"})
    c2.set("k", 1)
    t = c2.ttl("k")
    assert t is not None and 6 < t <= 7


@pytest.mark.parametrize("ttl,exc", [(-1, ValueError), (-0.5, ValueError), (float("nan"), ValueError),
                                     ("10", TypeError), (float("inf"), OverflowError), (10**30, OverflowError)])
def test_bad_ttls(c: NativeCache, ttl: Any, exc: type[Exception]) -> None:
    with pytest.raises(exc, match="ttl"):
        c.set("k", 1, ttl)
    with pytest.raises(exc, match="ttl"):
        c.increment("n", 1, ttl)
    with pytest.raises(exc, match="ttl"):
        c.set_many({"k": 1}, ttl)
    assert c.get("k") is MISSING


def test_ttl_over_the_library_maximum_is_a_value_error(c: NativeCache) -> None:
    with pytest.raises(CacheValueError):
        c.set("k", 1, ttl=11 * 365 * 86400)  # the C ABI takes at most 10 years


@pytest.mark.parametrize("timeout,exc", [(-1, ValueError), ("1", TypeError)])
def test_bad_timeouts(c: NativeCache, timeout: Any, exc: type[Exception]) -> None:
    with pytest.raises(exc, match="timeout"):
        c.get("k", timeout=timeout)
    with pytest.raises(exc, match="timeout"):
        c.health(timeout)


def test_increment(c: NativeCache) -> None:
    assert c.increment("n") == 1
    assert c.increment("n", 41) == 42
    assert c.increment("n", amount=-50) == -8
    assert c.get("n") == -8
    assert c.increment("fresh", 5, ttl=20) == 5
    t = c.ttl("fresh")
    assert t is not None and 19 < t <= 20
    c.set("seven", 7)
    assert c.increment("seven") == 8
    with pytest.raises(OverflowError):
        c.increment("n", 2**63)
    with pytest.raises(TypeError, match="amount must be int"):
        c.increment("n", 1.5)  # type: ignore[arg-type]


def test_increment_on_a_string_is_wrong_type(c: NativeCache) -> None:
    c.set("s", "text")
    with pytest.raises(CacheWrongTypeError) as e:
        c.increment("s")
    assert isinstance(e.value, TypeError)
    assert c.get("s") == "text"


def test_clear_pattern(c: NativeCache) -> None:
    c.set_many({"user:1": 1, "user:2": 2, "user:10": 10, "post:1": 0, "a*b": 5, "axb": 6})
    assert c.clear_pattern("user:?") == 2
    assert c.get_many(["user:1", "user:2", "user:10", "post:1"]) == [MISSING, MISSING, 10, 0]
    assert c.clear_pattern(b"a\\*b") == 1  # an escaped glob character matches only itself
    assert c.get_many(["a*b", "axb"]) == [MISSING, 6]
    assert c.clear_pattern("nothing:*") == 0


def test_stats_count_hits_and_misses(c: NativeCache) -> None:
    before = c.stats()
    assert set(before) >= {"l1", "l2", "decode_errors"}
    c.set("k", 1)
    c.get("k")
    c.get("k")
    c.get("absent")
    after = c.stats()
    assert after["l1"]["hits"] - before["l1"]["hits"] == 2
    assert after["l1"]["misses"] - before["l1"]["misses"] == 1
    assert after["l1"]["entries"] == 1


def test_health_of_mem(c: NativeCache) -> None:
    h = c.health()
    assert set(h) == {"healthy", "latency_ms", "version", "used_memory", "used_memory_bytes", "connected_clients",
                      "uptime_seconds", "error", "coherence", "coherence_up", "coherence_channels", "coherence_error"}
    assert h["healthy"] is True


def test_flush_l1(c: NativeCache) -> None:
    c.set_many({"a": 1, "b": 2})
    c.flush_l1()
    assert c.get_many(["a", "b"]) == [MISSING, MISSING]
    assert c.stats()["l1"]["entries"] == 0


def test_skip_l1_on_mem_reads_nothing(c: NativeCache) -> None:
    c.set("k", 1)
    assert c.get("k", skip_l1=True) is MISSING
    assert c.get("k", skip_l2=True) == 1


def test_options_and_url_errors_are_config_errors() -> None:
    with pytest.raises(CacheConfigError, match="scheme"):
        NativeCache("ftp://x")
    with pytest.raises(CacheConfigError, match="socket_timeout"):
        NativeCache("redis://127.0.0.1:6379/0?socket_timeout=abc")
    with pytest.raises(CacheConfigError, match="bogus"):
        NativeCache("mem://", options={"bogus": "1"})
    with pytest.raises(CacheConfigError, match="l1_max_entries"):
        NativeCache("mem://", options={"l1_max_entries": "lots"})
    with pytest.raises(CacheConfigError, match="only database 0"):
        NativeCache("redis+cluster://127.0.0.1:7000,127.0.0.1:7001/3")
    with pytest.raises(CacheConfigError, match="32 bytes"):
        NativeCache("mem://", keys=[(1, b"short", True)])
    with pytest.raises(CacheConfigError, match="serializer"):
        NativeCache("mem://", serializer="yaml")
    with pytest.raises(CacheConfigError, match="NUL"):
        NativeCache("mem://\x00")
    with pytest.raises(TypeError, match="options"):
        NativeCache("mem://", options=[("a", "b")])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="keys\\[0\\]"):
        NativeCache("mem://", keys=[(1, b"k" * 32)])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        NativeCache(b"mem://")  # type: ignore[arg-type]
    assert issubclass(CacheConfigError, ValueError)
    # numbers are accepted as option values
    assert NativeCache("mem://", options={"l1_max_entries": 10, "default_ttl": 1.5}).get(  # type: ignore[dict-item]
        "k") is MISSING


def test_closed_handle_raises(c: NativeCache) -> None:
    c.set("k", 1)
    c.close()
    c.close()  # idempotent
    calls: list[Callable[[], Any]] = [lambda: c.get("k"), lambda: c.get_many(["k"]), lambda: c.set("k", 1), lambda: c.set_many({"k": 1}),
             lambda: c.delete(["k"]), lambda: c.exists("k"), lambda: c.ttl("k"), lambda: c.increment("k"),
             lambda: c.clear_pattern("*"), lambda: c.health(), lambda: c.stats(), lambda: c.flush_l1()]
    for call in calls:
        with pytest.raises(CacheError, match="cache is closed"):
            call()
    assert "closed" in repr(c)
    assert c.url == "mem://"


def test_close_from_model_dump_during_set_is_safe(c: NativeCache) -> None:
    class ClosesTheCache:
        def model_dump(self) -> dict[str, int]:
            c.close()
            return {"x": 1}

    with pytest.raises(CacheError, match="cache is closed"):
        c.set("k", ClosesTheCache())


def test_handles_are_freed() -> None:
    import weakref

    for _ in range(200):
        NativeCache("mem://").set("k", "v" * 1000)
    c = NativeCache("mem://")
    with pytest.raises(TypeError):
        weakref.ref(c)  # no weakref support needed; just check the type is plain
    del c
    gc.collect()


def test_subclassing_works() -> None:
    class Mine(NativeCache):
        pass

    m = Mine("mem://", serializer="json")
    m.set("k", [1])
    assert m.get("k") == [1]
    assert m.serializer == "json"


def test_threads_share_one_handle(c: NativeCache) -> None:
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(2000):
                c.set(f"{t}:{i % 50}", {"t": t, "i": i})
                v = c.get(f"{t}:{i % 50}")
                assert v is MISSING or v["t"] == t
                c.increment("shared")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert c.get("shared") == 8000
