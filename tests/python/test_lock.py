"""Distributed locks from Python (docs/locks.md, stratacache._lock): sync and asyncio,
several processes against one real Redis, a holder killed with SIGKILL, fencing."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis

import stratacache
from stratacache import LockError, LockNotAcquiredError, LockNotOwnedError

CHILD = str(Path(__file__).with_name("lock_child.py"))


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


@pytest.fixture
def url(redis_server) -> str:
    return f"{redis_server.url}?prefix=pylock:"


def test_with_block_fence_and_release(url: str) -> None:
    with stratacache.Cache(url) as a, stratacache.Cache(url) as b:
        with a.lock("job", timeout=10) as lk:
            assert lk.fence > 0
            assert lk.locked_by_me()
            other = b.lock("job", timeout=10, blocking=False)
            assert other.acquire() is False
            with pytest.raises(LockNotAcquiredError):
                with b.lock("job", timeout=10, blocking_timeout=0.1):
                    pass
            lk.extend(30)
            first = lk.fence
        assert not lk.locked_by_me()
        with b.lock("job", timeout=10, blocking=False) as again:
            assert again.fence > first
        stats = b.stats()["lock"]
        assert stats["acquired"] == 1 and stats["contended"] == 2 and stats["timeouts"] == 2


def test_waiter_woken_by_release(url: str) -> None:
    with stratacache.Cache(url) as a, stratacache.Cache(url) as b:
        held = a.lock("job", timeout=30)
        assert held.acquire()
        woke: list[float] = []

        def wait() -> None:
            with b.lock("job", timeout=30, blocking_timeout=10):
                woke.append(time.monotonic())

        t = threading.Thread(target=wait)
        t.start()
        time.sleep(0.5)  # the waiter releases the GIL while it waits: this thread runs
        released = time.monotonic()
        held.release()
        t.join(10)
        assert woke and woke[0] - released < 0.1


def test_non_owner_is_refused(url: str) -> None:
    with stratacache.Cache(url) as a, stratacache.Cache(url) as b:
        old = a.lock("job", timeout=0.1)
        assert old.acquire()
        time.sleep(0.2)
        new = b.lock("job", timeout=30)
        assert new.acquire(blocking=False)
        with pytest.raises(LockNotOwnedError):
            old.extend(10)
        with pytest.raises(LockNotOwnedError):
            old.release()
        with pytest.raises(LockError):
            old.release()  # this object no longer holds anything
        new.extend(10)  # the owner's lock is untouched
        new.release()
        assert a.stats()["lock"]["lost"] == 2


def test_bad_arguments(url: str) -> None:
    with stratacache.Cache(url) as c:
        with pytest.raises(ValueError):
            c.lock("job", timeout=0)
        with pytest.raises(ValueError):
            c.lock("job", timeout=1, blocking_timeout=-1)
        with pytest.raises(TypeError):
            c.lock(42, timeout=1)  # type: ignore[arg-type]


def test_mem_url() -> None:
    with stratacache.Cache("mem://") as c:
        lk = c.lock("job", timeout=0.2)
        assert lk.acquire()
        t0 = time.monotonic()
        with c.lock("job", timeout=5, blocking_timeout=5) as next_one:
            assert 0.1 < time.monotonic() - t0 < 1.0, "acquired at the holder's expiry"
            assert next_one.fence > lk.fence


def test_asyncio(url: str) -> None:
    async def main() -> None:
        a = stratacache.AsyncCache(url)
        b = stratacache.AsyncCache(url)
        async with a.lock("job", timeout=30) as lk:
            assert not await b.lock("job", timeout=30, blocking=False).acquire()
            first = lk.fence
            second = b.lock("job", timeout=30, blocking_timeout=10)
            waiter = asyncio.ensure_future(second.acquire())
            ticks = 0
            while ticks < 20:  # the loop keeps running while the waiter waits
                await asyncio.sleep(0.01)
                ticks += 1
            assert not waiter.done()
            await lk.extend(60)
        t0 = time.monotonic()
        assert await waiter
        assert time.monotonic() - t0 < 0.2
        with pytest.raises(LockNotAcquiredError):
            async with a.lock("job", timeout=30, blocking_timeout=0.1):
                pass
        second_fence = second.fence
        await second.release()
        async with a.lock("job", timeout=30, blocking=False) as third:
            assert third.fence > second_fence > first
        await a.close()
        await b.close()

    asyncio.run(main())


def test_four_processes_sixteen_threads_lose_no_update(redis_server, url: str) -> None:
    name = "ctr:" + uuid.uuid4().hex
    rounds = 10
    procs = [subprocess.Popen([sys.executable, CHILD, "count", url, name, "16", str(rounds),
                               str(_port(redis_server.url))], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.strip() == "0", "fencing tokens went backwards"
    client = redis.Redis(port=_port(redis_server.url))
    assert int(client.get("count:" + name)) == 4 * 16 * rounds


def test_killed_holder_frees_the_lock_after_its_ttl(url: str) -> None:
    child = subprocess.Popen([sys.executable, CHILD, "hold", url, "job", "1.0"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert line.startswith("held"), child.stderr.read() if child.stderr else ""
        fence = int(line.split()[1])
        held_at = time.monotonic()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        with stratacache.Cache(url) as c:
            assert not c.lock("job", timeout=10, blocking=False).acquire(), "still held: the TTL runs"
            with c.lock("job", timeout=10, blocking_timeout=10) as lk:
                waited = time.monotonic() - held_at
                assert 0.7 < waited < 2.5, waited
                assert lk.fence > fence
    finally:
        if child.poll() is None:
            child.kill()
