"""Read-through across processes and languages (docs/read-through.md): 4 processes x 64
concurrent callers on one cold key — threads and coroutines in Python, @cached, and a C
program through the C ABI's callback form — and the loader runs exactly once in all."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import stratacache

ROOT = Path(__file__).resolve().parents[2]
CHILD = str(Path(__file__).with_name("read_through_child.py"))


def _interop_bin() -> str:
    path = os.environ.get("STRATACACHE_INTEROP_BIN") or str(ROOT / "build" / "tests" / "stratacache_interop")
    if not Path(path).exists():
        pytest.fail(f"{path} missing: build the C++ tree first (scripts/build.sh)")
    return path


@pytest.mark.parametrize("coherence", ["tracking", "off"])
def test_four_processes_one_load(redis_server, coherence: str) -> None:
    url = f"{redis_server.url}?prefix=rtp:&l1_coherence={coherence}"
    key = "rt:" + uuid.uuid4().hex  # the decorator's key (key_prefix "rt", key_builder)
    counter = "loads:" + key
    start_ms = int(time.time() * 1000) + 2500  # after every interpreter has imported
    callers, loader_ms = 64, 300
    python = [subprocess.Popen([sys.executable, CHILD, mode, url, key, str(callers), str(start_ms), str(loader_ms),
                                counter], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for mode in ("threads", "coroutines", "decorator")]
    c = subprocess.Popen([_interop_bin(), "load", url, key, str(callers), str(start_ms), str(loader_ms), counter],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
    values: list[object] = []
    for proc in python:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        got = json.loads(out)
        assert len(got) == callers
        values.extend(got)
    out, err = c.communicate(timeout=60)
    assert c.returncode == 0, err
    assert out.splitlines()[0] == f"ok {callers}"
    with stratacache.Cache(url) as cache:
        assert cache.get(counter) == 1, "the loader ran once across 4 processes and 256 callers"
        winner = cache.get(key)
    assert winner in ("from Python", "from C")
    assert all(v == winner for v in values), set(map(str, values))
    # The C process printed the raw bytes of the same value (JSON or MessagePack text),
    # one line per distinct value: one.
    assert len(out.splitlines()) == 2 and winner in out.splitlines()[1]
