"""Child process of test_lock.py.

count URL NAME THREADS ROUNDS REDIS_PORT: THREADS threads each do ROUNDS read-modify-
writes of a counter kept in Redis (read and written with redis-py, a plain client: the
storage the lock protects), each under cache.lock(NAME); every write also checks the
fencing token against the last one stored. Prints the number of fence violations.

hold URL NAME TTL: takes the lock for TTL seconds, prints "held" and sleeps (the test
kills it with SIGKILL)."""
from __future__ import annotations

import sys
import threading
import time

import redis

import stratacache


def count(url: str, name: str, threads: int, rounds: int, port: int) -> None:
    cache = stratacache.Cache(url)
    client = redis.Redis(port=port)
    violations = 0
    errors: list[BaseException] = []
    mu = threading.Lock()

    def work() -> None:
        nonlocal violations
        try:
            for _ in range(rounds):
                with cache.lock(name, timeout=10, blocking_timeout=60) as lk:
                    last = int(client.get("fence:" + name) or 0)
                    if lk.fence <= last:
                        with mu:
                            violations += 1
                    client.set("fence:" + name, lk.fence)
                    n = int(client.get("count:" + name) or 0)
                    client.set("count:" + name, n + 1)
        except BaseException as exc:  # reported to the parent
            errors.append(exc)

    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    print(violations)


def hold(url: str, name: str, ttl: float) -> None:
    cache = stratacache.Cache(url)
    lk = cache.lock(name, timeout=ttl)
    assert lk.acquire(blocking=False)
    print("held", lk.fence, flush=True)
    time.sleep(60)


if __name__ == "__main__":
    if sys.argv[1] == "count":
        count(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
    else:
        hold(sys.argv[2], sys.argv[3], float(sys.argv[4]))
