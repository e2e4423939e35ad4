"""The stratacache command line tool against a real Redis and on mem://: outputs, exit
codes (0 done, 1 not found / failed, 2 usage or bad URL) and clear errors."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from conftest import RedisProcess, _free_port
from stratacache import Cache
from stratacache._cli import main

KEY = bytes(range(32))


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def run_json(*argv: str) -> tuple[int, Any]:
    code, text = run(*argv, "--json")
    return code, json.loads(text) if text else None


@pytest.fixture
def cache(redis_server: RedisProcess) -> Any:
    with Cache(redis_server.url, fail_silently=False) as c:
        yield c


def test_get_shows_the_decoded_value_and_the_envelope_header(redis_server: RedisProcess, cache: Cache) -> None:
    cache.set("user:1", {"name": "Alice", "tags": ["a", "b"]}, ttl=600)
    code, doc = run_json("--url", redis_server.url, "get", "user:1")
    assert code == 0 and doc["readable"] is True
    assert doc["value"] == {"name": "Alice", "tags": ["a", "b"]}
    env = doc["envelope"]
    assert env["tier"] == "l2" and env["kind"] == "envelope"
    assert env["serializer"] == "msgpack" and env["compression"] == "none" and env["encrypted"] is False
    assert env["stored_bytes"] > env["payload_bytes"] > 0
    assert 590_000 < env["ttl_ms"] <= 600_000


def test_get_of_a_large_value_reports_its_compression_and_sizes(redis_server: RedisProcess, cache: Cache) -> None:
    cache.set("big", "x" * 100_000)
    code, doc = run_json("--url", redis_server.url, "get", "big")
    assert code == 0 and doc["value"] == "x" * 100_000
    env = doc["envelope"]
    assert env["compression"] == "lz4"
    assert env["payload_bytes"] > 100_000 > 10 * env["stored_bytes"]


def test_get_of_an_encrypted_value_without_the_key_shows_the_header_and_fails(
        redis_server: RedisProcess, capsys: pytest.CaptureFixture[str]) -> None:
    with Cache(redis_server.url, encryption_keys=[(7, KEY, True)]) as writer:
        writer.set("secret", "hidden")
    code, doc = run_json("--url", redis_server.url, "get", "secret")
    assert code == 1 and doc["readable"] is False and doc["value"] is None
    env = doc["envelope"]
    assert env["encrypted"] is True and env["key_id"] == 7 and env["serializer"] == "msgpack"
    assert "encrypted with key id 7" in capsys.readouterr().err
    assert redis_server.cli("EXISTS", "secret") == "1"  # another process's value: left alone


def test_get_of_another_clients_value_is_foreign(redis_server: RedisProcess) -> None:
    redis_server.cli("SET", "plain", "written by redis-cli")
    code, doc = run_json("--url", redis_server.url, "get", "plain")
    assert code == 1 and doc["envelope"]["kind"] == "foreign" and doc["envelope"]["stored_bytes"] == 20


def test_get_of_a_counter_and_human_output(redis_server: RedisProcess, cache: Cache) -> None:
    assert cache.increment("hits", 41) == 41
    code, text = run("--url", redis_server.url, "get", "hits")
    assert code == 0
    rows = [line.split(None, 1) for line in text.splitlines()]
    lines = {row[0]: row[1] if len(row) > 1 else "" for row in rows}
    assert lines["value"] == "41" and lines["envelope.kind"] == "counter" and lines["envelope.error"] == ""
    # aligned: every value starts in the same column
    assert len({line.index(row[1]) for line, row in zip(text.splitlines(), rows) if len(row) > 1}) == 1


def test_missing_key_is_exit_1_with_a_clear_message(redis_server: RedisProcess, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = run("--url", redis_server.url, "get", "nope")
    assert code == 1 and text == ""
    assert "not found: nope" in capsys.readouterr().err


def test_delete_counts_and_fails_when_nothing_existed(redis_server: RedisProcess, cache: Cache) -> None:
    cache.set("d:1", 1)
    cache.set("d:2", 2)
    assert run_json("--url", redis_server.url, "delete", "d:1", "d:2", "d:3") == (0, {"deleted": 2, "keys": 3})
    assert cache.get("d:1") is None and cache.get("d:2") is None
    assert run_json("--url", redis_server.url, "delete", "d:1")[0] == 1


def test_clear_dry_run_counts_without_deleting_then_clear_deletes(redis_server: RedisProcess, cache: Cache) -> None:
    for i in range(30):
        cache.set(f"page:{i}", i)
    cache.set("pages", "keep")
    code, doc = run_json("--url", redis_server.url, "clear", "page:*", "--dry-run")
    assert (code, doc) == (0, {"pattern": "page:*", "matching": 30, "dry_run": True})
    assert redis_server.cli("DBSIZE") == "31"
    code, doc = run_json("--url", redis_server.url, "clear", "page:*")
    assert (code, doc["deleted"]) == (0, 30)
    assert redis_server.cli("DBSIZE") == "1" and cache.get("pages") == "keep"


def test_health_stats_and_info(redis_server: RedisProcess, cache: Cache) -> None:
    cache.set("a", 1)
    cache.set("b", 2)
    code, doc = run_json("--url", redis_server.url, "health")
    assert code == 0 and doc["healthy"] is True and doc["version"]
    code, doc = run_json("--url", redis_server.url, "stats")
    assert code == 0 and doc["server"]["healthy"] is True and "hits" in doc["counters"]["l1"]
    assert doc["server"]["keys"] == {"db0": 2} and doc["server"]["used_memory_bytes"] > 0
    code, doc = run_json("--url", redis_server.url, "info")
    assert code == 0 and [n["role"] for n in doc["nodes"]] == ["master"] and doc["total"]["keys"] == {"db0": 2}
    code, text = run("--url", redis_server.url, "info")
    header, node, total = text.splitlines()
    assert header.split()[:3] == ["node", "role", "version"]
    assert node.startswith(f"127.0.0.1:{redis_server.port}") and "master" in node and "db0=2" in node
    assert total.startswith("total") and "db0=2" in total


def test_info_on_mem_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--url", "mem://", "info")[0] == 2  # the URL names no server to ask
    assert "needs a Redis" in capsys.readouterr().err


def test_stats_watch_reports_count_times_with_server_rates(redis_server: RedisProcess, cache: Cache) -> None:
    cache.set("k", "v")
    code, text = run("--url", redis_server.url, "stats", "--watch", "0.05", "--count", "3", "--json")
    docs = [json.loads(line) for line in text.splitlines()]
    assert code == 0 and len(docs) == 3 and all("time" in d for d in docs)
    assert "server_per_second" not in docs[0]
    assert set(docs[2]["server_per_second"]) == {"keyspace_hits", "keyspace_misses", "evicted_keys", "expired_keys"}


def test_bench_reports_l1_and_l2_figures(redis_server: RedisProcess) -> None:
    code, doc = run_json("--url", redis_server.url, "bench", "--iterations", "500", "--rounds", "2")
    assert code == 0
    ops = {r["operation"]: r for r in doc["results"]}
    assert ops["L1 hit (get)"]["median_ns"] > 0 and ops["L2 GET (skip L1)"]["median_us"] > 0
    assert redis_server.cli("DBSIZE") == "0"  # its key is gone


def test_on_mem_the_tool_has_only_l1(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_json("--url", "mem://", "health")[1]["healthy"] is True
    code, doc = run_json("--url", "mem://", "bench", "--iterations", "200", "--rounds", "1")
    assert code == 0 and [r["operation"] for r in doc["results"]] == ["L1 hit (get)"]
    assert run_json("--url", "mem://", "clear", "*", "--dry-run") == (0, {"pattern": "*", "matching": 0, "dry_run": True})
    assert run("--url", "mem://", "get", "k")[0] == 1
    assert run("--url", "mem://", "delete", "k")[0] == 1
    assert "server" not in run_json("--url", "mem://", "stats")[1]


@pytest.mark.parametrize("url", ["ftp://example", "redis://127.0.0.1:notaport/0", "redis://127.0.0.1:6379/0?pool_size=x"])
def test_a_bad_url_is_exit_2(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--url", url, "health")[0] == 2
    assert "bad configuration" in capsys.readouterr().err


def test_usage_errors_are_exit_2() -> None:
    for argv in ([], ["get"], ["frobnicate"], ["stats", "--watch", "0"], ["bench", "--rounds", "0"]):
        with pytest.raises(SystemExit) as exc:
            main(argv, out=io.StringIO())
        assert exc.value.code == 2, argv


def test_unreachable_redis_fails_with_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"redis://127.0.0.1:{_free_port()}/0?socket_timeout=0.5"
    code, doc = run_json("--url", url, "health")
    assert code == 1 and doc["healthy"] is False and doc["error"]
    assert run("--url", url, "get", "k")[0] == 1
    assert "get failed" in capsys.readouterr().err


def test_python_dash_m_reads_the_url_from_the_environment(redis_server: RedisProcess, cache: Cache) -> None:
    cache.set("env:k", "from env")
    env = {**os.environ, "REDIS_URL": redis_server.url}
    proc = subprocess.run([sys.executable, "-m", "stratacache", "get", "env:k", "--json"], env=env,
                          capture_output=True, text=True, timeout=60, cwd="/")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["value"] == "from env"


def test_the_console_script_is_installed() -> None:
    found = [Path(d) / "stratacache" for d in (sysconfig.get_path("scripts"), Path(sys.executable).parent)]
    script = next((p for p in found if p.exists()), None) or shutil.which("stratacache")
    assert script is not None, "the package is not pip-installed for this interpreter (scripts/test.sh installs it)"
    proc = subprocess.run([str(script), "--url", "mem://", "health", "--json"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and json.loads(proc.stdout)["healthy"] is True
