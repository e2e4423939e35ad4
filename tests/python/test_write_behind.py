"""Write-behind and @cache_update (docs/write-behind.md) on mem:// and a real Redis:
sync and async writers, retries in order, coalescing, a full queue, flush at close and
at interpreter exit, and what kill -9 loses."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import stratacache
from stratacache import AsyncCache, Cache, CacheConnectionError, WriteOp, cache_update


@pytest.fixture(params=["mem", "redis"])
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "mem":
        return "mem://"
    server = request.getfixturevalue("redis_server")
    return f"{server.url}?prefix=wbt:"


class Store:
    """The user's database: rows, a log of writer calls, failures on demand."""

    def __init__(self, fail: dict[str, int] | None = None, delay: float = 0.0) -> None:
        self.rows: dict[str, object] = {}
        self.calls: list[tuple[str, str, object]] = []
        self.fail = dict(fail or {})
        self.delay = delay
        self.lock = threading.Lock()

    def write(self, op: WriteOp) -> None:
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.calls.append((op.kind, op.key, op.value))
            if self.fail.get(op.key, 0) > 0:
                self.fail[op.key] -= 1
                raise ConnectionError(f"database refused {op.key}")
            if op.kind == "set":
                self.rows[op.key] = op.value
            else:
                self.rows.pop(op.key, None)

    def values(self, key: str) -> list[object]:
        with self.lock:
            return [v for _, k, v in self.calls if k == key]


def test_caches_at_once_writes_later_and_retries_in_order(url: str) -> None:
    store = Store(fail={"user:1": 2})
    with Cache(url) as cache:
        wb = cache.write_behind(store.write, backoff=0.005, backoff_max=0.02)
        wb.set("user:1", {"name": "alice"})
        assert cache.get("user:1") == {"name": "alice"}  # cached before the store has it
        deadline = time.monotonic() + 5
        while not store.calls and time.monotonic() < deadline:
            time.sleep(0.001)
        wb.set("user:1", {"name": "bob"})  # waits behind the failing write
        assert wb.flush(5)
        assert store.values("user:1") == [{"name": "alice"}] * 3 + [{"name": "bob"}]
        assert store.rows["user:1"] == {"name": "bob"}
        wb.delete("user:1")
        assert cache.get("user:1") is None
        assert wb.flush(5)
        assert "user:1" not in store.rows
        stats = wb.stats()
        assert stats["retries"] == 2 and stats["written"] == 3 and stats["pending"] == 0
        assert "database refused user:1" in wb.last_error
        assert cache.stats()["write_behind"]["written"] >= 3
        wb.close()


def test_coalescing_and_a_full_queue(url: str) -> None:
    gate = threading.Event()
    store = Store()

    def slow(op: WriteOp) -> None:
        gate.wait(5)
        store.write(op)

    with Cache(url) as cache:
        with cache.write_behind(slow, max_pending=2, workers=1) as wb:
            wb.set("a", 1)
            deadline = time.monotonic() + 5
            while wb.stats()["pending"] != 1 or gate.is_set():
                if time.monotonic() > deadline:
                    break
                time.sleep(0.001)
            wb.set("b", 1)
            for i in range(2, 50):
                wb.set("b", i)  # replaces the waiting write of b
            with pytest.raises(CacheConnectionError, match="write-behind queue full"):
                wb.set("c", 1)
            assert cache.get("c") is None  # refused: not cached either
            stats = wb.stats()
            assert stats["pending"] == 2 and stats["rejected"] == 1 and stats["coalesced"] == 48
            gate.set()
            assert wb.flush(5)
        assert store.values("b") == [49]
        assert store.rows == {"a": 1, "b": 49}


def test_retries_exhausted_reach_on_failure_and_close_reports_abandoned() -> None:
    store = Store(fail={"k": 1000})
    failures: list[tuple[WriteOp, str]] = []
    with Cache("mem://") as cache:
        wb = cache.write_behind(store.write, max_retries=2, backoff=0.001,
                                on_failure=lambda op, why: failures.append((op, why)))
        wb.set("k", "v")
        assert wb.flush(5)
        assert len(store.values("k")) == 3
        assert wb.stats()["failed"] == 1
        assert failures[0][0].key == "k" and failures[0][0].value == "v"
        assert "database refused k" in failures[0][1]
        wb2 = cache.write_behind(store.write, max_retries=1000, backoff=1.0,
                                 on_failure=lambda op, why: failures.append((op, why)))
        wb2.set("k", "w")
        assert wb2.flush(0.05) is False
        assert wb2.close(0.05) == 1
        assert wb2.stats()["abandoned"] == 1
        assert failures[-1][0].value == "w" and "write-behind closed" in failures[-1][1]
        assert cache.get("k") == "w"  # the cache still holds the abandoned value
        with pytest.raises(CacheConnectionError, match="write-behind closed"):
            wb2.set("k", "x")


def test_cache_close_flushes_its_write_behinds(url: str) -> None:
    store = Store(delay=0.01)
    cache = Cache(url)
    wb = cache.write_behind(store.write, workers=2)
    for i in range(20):
        wb.set(f"k{i}", i)
    cache.close()
    assert wb.closed
    assert store.rows == {f"k{i}": i for i in range(20)}


def test_async_writer_is_awaited_on_the_loop(url: str) -> None:
    store = Store(fail={"a": 1})
    loop_threads: set[int] = set()

    async def writer(op: WriteOp) -> None:
        loop_threads.add(threading.get_ident())
        await asyncio.sleep(0.001)
        store.write(op)

    async def main() -> None:
        async with AsyncCache(url) as cache:
            async with cache.write_behind(writer, backoff=0.005) as wb:
                await wb.set("a", [1, 2])
                await wb.set("b", "x")
                assert await cache.get("a") == [1, 2]
                await wb.delete("c")
                assert await wb.flush(5)
                assert store.rows == {"a": [1, 2], "b": "x"}
                assert wb.stats()["retries"] == 1
            assert wb.closed
        assert loop_threads == {threading.get_ident()}

    asyncio.run(main())


def test_async_cache_close_flushes(url: str) -> None:
    store = Store()

    async def writer(op: WriteOp) -> None:
        await asyncio.sleep(0.005)
        store.write(op)

    async def main() -> None:
        cache = AsyncCache(url)
        wb = cache.write_behind(writer)
        for i in range(10):
            await wb.set(f"k{i}", i)
        await cache.close()
        assert wb.closed

    asyncio.run(main())
    assert store.rows == {f"k{i}": i for i in range(10)}


_CHILD = textwrap.dedent("""
    import sys, time
    import stratacache
    url, path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    def writer(op):
        time.sleep(0.02)
        with open(path, "a") as f:
            f.write(f"{op.key}={op.value}\\n")
    cache = stratacache.Cache(url)
    wb = cache.write_behind(writer, close_timeout=10)
    for i in range(20):
        wb.set(f"k{i}", i)
    print("queued", flush=True)
    if mode == "wait":
        time.sleep(60)
    # mode "exit": leave without closing anything; atexit flushes.
""")


def _child(url: str, path: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _CHILD, url, str(path), mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_interpreter_exit_flushes(tmp_path: Path, url: str) -> None:
    out = tmp_path / "db.txt"
    child = _child(url, out, "exit")
    _, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert sorted(out.read_text().splitlines()) == sorted(f"k{i}={i}" for i in range(20))


def test_kill_9_loses_the_queued_writes_not_the_cached_values(tmp_path: Path, redis_server) -> None:
    url = f"{redis_server.url}?prefix=wbk:"
    out = tmp_path / "db.txt"
    child = _child(url, out, "wait")
    assert child.stdout is not None and child.stdout.readline().strip() == "queued"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    written = out.read_text().splitlines() if out.exists() else []
    assert len(written) < 20  # the writer (20 ms per write) had not finished: those writes are lost
    with Cache(url) as cache:  # ...but every value is in Redis, written before set() returned
        assert [cache.get(f"k{i}") for i in range(20)] == list(range(20))


def test_cache_update_sync(url: str) -> None:
    db: dict[int, dict[str, str]] = {}
    with Cache(url) as cache:
        @cache_update("user:{user_id}", cache=cache)
        def save(user_id: int, data: dict[str, str]) -> dict[str, str]:
            if data.get("bad"):
                raise RuntimeError("database down")
            db[user_id] = data
            return data

        @cache_update("user:{user_id}", value="data", ttl=60, cache=cache)
        def save_arg(user_id: int, data: dict[str, str]) -> None:
            db[user_id] = data

        assert save(1, {"n": "a"}) == {"n": "a"}
        assert cache.get("user:1") == {"n": "a"}
        save_arg(2, {"n": "b"})
        assert cache.get("user:2") == {"n": "b"}
        assert 0 < (cache.get_ttl("user:2") or 0) <= 60
        with pytest.raises(RuntimeError):
            save(1, {"bad": "1"})
        assert cache.get("user:1") is None  # a failed write leaves no cached copy
        with pytest.raises(ValueError, match="glob"):
            cache_update("user:*", cache=cache)(save)
        with pytest.raises(ValueError, match="not a parameter"):
            cache_update("user:{user_id}", value="nope", cache=cache)(save)


def test_cache_update_async(url: str) -> None:
    async def main() -> None:
        async with AsyncCache(url) as cache:
            @cache_update("item:{item_id}", cache=cache)
            async def save(item_id: str, fail: bool = False) -> str:
                if fail:
                    raise ConnectionError("db")
                return f"v-{item_id}"

            assert await save("x") == "v-x"
            assert await cache.get("item:x") == "v-x"
            with pytest.raises(ConnectionError):
                await save("x", fail=True)
            assert await cache.get("item:x") is None

    asyncio.run(main())


def test_exported() -> None:
    assert {"WriteBehind", "AsyncWriteBehind", "WriteOp", "cache_update"} <= set(stratacache.__all__)
