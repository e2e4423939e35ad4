"""Concurrent asyncio L2 throughput: stratacache.AsyncCache vs redis-py's asyncio client.

N asyncio tasks (default 64) on one event loop each await one operation (get, set,
exists, get_ttl, increment, get_many of 10 keys) in a loop for a fixed time; the table gives ops/s, the median of interleaved repeats (each
repeat samples every contender once, the order rotated per repeat), and our ratio to
redis-py. A redis-server is started on a free loopback port.

- stratacache: AsyncCache("redis://...?l1_max_entries=0&compression=none"): L1 holds
  nothing, so every get is an L2 round trip (GET+PTTL, envelope decode, msgpack); the
  check below asserts that through the l2.hits counter. With the default pool and with
  max_connections=N. Every AsyncCache call is a submission awaited through the loop's
  completion queue (no thread pool).
- redis-py: redis.asyncio.Redis with a pool of N connections and the hiredis parser
  (asserted), GET/SET/EXISTS/TTL/INCR/MGET of raw bytes.

Run: scripts/bench_l2_async.sh (a venv with this checkout, redis and hiredis), or
`python bench/bench_l2_async.py [--tasks 64] [--seconds 0.5] [--repeats 11]` where both are
importable.
"""
from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import sys
import time
from typing import Any, Awaitable, Callable

from bench_python import redis_server  # the same throwaway redis-server as bench_python.py

SIZES = (64, 1024)


def machine_note() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} hardware threads, load average {load} (1/5/15 min)"


async def ops_per_second(op: Callable[[], Awaitable[Any]], check: Callable[[Any], bool], tasks: int,
                         seconds: float) -> float:
    """`tasks` tasks each awaiting op() in a loop for `seconds`; every result must pass check()."""
    stop = False
    counts = [0] * tasks

    async def worker(i: int) -> None:
        n = 0
        while not stop:
            result = await op()
            if not check(result):
                raise RuntimeError(f"wrong result: {result!r:.80}")
            n += 1
        counts[i] = n

    start = time.perf_counter()
    running = [asyncio.create_task(worker(i)) for i in range(tasks)]
    await asyncio.sleep(seconds)
    stop = True
    await asyncio.gather(*running)
    return sum(counts) / (time.perf_counter() - start)


async def measure(contenders: list[tuple[str, Callable[[], Awaitable[Any]], Callable[[Any], bool]]],
                  args: argparse.Namespace) -> dict[str, list[float]]:
    """ops/s samples per contender: `warmup` unrecorded rounds, then `repeats` rounds,
    each sampling every contender once in an order rotated per round."""
    samples: dict[str, list[float]] = {name: [] for name, _, _ in contenders}
    for r in range(args.warmup + args.repeats):
        for i in range(len(contenders)):
            name, op, check = contenders[(i + r) % len(contenders)]
            ops = await ops_per_second(op, check, args.tasks, args.seconds)
            if r >= args.warmup:
                samples[name].append(ops)
    return samples


async def run(args: argparse.Namespace, port: int) -> None:
    import redis
    import redis.asyncio as aioredis
    from redis.utils import HIREDIS_AVAILABLE

    import stratacache

    if not HIREDIS_AVAILABLE:
        sys.exit("redis-py does not see hiredis: pip install hiredis")
    base_url = f"redis://127.0.0.1:{port}/0?l1_max_entries=0&compression=none"
    # fail_silently=False: a failed call raises instead of passing for a miss or a write.
    caches = {"default pool": stratacache.AsyncCache(base_url, fail_silently=False),
              f"max_connections={args.tasks}": stratacache.AsyncCache(f"{base_url}&max_connections={args.tasks}",
                                                                      fail_silently=False)}
    client = aioredis.Redis(host="127.0.0.1", port=port, max_connections=args.tasks)
    parser = aioredis.connection.DefaultParser.__name__  # what the pool's connections use
    if "Hiredis" not in parser:
        sys.exit(f"redis-py asyncio parses with {parser}, not hiredis")
    redis_py = f"redis-py {redis.__version__} asyncio ({parser}), pool of {args.tasks}"

    print(f"### Python asyncio, {args.tasks} tasks, one standalone redis-server\n")
    print(f"Python {sys.version.split()[0]}, asyncio default loop; {args.tasks} tasks on one loop, {args.seconds:g} s "
          f"per sample, median of {args.repeats} interleaved repeats. stratacache: AsyncCache with L1 off "
          f"(l1_max_entries=0), compression=none; redis-py: raw bytes.\n")
    print(f"| case | method | median ops/s | range | vs redis-py |\n|---|---|---:|---:|---:|")
    for size in SIZES:
        value = os.urandom(size)
        key = f"bench:async:{size}"  # stratacache's envelope
        plain_key = f"bench:async:plain:{size}"  # redis-py's raw bytes
        for cache in caches.values():
            await cache.set(key, value, ttl=0)
        await client.set(plain_key, value)
        hits = caches["default pool"].stats()["l2"]["hits"]
        for _ in range(10):
            assert await caches["default pool"].get(key) == value
        if caches["default pool"].stats()["l2"]["hits"] - hits != 10:
            sys.exit("AsyncCache answered from L1: the L2 numbers would be wrong")

        def same(v: Any) -> bool:
            return v == value

        # (name, one call, check of its result) per contender and operation.
        Op = Callable[[], Awaitable[Any]]
        gets: list[tuple[str, Op, Callable[[Any], bool]]] = [
            *((f"stratacache AsyncCache, {pool}", functools.partial(c.get, key), same) for pool, c in caches.items()),
            (redis_py, functools.partial(client.get, plain_key), same)]
        sets: list[tuple[str, Op, Callable[[Any], bool]]] = [
            *((f"stratacache AsyncCache, {pool}", functools.partial(c.set, key, value, ttl=0), lambda v: v is None)
              for pool, c in caches.items()),
            (redis_py, functools.partial(client.set, plain_key, value), lambda v: v is True)]
        for op_name, contenders in (("GET", gets), ("SET", sets)):
            samples = await measure(contenders, args)
            base = statistics.median(samples[redis_py])
            for name, s in samples.items():
                m = statistics.median(s)
                print(f"| {op_name} {size} B | {name} | {m:.0f} | {min(s):.0f}–{max(s):.0f} | {m / base:.2f} |",
                      flush=True)
    await other_operations(args, caches, client, redis_py)
    print()
    for cache in caches.values():
        await cache.close()
    await client.aclose()


async def other_operations(args: argparse.Namespace, caches: dict[str, Any], client: Any, redis_py: str) -> None:
    """EXISTS, TTL, INCR and a 10-key MGET of 64 B values, each contender on keys of its own."""
    keys = [f"bench:async:many:{i}" for i in range(10)]
    plain_keys = [f"bench:async:plain:many:{i}" for i in range(10)]
    value = os.urandom(64)
    for cache in caches.values():
        await cache.set_many({k: value for k in keys}, ttl=0)
    await client.mset({k: value for k in plain_keys})
    expected = {k: value for k in keys}
    Op = Callable[[], Awaitable[Any]]
    Check = Callable[[Any], bool]
    rows: list[tuple[str, list[tuple[str, Op, Check]]]] = [
        ("EXISTS", [*((f"stratacache AsyncCache, {pool}", functools.partial(c.exists, keys[0]), lambda v: v is True)
                      for pool, c in caches.items()),
                    (redis_py, functools.partial(client.exists, plain_keys[0]), lambda v: v == 1)]),
        ("TTL", [*((f"stratacache AsyncCache, {pool}", functools.partial(c.get_ttl, keys[0]), lambda v: v == -1)
                   for pool, c in caches.items()),
                 (redis_py, functools.partial(client.ttl, plain_keys[0]), lambda v: v == -1)]),
        ("INCR", [*((f"stratacache AsyncCache, {pool}", functools.partial(c.increment, "bench:async:counter"),
                     lambda v: isinstance(v, int)) for pool, c in caches.items()),
                  (redis_py, functools.partial(client.incr, "bench:async:plain:counter"), lambda v: isinstance(v, int))]),
        ("MGET 10 x 64 B", [*((f"stratacache AsyncCache, {pool}", functools.partial(c.get_many, keys),
                               lambda v: v == expected) for pool, c in caches.items()),
                            (redis_py, functools.partial(client.mget, plain_keys), lambda v: v == [value] * 10)]),
    ]
    for op_name, contenders in rows:
        samples = await measure(contenders, args)
        base = statistics.median(samples[redis_py])
        for name, s in samples.items():
            m = statistics.median(s)
            print(f"| {op_name} | {name} | {m:.0f} | {min(s):.0f}–{max(s):.0f} | {m / base:.2f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=0.5)
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--warmup", type=int, default=1, help="unrecorded rounds before the repeats")
    args = ap.parse_args()
    print(f"Machine at start: {machine_note()}.\n")
    with redis_server() as port:
        asyncio.run(run(args, port))
    print(f"Machine at end: {machine_note()}.")


if __name__ == "__main__":
    main()
