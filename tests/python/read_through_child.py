"""A process of tests/python/test_read_through_processes.py: MODE callers call one
read-through key at a shared wall-clock start time and print what they got as JSON.

    python read_through_child.py MODE URL KEY CALLERS START_UNIX_MS LOADER_MS COUNTER

MODE: threads (Cache.get_or_set from threads), coroutines (AsyncCache.get_or_set from
tasks of one event loop), decorator (@cached on a sync function, from threads). The
loader sleeps LOADER_MS, then counts itself with cache.increment(COUNTER), so loads
are counted across every process.
"""
from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from typing import Any

import stratacache


def _wait(start_ms: int) -> None:
    delay = start_ms / 1000 - time.time()
    if delay > 0:
        time.sleep(delay)


def main() -> None:
    mode, url, key, callers_s, start_s, loader_s, counter = sys.argv[1:8]
    callers, start_ms, loader_ms = int(callers_s), int(start_s), int(loader_s)
    results: list[Any] = []
    lock = threading.Lock()

    if mode in ("threads", "decorator"):
        cache = stratacache.Cache(url)

        def load() -> str:
            time.sleep(loader_ms / 1000)
            cache.increment(counter, ttl=60)
            return "from Python"

        @stratacache.cached(ttl=60, cache=cache, key_prefix="rt", key_builder=lambda: key.split(":", 1)[1])
        def decorated() -> str:
            return load()

        def call() -> None:
            _wait(start_ms)
            value = decorated() if mode == "decorator" else cache.get_or_set(key, load, ttl=60)
            with lock:
                results.append(value)

        threads = [threading.Thread(target=call) for _ in range(callers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        cache.close()
    elif mode == "coroutines":
        async def run() -> None:
            cache = stratacache.AsyncCache(url)

            async def load() -> str:
                await asyncio.sleep(loader_ms / 1000)
                await cache.increment(counter, ttl=60)
                return "from Python"

            async def call() -> None:
                await asyncio.sleep(max(0.0, start_ms / 1000 - time.time()))
                results.append(await cache.get_or_set(key, load, ttl=60))

            await asyncio.gather(*(call() for _ in range(callers)))
            await cache.close()

        asyncio.run(run())
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
