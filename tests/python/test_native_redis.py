"""stratacache._native.NativeCache against real redis-server processes: both tiers,
error mapping, the GIL during network waits, encryption keys, TTLs in Redis."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
import time
from typing import Any, Iterator

import pytest
from conftest import RedisProcess, start_redis

from stratacache._native import (
    MISSING,
    CacheAuthError,
    CacheConnectionError,
    CacheError,
    CacheTimeoutError,
    CacheWrongTypeError,
    NativeCache,
)

KEY_A = bytes(range(32))
KEY_B = bytes(range(32, 64))


def _raw_get(port: int, key: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(key), key))
        data = b""
        while not data.endswith(b"\r\n") or data.count(b"\r\n") < 2:
            data += s.recv(65536)
    header, _, rest = data.partition(b"\r\n")
    assert header.startswith(b"$")
    return rest[: int(header[1:])]


def coherent(cache: NativeCache) -> NativeCache:
    """The cache once its invalidation channel is up: reads and writes from then on are
    kept in L1 (before it, values from Redis are returned but not kept)."""
    deadline = time.monotonic() + 5
    while cache.health()["coherence_up"] is not True:
        assert time.monotonic() < deadline, "coherence never came up"
        time.sleep(0.002)
    return cache


@pytest.fixture
def c(redis_server: RedisProcess) -> Iterator[NativeCache]:
    cache = coherent(NativeCache(redis_server.url))
    yield cache
    cache.close()


@pytest.fixture
def stopped(redis_server: RedisProcess) -> Iterator[RedisProcess]:
    """A redis-server frozen with SIGSTOP (accepts connections, never answers)."""
    os.kill(redis_server.proc.pid, signal.SIGSTOP)
    try:
        yield redis_server
    finally:
        os.kill(redis_server.proc.pid, signal.SIGCONT)


def test_l2_enabled_and_both_tiers(c: NativeCache, redis_server: RedisProcess) -> None:
    assert c.l2_enabled is True
    c.set("k", {"a": 1})
    assert redis_server.cli("EXISTS", "k") == "1"
    other = coherent(NativeCache(redis_server.url))
    assert other.get("k") == {"a": 1}  # from Redis, then from its own L1
    assert other.stats()["l2"]["hits"] == 1
    assert other.get("k") == {"a": 1}
    assert other.stats()["l1"]["hits"] == 1


def test_skip_flags(c: NativeCache, redis_server: RedisProcess) -> None:
    c.set("l1only", 1, skip_l2=True)
    assert redis_server.cli("EXISTS", "l1only") == "0"
    assert c.get("l1only") == 1
    assert c.get("l1only", skip_l1=True) is MISSING
    c.set("l2only", 2, skip_l1=True)
    assert redis_server.cli("EXISTS", "l2only") == "1"
    assert c.get("l2only", skip_l2=True) is MISSING
    assert c.get("l2only", skip_l1=True) == 2
    assert c.get_many(["l1only", "l2only"], skip_l1=True) == [MISSING, 2]


def test_flush_l1_keeps_redis(c: NativeCache) -> None:
    c.set("k", "v")
    c.flush_l1()
    assert c.get("k", skip_l2=True) is MISSING
    assert c.get("k") == "v"


def test_every_method_through_redis(c: NativeCache, redis_server: RedisProcess) -> None:
    c.set_many({"u:1": 1, "u:2": [2], "p:1": "x"}, ttl=60)
    assert c.get_many(["u:1", "u:2", "p:1", "none"], skip_l1=True) == [1, [2], "x", MISSING]
    assert redis_server.cli("GET", "u:1") == "1"  # integers are plain ASCII in Redis
    assert c.exists("u:2", skip_l1=True) is True
    t = c.ttl("u:2", skip_l1=True)
    assert t is not None and 59 < t <= 60
    assert int(redis_server.cli("PTTL", "u:2")) > 59000
    assert c.increment("u:1", 10) == 11
    assert redis_server.cli("GET", "u:1") == "11"
    assert c.get("u:1", skip_l1=True) == 11
    assert c.clear_pattern("u:*") == 2
    assert redis_server.cli("EXISTS", "u:1", "u:2") == "0"
    assert c.delete(["p:1", "none"]) == 1
    assert c.get("p:1", skip_l1=True) is MISSING
    h = c.health()
    assert h["healthy"] is True and h["version"].count(".") == 2 and h["error"] == ""


def test_ttl_in_redis(c: NativeCache, redis_server: RedisProcess) -> None:
    c.set("forever", 1, ttl=0)
    assert redis_server.cli("TTL", "forever") == "-1"
    assert c.ttl("forever", skip_l1=True) == -1.0
    c.set("default", 1)
    assert 290 <= int(redis_server.cli("TTL", "default")) <= 300
    c.set("short", "v", ttl=0.3)
    assert 0 < int(redis_server.cli("PTTL", "short")) <= 300
    time.sleep(0.4)
    assert c.get("short") is MISSING  # gone from both tiers
    assert c.ttl("short") is None
    counter = c.increment("ctr", ttl=5)
    assert counter == 1
    assert 0 < int(redis_server.cli("PTTL", "ctr")) <= 5000
    c.increment("ctr", ttl=100)  # incrementing never extends the TTL
    assert int(redis_server.cli("PTTL", "ctr")) <= 5000


def test_increment_on_a_string_is_wrong_type(c: NativeCache, redis_server: RedisProcess) -> None:
    redis_server.cli("SET", "s", "hello")
    with pytest.raises(CacheWrongTypeError):
        c.increment("s")
    c.set("v", "text")
    with pytest.raises(CacheWrongTypeError) as e:
        c.increment("v")
    assert isinstance(e.value, TypeError)


def test_killed_redis_is_a_connection_error(redis_server: RedisProcess) -> None:
    # l1_coherence=off: L1 keeps its copies through the outage (with coherence on, losing
    # the invalidation channel empties it: docs/coherence.md, test_coherence.py).
    c = NativeCache(redis_server.url + "?l1_coherence=off")
    c.set("k", 1)
    redis_server.kill9()
    with pytest.raises(CacheConnectionError):
        c.get("k", skip_l1=True)
    with pytest.raises(CacheConnectionError):
        c.get_many(["k", "j"], skip_l1=True)
    with pytest.raises(CacheConnectionError):
        c.set("k2", 2)
    assert c.get("k2", skip_l2=True) == 2  # the L1 write still happened
    assert c.get("k") == 1  # L1 keeps serving
    h = c.health(timeout=0.5)
    assert h["healthy"] is False and h["error"] != ""
    assert c.stats()["l2"]["errors"] + c.stats()["l2"]["fast_failures"] + c.stats()["l2"]["connect_failures"] > 0


def test_wrong_password_is_an_auth_error() -> None:
    server = start_redis("--requirepass", "s3cret")
    try:
        bad = NativeCache(f"redis://:wrong@127.0.0.1:{server.port}/0")
        with pytest.raises(CacheAuthError) as e:
            bad.get("k", skip_l1=True)
        assert isinstance(e.value, CacheConnectionError)
        good = NativeCache(f"redis://:s3cret@127.0.0.1:{server.port}/0")
        good.set("k", 1)
        assert good.get("k", skip_l1=True) == 1
        opts = NativeCache(f"redis://127.0.0.1:{server.port}/0", options={"password": "s3cret"})
        assert opts.get("k", skip_l1=True) == 1
    finally:
        server.kill9()
        shutil.rmtree(server.workdir, ignore_errors=True)


def test_timeout_zero_is_already_due(c: NativeCache) -> None:
    c.set("k", 1)
    with pytest.raises(CacheTimeoutError):
        c.get("k", skip_l1=True, timeout=0)
    assert c.get("k", timeout=0) == 1  # L1 hits still answer


def test_stalled_redis_times_out_and_other_threads_run(c: NativeCache, redis_server: RedisProcess) -> None:
    c.set("k", 1)  # connected before the stall
    os.kill(redis_server.proc.pid, signal.SIGSTOP)
    try:
        count = 0
        stop = threading.Event()

        def spin() -> None:
            nonlocal count
            while not stop.is_set():
                count += 1

        spinner = threading.Thread(target=spin)
        spinner.start()
        time.sleep(0.05)
        before = count
        t0 = time.monotonic()
        with pytest.raises(CacheTimeoutError):
            c.get("k", skip_l1=True, timeout=1)
        elapsed = time.monotonic() - t0
        during = count - before
        stop.set()
        spinner.join()
    finally:
        os.kill(redis_server.proc.pid, signal.SIGCONT)
    assert 0.9 <= elapsed < 3
    # With the GIL held for that second the spinner would not have moved at all; it
    # runs millions of iterations a second when it has the interpreter.
    assert during > 50_000, during


def test_close_waits_for_calls_in_flight(stopped: RedisProcess) -> None:
    c = NativeCache(stopped.url)
    result: dict[str, Any] = {}

    def blocked() -> None:
        try:
            c.get("k", skip_l1=True, timeout=1)
        except CacheError as e:
            result["error"] = e

    t = threading.Thread(target=blocked)
    t.start()
    time.sleep(0.2)  # the call is inside the C ABI now
    t0 = time.monotonic()
    c.close()
    closed_after = time.monotonic() - t0
    t.join()
    assert isinstance(result.get("error"), CacheConnectionError)
    assert closed_after > 0.5  # close() waited for the call to return
    with pytest.raises(CacheError, match="closed"):
        c.get("k")


def test_encryption_keys(redis_server: RedisProcess) -> None:
    w = NativeCache(redis_server.url, keys=[(1, KEY_A, True)])
    w.set("secret", {"card": "4111"})
    w.set("n", 42)
    stored = _raw_get(redis_server.port, b"secret")
    assert stored.startswith(b"\xfe\x53") and b"4111" not in stored
    assert w.get("secret", skip_l1=True) == {"card": "4111"}
    # Another key ring that still holds key 1 reads it; new values use its primary.
    rotated = NativeCache(redis_server.url, keys=[(1, KEY_A, False), (2, KEY_B, True)])
    assert rotated.get("secret", skip_l1=True) == {"card": "4111"}
    assert rotated.get("n", skip_l1=True) == 42
    # Without the key the value is unreadable: a miss, never an exception.
    plain = NativeCache(redis_server.url)
    assert plain.get("secret", skip_l1=True) is MISSING
    wrong = NativeCache(redis_server.url, keys=[(2, KEY_B, True)])
    w.set("secret2", "x")
    assert wrong.get("secret2", skip_l1=True) is MISSING
    assert wrong.stats()["decode_errors"] >= 1


def test_prefix_option(redis_server: RedisProcess) -> None:
    c = NativeCache(redis_server.url, options={"prefix": "app:"})
    c.set("k", 1)
    assert redis_server.cli("GET", "app:k") == "1"
    assert redis_server.cli("EXISTS", "k") == "0"


def test_foreign_values_stay_and_raw_mode_returns_them(redis_server: RedisProcess) -> None:
    """A value stratacache did not write (redis-cli here) is never deleted by a read;
    foreign_values=raw in the URL returns its bytes (docs/envelope.md)."""
    redis_server.cli("SET", "foreign", "written by redis-cli")
    miss = NativeCache(redis_server.url)
    assert miss.get("foreign", skip_l1=True) is MISSING
    assert miss.get_many(["foreign"], skip_l1=True) == [MISSING]
    assert miss.stats()["decode_errors"] == 2
    raw = NativeCache(redis_server.url + "?foreign_values=raw")
    assert raw.get("foreign", skip_l1=True) == b"written by redis-cli"
    assert raw.get_many(["foreign"], skip_l1=True) == [b"written by redis-cli"]
    assert raw.stats()["decode_errors"] == 0
    assert redis_server.cli("GET", "foreign") == "written by redis-cli"
    with pytest.raises(CacheError):
        NativeCache(redis_server.url + "?foreign_values=delete")
