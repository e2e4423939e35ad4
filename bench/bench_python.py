"""Python-level benchmarks for stratacache against the caches Python users know.

Run: scripts/bench.sh (installs the comparison libraries) or, after `pip install .`,
`python bench/bench_python.py [--redis-port P]`. Prints markdown tables; every row is the
median of 7 repeats measured in this one process.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from typing import Any, Callable, Iterator

REPEATS = 7


def median_ns(fn: Callable[..., Any], loops: int, *args: Any) -> float:
    """Median ns per `fn(*args)`, timed by timeit (a compiled loop, no partial() call)."""
    timer = timeit.Timer("fn(*args)", globals={"fn": fn, "args": args})
    return statistics.median(timer.timeit(loops) * 1e9 / loops for _ in range(REPEATS))


def async_median_ns(make: Callable[[], Any], loops: int) -> float:
    async def run() -> float:
        runs = []
        for _ in range(REPEATS):
            start = time.perf_counter_ns()
            for _ in range(loops):
                await make()
            runs.append((time.perf_counter_ns() - start) / loops)
        return statistics.median(runs)

    return asyncio.run(run())


def table(title: str, rows: list[tuple[str, float]], base_name: str) -> None:
    base = dict(rows)[base_name]
    print(f"\n| {title} | ns/call | vs {base_name} |\n|---|---:|---:|")
    for name, ns in rows:
        print(f"| {name} | {ns:.0f} | {ns / base:.3g}x |")


def sync_hits() -> None:
    import cachebox
    import cachetools
    from theine import Memoize

    import stratacache

    stratacache.configure(url="mem://")

    def bare(x: int) -> int:
        return x * 2

    lru = functools.lru_cache(maxsize=1024)(bare)
    ct = cachetools.cached(cachetools.LRUCache(maxsize=1024))(bare)
    cb = cachebox.cached(cachebox.LRUCache(maxsize=1024))(bare)
    th = Memoize(1024, None)(bare)
    sc = stratacache.cached(ttl=600)(bare)
    fns = [("bare call", bare), ("functools.lru_cache", lru), ("cachetools.cached (LRU)", ct),
           ("cachebox.cached (LRU)", cb), ("theine Memoize", th), ("stratacache @cached (mem://)", sc)]
    for _, f in fns:
        f(7)  # fill
    loops = 200_000
    rows = [(name, median_ns(f, loops, 7)) for name, f in fns]
    table("sync hit, one int argument", rows, "functools.lru_cache")


def async_hits() -> None:
    from aiocache import cached as aio_cached
    from cashews import cache as cashews_cache
    from theine import Memoize

    import stratacache

    cashews_cache.setup("mem://")

    async def bare(x: int) -> int:
        return x * 2

    cw = cashews_cache(ttl="10m")(bare)
    ac = aio_cached(ttl=600)(bare)
    th = Memoize(1024, None)(bare)
    sc = stratacache.cached(ttl=600)(bare)
    fns = [("bare coroutine", bare), ("cashews (mem://)", cw), ("aiocache (memory)", ac),
           ("theine Memoize", th), ("stratacache @cached (mem://)", sc)]

    async def fill() -> None:
        for _, f in fns:
            await f(7)

    asyncio.run(fill())
    loops = 50_000
    rows = [(name, async_median_ns(functools.partial(f, 7), loops)) for name, f in fns]
    table("async hit, one int argument", rows, "cashews (mem://)")


@contextlib.contextmanager
def redis_server() -> Iterator[int]:
    """A throwaway redis-server on a free loopback port (yields the port)."""
    port, proc, workdir = start_redis()
    try:
        yield port
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def start_redis() -> tuple[int, subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="stratacache-bench-")
    binary = os.environ.get("REDIS_SERVER_BIN") or shutil.which("redis-server") or "redis-server"
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(500):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return port, proc, workdir
        except OSError:
            time.sleep(0.01)
    raise RuntimeError("redis-server did not start")


def l2_gets(port: int, c_bench: str | None) -> None:
    import redis

    import stratacache

    value = b"v" * 1024
    url = f"redis://127.0.0.1:{port}/0"
    sc = stratacache.Cache(url=url + "?l1_max_entries=0")  # every get goes to Redis
    sc.set("bench:1k", value, ttl=0)
    r = redis.Redis(port=port)
    r.set("plain:1k", value)
    assert sc.get("bench:1k") == value and r.get("plain:1k") == value
    loops = 20_000
    rows = [("redis-py (hiredis parser) GET", median_ns(r.get, loops, "plain:1k")),
            ("stratacache Cache.get (L1 off)", median_ns(sc.get, loops, "bench:1k"))]
    if c_bench and os.path.exists(c_bench):
        out = subprocess.run([c_bench, "--port", str(port), "--repeats", "5"], capture_output=True, text=True,
                             env={**os.environ, "STRATACACHE_BENCH_REDIS_PORT": str(port)}).stdout
        for line in out.splitlines():
            if line.startswith("| 1024 B | hiredis redisCommand"):
                rows.append(("raw hiredis in C (bench_l2)", float(line.split("|")[3]) * 1000))
    table("GET of a 1 KiB value from L2 (loopback Redis)", rows, "redis-py (hiredis parser) GET")
    sc.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--c-bench", default=os.path.join(os.path.dirname(__file__), "..", "build-bench", "bench", "bench_l2"))
    args = ap.parse_args()
    print(f"Python {sys.version.split()[0]}; median of {REPEATS} repeats")
    sync_hits()
    async_hits()
    with redis_server() as port:
        l2_gets(port, args.c_bench)


if __name__ == "__main__":
    main()
