"""Smoke tests from Python: a redis+sentinel:// URL against a real master and sentinel,
and the circuit breaker's counters in stats()."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Iterator

import pytest
from conftest import RedisProcess, wait_listening

from stratacache._native import CacheConnectionError, NativeCache


def _start_sentinel(master_port: int) -> RedisProcess:
    binary = os.environ.get("REDIS_SERVER_BIN") or shutil.which("redis-server") or "/usr/bin/redis-server"
    for _ in range(5):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        workdir = tempfile.mkdtemp(prefix="stratacache-pysentinel-")
        conf = os.path.join(workdir, "sentinel.conf")
        with open(conf, "w") as f:
            f.write(f"sentinel monitor mymaster 127.0.0.1 {master_port} 1\n")
        proc = subprocess.Popen([binary, conf, "--sentinel", "--port", str(port), "--bind", "127.0.0.1",
                                 "--dir", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = wait_listening(proc, port, workdir)
        if started:
            return started
    raise RuntimeError("could not start a sentinel")


@pytest.fixture
def sentinel(redis_server: RedisProcess) -> Iterator[RedisProcess]:
    s = _start_sentinel(redis_server.port)
    try:
        yield s
    finally:
        s.kill9()
        shutil.rmtree(s.workdir, ignore_errors=True)


def test_sentinel_url_reaches_the_master(redis_server: RedisProcess, sentinel: RedisProcess) -> None:
    c = NativeCache(f"redis+sentinel://127.0.0.1:{sentinel.port}/mymaster/0?prefix=py:")
    try:
        c.set("k", {"a": 1})
        c.flush_l1()
        assert c.get("k") == {"a": 1}
        assert redis_server.cli("EXISTS", "py:k") == "1"
        l2 = c.stats()["l2"]
        assert l2["hits"] == 1
        assert l2["errors"] == 0
        assert l2["master_changes"] == 0
        assert l2["sentinel_failures"] == 0
    finally:
        c.close()


def test_breaker_counters_in_stats(redis_server: RedisProcess) -> None:
    c = NativeCache(redis_server.url + "?circuit_breaker_threshold=2&circuit_breaker_cooldown=5&socket_timeout=0.05")
    try:
        c.set("k", 1)
        os.kill(redis_server.proc.pid, signal.SIGSTOP)
        try:
            for _ in range(2):
                with pytest.raises(CacheConnectionError):
                    c.get("k", skip_l1=True)
            t = time.perf_counter()
            with pytest.raises(CacheConnectionError, match="circuit breaker open"):
                c.get("k", skip_l1=True)
            assert time.perf_counter() - t < 0.01
        finally:
            os.kill(redis_server.proc.pid, signal.SIGCONT)
        l2 = c.stats()["l2"]
        assert l2["breaker_opens"] == 1
        assert l2["breaker_rejections"] == 1
        assert l2["timeouts"] == 2
        for name in ("connection_errors", "auth_errors", "server_errors", "protocol_errors"):
            assert l2[name] == 0
    finally:
        c.close()
