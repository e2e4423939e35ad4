"""Distributed locks: stratacache's Cache.lock vs redis-py's Lock, same run, same server.

Run: after `pip install .`, `python bench/bench_lock.py [--redis-port P] [--repeats R]`.
Prints markdown tables (medians over the repeats).

1. Uncontended: one thread acquires and releases one lock name N times (each cycle:
   acquire round trip + release round trip). Cycles per second and the p50 / p99 of one
   cycle.
2. Contended: T threads (each with its own client / cache handle, as separate processes
   would have) take turns on one lock name, M cycles in total, each holding it for a
   read-modify-write of a counter in Redis. Cycles per second, the p50 / p99 of the time
   a thread waited for the lock (and the longest wait: a thread that releases and at
   once acquires again can starve pollers), and whether any update was lost. redis-py's Lock polls
   while it waits (`sleep=0.1` by default; also run with `sleep=0.001`); stratacache's
   waiter is woken by the coherence channel.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time
import uuid
from typing import Callable, ContextManager

import redis

import stratacache


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def uncontended(make: Callable[[str], ContextManager[object]], n: int) -> tuple[float, float, float]:
    name = "u:" + uuid.uuid4().hex
    lat = []
    t0 = time.perf_counter()
    for _ in range(n):
        s = time.perf_counter()
        with make(name):
            pass
        lat.append(time.perf_counter() - s)
    total = time.perf_counter() - t0
    return n / total, pct(lat, 0.5) * 1e6, pct(lat, 0.99) * 1e6


def contended(makers: list[Callable[[str], ContextManager[object]]], cycles: int, client: redis.Redis
              ) -> tuple[float, float, float, float, bool]:
    name = "c:" + uuid.uuid4().hex
    per_thread = cycles // len(makers)
    waits: list[float] = []
    mu = threading.Lock()
    barrier = threading.Barrier(len(makers))

    def work(make: Callable[[str], ContextManager[object]]) -> None:
        mine = []
        barrier.wait()
        for _ in range(per_thread):
            s = time.perf_counter()
            with make(name):
                mine.append(time.perf_counter() - s)
                n = int(client.get("n:" + name) or 0)
                client.set("n:" + name, n + 1)
        with mu:
            waits.extend(mine)

    ts = [threading.Thread(target=work, args=(m,)) for m in makers]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    total = time.perf_counter() - t0
    ok = int(client.get("n:" + name) or 0) == per_thread * len(makers)
    return per_thread * len(makers) / total, pct(waits, 0.5) * 1e3, pct(waits, 0.99) * 1e3, max(waits) * 1e3, ok


def main() -> None:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_python import redis_server  # the throwaway redis-server

    ap = argparse.ArgumentParser()
    ap.add_argument("--redis-port", type=int)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cycles", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--contended-cycles", type=int, default=400)
    args = ap.parse_args()

    def run(port: int) -> None:
        url = f"redis://127.0.0.1:{port}/0?prefix=bench:"
        client = redis.Redis(port=port)
        caches = [stratacache.Cache(url) for _ in range(args.threads)]
        clients = [redis.Redis(port=port) for _ in range(args.threads)]
        sc = lambda c: (lambda name: c.lock(name, timeout=10, blocking_timeout=60))  # noqa: E731
        rp = lambda r, sleep: (lambda name: r.lock(name, timeout=10, sleep=sleep, blocking_timeout=60))  # noqa: E731
        variants = {
            "stratacache `Cache.lock`": ([sc(c) for c in caches]),
            "redis-py `Lock` (sleep=0.1, default)": ([rp(r, 0.1) for r in clients]),
            "redis-py `Lock` (sleep=0.001)": ([rp(r, 0.001) for r in clients]),
        }
        un: dict[str, list[tuple[float, float, float]]] = {k: [] for k in variants}
        co: dict[str, list[tuple[float, float, float, float, bool]]] = {k: [] for k in variants}
        for _ in range(args.repeats):
            for k, makers in variants.items():
                un[k].append(uncontended(makers[0], args.cycles))
                co[k].append(contended(makers, args.contended_cycles, client))
        print(f"Python {sys.version.split()[0]}; {os.cpu_count()} CPUs ({platform.machine()}); redis-py "
              f"{redis.__version__}; loopback redis-server; medians of {args.repeats}.\n")
        print(f"Uncontended acquire + release, 1 thread, {args.cycles} cycles:\n")
        print("| lock | cycles/s | p50 cycle (us) | p99 cycle (us) |\n|---|---:|---:|---:|")
        for k, rs in un.items():
            print(f"| {k} | {statistics.median(r[0] for r in rs):,.0f} | {statistics.median(r[1] for r in rs):.0f} "
                  f"| {statistics.median(r[2] for r in rs):.0f} |")
        print(f"\nContended: {args.threads} threads (one handle/client each), {args.contended_cycles} cycles, "
              "a read-modify-write of a Redis counter under the lock:\n")
        print("| lock | cycles/s | p50 wait (ms) | p99 wait (ms) | max wait (ms) | no lost update |\n"
              "|---|---:|---:|---:|---:|---|")
        for k, rs in co.items():
            print(f"| {k} | {statistics.median(r[0] for r in rs):,.0f} | {statistics.median(r[1] for r in rs):.2f} "
                  f"| {statistics.median(r[2] for r in rs):.1f} | {statistics.median(r[3] for r in rs):.0f} "
                  f"| {all(r[4] for r in rs)} |")
        for c in caches:
            c.close()

    if args.redis_port:
        run(args.redis_port)
    else:
        with redis_server() as port:
            run(port)


if __name__ == "__main__":
    main()
