"""Stampede benchmark: many callers miss one cold key at the same moment.

Run: scripts/bench.sh (installs the comparison libraries) or, after `pip install .`,
`python bench/bench_stampede.py [--redis-port P] [--rounds R] [--callers N]`. Prints
markdown tables.

Scenario, per library and variant, all on one redis-server in one run: N callers (one
asyncio event loop per process; 1 process x N, or P processes x N/P started with
multiprocessing "spawn") call the cached async function with one argument that no round
has used before (a cold key), all released at one wall-clock instant. The loader sleeps
100 ms; each process counts its calls and the counts are summed. A caller's latency runs
from the common start to the moment it has its result, and every result is checked.
Every process warms its connections (one call on another key) before the first round.
Each row is the median over the rounds of that round's value; "max calls" is the maximum.

The libraries are used as their documentation says:
- stratacache: `@cached(ttl=60, lock=True)` on an AsyncCache over Redis (the core's
  lease: one load in total; waiters are woken through the coherence channel);
  `lock=False` still coalesces the callers of one process (one load per process).
- cashews: `@cache(ttl=60, lock=True)` and `@cache(ttl=60)` stacked over
  `@cache.locked(ttl=60)`, the two combinations its README names. A lock waiter retries
  SET NX + PING in a loop (`check_interval=0`): polling, no pub/sub. With `lock=True`
  the lock is taken before the cache lookup (by every call, hits included); stacked, a
  waiter that gets the lock runs the loader without looking in the cache again. `@cache`
  coalesces the callers of one process by default (`protected=True`), locked or not.
- aiocache: `cached_stampede(ttl=60, lease=2)` (RedLock: SET NX in Redis, but waiters
  wait on an asyncio.Event of the process that holds the lock; a waiter in another
  process finds none and loads at once). Its Redis pool is the one cashews uses by
  default (a BlockingConnectionPool of 10): with aiocache's own default (redis-py's
  pool of 100, which raises when exhausted) 1,000 callers get "Too many connections".
  `cached` (no lock) is the plain stampede.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Awaitable, Callable

LOAD_SECONDS = 0.1
START_MARGIN = 0.5  # seconds between handing out the start time and the start


# ---- the libraries ------------------------------------------------------------------
# Each setup decorates the same loader and returns (fetch, close): fetch(arg) is the
# cached call, close() releases the library's connections.

class Loader:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, arg: str) -> dict[str, str]:
        self.calls += 1
        await asyncio.sleep(LOAD_SECONDS)
        return {"arg": arg}


async def setup_stratacache(port: int, ns: str, variant: str, loader: Loader) -> Any:
    from stratacache import AsyncCache, cached

    cache = AsyncCache(f"redis://127.0.0.1:{port}/0?prefix={ns}:")

    @cached(cache=cache, key_prefix="stampede", ttl=60, lock=variant == "lock")
    async def fetch(arg: str) -> dict[str, str]:
        return await loader(arg)

    return fetch, cache.close


async def setup_cashews(port: int, ns: str, variant: str, loader: Loader) -> Any:
    from cashews import Cache

    cache = Cache()
    cache.setup(f"redis://127.0.0.1:{port}/0")

    async def load(arg: str) -> dict[str, str]:
        return await loader(arg)

    if variant == "stacked":
        fetch = cache(ttl=60, prefix=ns)(cache.locked(ttl=60)(load))
    else:
        fetch = cache(ttl=60, lock=variant == "lock", prefix=ns)(load)

    return fetch, cache.close


async def setup_aiocache(port: int, ns: str, variant: str, loader: Loader) -> Any:
    from aiocache import Cache, cached, cached_stampede
    from redis.asyncio import BlockingConnectionPool

    # The pool cashews uses by default; aiocache's (redis-py's) raises under 1,000 callers.
    kwargs: dict[str, Any] = {"ttl": 60, "cache": Cache.REDIS, "endpoint": "127.0.0.1", "port": port, "namespace": ns,
                              "pool_max_size": 10, "connection_pool_class": BlockingConnectionPool}
    decorator = cached_stampede(lease=2, **kwargs) if variant == "lock" else cached(**kwargs)

    @decorator
    async def fetch(arg: str) -> dict[str, str]:
        return await loader(arg)

    async def close() -> None:
        await decorator.cache.close()

    return fetch, close


LIBRARIES: dict[str, Callable[[int, str, str, Loader], Awaitable[Any]]] = {
    "stratacache": setup_stratacache, "cashews": setup_cashews, "aiocache": setup_aiocache}
# The rows of each table, in order: (library, variant, as the row names it).
VARIANTS = [("stratacache", "lock", "@cached(lock=True)"), ("stratacache", "no lock", "@cached(lock=False)"),
            ("cashews", "lock", "@cache(lock=True)"), ("cashews", "stacked", "@cache over @cache.locked"),
            ("cashews", "no lock", "@cache"),
            ("aiocache", "lock", "cached_stampede (RedLock)"), ("aiocache", "no lock", "cached")]


# ---- one worker process ---------------------------------------------------------------

def worker(conn: Connection, library: str, port: int, ns: str, variant: str, callers: int) -> None:
    asyncio.run(serve(conn, library, port, ns, variant, callers))


async def serve(conn: Connection, library: str, port: int, ns: str, variant: str, callers: int) -> None:
    loader = Loader()
    fetch, close = await LIBRARIES[library](port, ns, variant, loader)
    await fetch(f"warm-{os.getpid()}")  # connections open, code paths imported
    conn.send("ready")
    loop = asyncio.get_running_loop()
    while (job := await loop.run_in_executor(None, conn.recv)) is not None:
        arg, start_at = job
        loader.calls = 0
        go = asyncio.Event()
        latencies: list[float] = []
        failures = 0

        async def caller() -> None:
            nonlocal failures
            await go.wait()
            try:
                ok = await fetch(arg) == {"arg": arg}
            except Exception:
                ok = False
            latencies.append((time.time() - start_at) * 1000)
            failures += not ok

        tasks = [asyncio.create_task(caller()) for _ in range(callers)]
        await asyncio.sleep(0)  # every caller is parked on `go`
        await asyncio.sleep(max(0.0, start_at - time.time()))
        go.set()
        await asyncio.gather(*tasks)
        conn.send((loader.calls, latencies, failures))
    await close()


# ---- the driver ------------------------------------------------------------------------

@dataclass
class Row:
    name: str
    calls: list[int]
    p50: list[float]
    p99: list[float]
    worst: list[float]
    failures: int


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def measure(library: str, variant: str, label: str, port: int, processes: int, callers: int, rounds: int) -> Row:
    ctx = multiprocessing.get_context("spawn")
    ns = f"stampede-{library}-{uuid.uuid4().hex[:8]}"
    pipes, procs = [], []
    for _ in range(processes):
        ours, theirs = ctx.Pipe()
        p = ctx.Process(target=worker, args=(theirs, library, port, ns, variant, callers // processes), daemon=True)
        p.start()
        pipes.append(ours)
        procs.append(p)
    for conn in pipes:
        if not conn.poll(60) or conn.recv() != "ready":
            raise RuntimeError(f"{library} worker did not start")
    row = Row(f"{library} {label}", [], [], [], [], 0)
    for r in range(rounds):
        job = (f"cold-{r}", time.time() + START_MARGIN)
        for conn in pipes:
            conn.send(job)
        calls, latencies = 0, []
        for conn in pipes:
            c, lat, failed = conn.recv()
            calls += c
            latencies += lat
            row.failures += failed
        latencies.sort()
        row.calls.append(calls)
        row.p50.append(percentile(latencies, 0.50))
        row.p99.append(percentile(latencies, 0.99))
        row.worst.append(latencies[-1])
        time.sleep(0.2)  # let the last round's unlocks and closes settle
    for conn in pipes:
        conn.send(None)
    for p in procs:
        p.join(30)
    return row


def print_table(title: str, rows: list[Row]) -> None:
    print(f"\n| {title} | loader calls (median) | max calls | p50 ms | p99 ms | max ms | failed callers |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    med = statistics.median
    for r in rows:
        print(f"| {r.name} | {med(r.calls):g} | {max(r.calls)} | {med(r.p50):.0f} | {med(r.p99):.0f} | "
              f"{med(r.worst):.0f} | {r.failures} |")


def main() -> None:
    from bench_python import redis_server  # same directory: the throwaway redis-server

    ap = argparse.ArgumentParser()
    ap.add_argument("--redis-port", type=int, help="use this redis-server instead of starting one")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--callers", type=int, default=1000)
    ap.add_argument("--processes", type=int, default=4, help="processes of the multi-process variant")
    ap.add_argument("--libraries", default=",".join(LIBRARIES))
    args = ap.parse_args()
    libraries = args.libraries.split(",")
    versions = []
    for name in libraries:
        from importlib.metadata import version
        versions.append(f"{name} {version(name)}")
    print(f"Python {sys.version.split()[0]}; {os.cpu_count()} CPUs ({platform.machine()}), shared: callers, "
          f"loaders and redis-server compete for them, so the latencies are noisy and the loader-call "
          f"counts are what to read first.\n{'; '.join(versions)}. {args.callers} callers on one cold key per "
          f"round, loader sleeps {LOAD_SECONDS * 1000:.0f} ms; median over {args.rounds} rounds (max calls: the "
          f"maximum); latency from the common start to each caller's result.")

    def run(port: int) -> None:
        for processes in (1, args.processes):
            title = (f"1 process x {args.callers} callers" if processes == 1
                     else f"{processes} processes x {args.callers // processes} callers")
            rows = [measure(lib, variant, label, port, processes, args.callers, args.rounds)
                    for lib, variant, label in VARIANTS if lib in libraries]
            print_table(title, rows)
            sys.stdout.flush()

    if args.redis_port:
        run(args.redis_port)
    else:
        with redis_server() as port:
            run(port)


if __name__ == "__main__":
    main()
