"""stratacache.prometheus: the collector's exposition parsed by prometheus_client's own
parser, scraped by a real Prometheus server (Debian's ``prometheus``, on loopback) and
read back through its HTTP API; the example Grafana dashboard checked against both."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from prometheus_client import CollectorRegistry, generate_latest, start_http_server  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from conftest import RedisProcess, _free_port  # noqa: E402
from stratacache import Cache  # noqa: E402
from stratacache.prometheus import StrataCacheCollector  # noqa: E402

DASHBOARD = Path(__file__).resolve().parents[2] / "examples" / "grafana-dashboard.json"


def samples(registry: CollectorRegistry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = generate_latest(registry).decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def exercise(cache: Cache, prefix: str, hits: int) -> None:
    cache.set(prefix + "k", "v")
    for _ in range(hits):
        assert cache.get(prefix + "k") == "v"
    assert cache.get(prefix + "missing") is None


def test_two_caches_in_one_registry_carry_their_own_label(redis_server: RedisProcess) -> None:
    registry = CollectorRegistry()
    with Cache(redis_server.url) as sessions, Cache("mem://") as pages:
        exercise(sessions, "s:", 5)
        exercise(pages, "p:", 3)
        collector = StrataCacheCollector(sessions, name="sessions")
        collector.add(pages, name="pages")
        registry.register(collector)
        found = samples(registry)
        s, p = sessions.stats(), pages.stats()
        assert value(found, "stratacache_requests_total", cache="sessions", tier="l1", op="get", result="hit") \
            == s["l1"]["hits"] == 5
        assert value(found, "stratacache_requests_total", cache="sessions", tier="l2", op="get", result="miss") \
            == s["l2"]["misses"] >= 1
        assert value(found, "stratacache_requests_total", cache="pages", tier="l1", op="get", result="hit") \
            == p["l1"]["hits"] == 3
        assert value(found, "stratacache_entries", cache="pages", tier="l1") == p["l1"]["entries"] == 1
        # every family once, every sample labelled
        text = generate_latest(registry).decode()
        types = re.findall(r"^# TYPE (\S+)", text, re.M)
        assert len(types) == len(set(types)) > 10
        assert all(("cache", "sessions") in labels or ("cache", "pages") in labels for _, labels in found)
        # one source of names: the same families as the core's own exposition
        core = {f.name for f in text_string_to_metric_families(sessions._core.native.metrics_prometheus())}
        assert core == {f.name for f in text_string_to_metric_families(text)}


def test_names_are_used_once_and_closed_caches_are_left_out() -> None:
    first, second = Cache("mem://"), Cache("mem://")
    collector = StrataCacheCollector(first, name="a")
    with pytest.raises(ValueError):
        collector.add(second, name="a")
    with pytest.raises(ValueError):
        collector.add(second, name="")
    collector.add(second, name="b")
    registry = CollectorRegistry()
    registry.register(collector)
    with pytest.raises(ValueError):  # the same families twice in one registry
        registry.register(StrataCacheCollector(second, name="c"))
    second.close()
    caches = {dict(labels)["cache"] for _, labels in samples(registry)}
    assert caches == {"a"}
    first.close()


# ---- a real Prometheus server ----

@dataclass
class PrometheusServer:
    port: int
    proc: subprocess.Popen[bytes]

    def api(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as reply:
            return json.loads(reply.read())

    def query(self, expr: str) -> list[dict[str, Any]]:
        doc = self.api("query", query=expr)
        assert doc["status"] == "success", doc
        result: list[dict[str, Any]] = doc["data"]["result"]
        return result

    def wait_for(self, expr: str, timeout: float = 60.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if result or time.monotonic() > deadline:
                return result
            time.sleep(0.5)


@pytest.fixture
def scraped() -> Iterator[tuple[CollectorRegistry, PrometheusServer]]:
    """A registry served over HTTP on a free loopback port, and a Prometheus server
    scraping it every second."""
    binary = shutil.which("prometheus")
    assert binary is not None, "Debian's prometheus package is not installed (scripts/setup.sh installs it)"
    registry = CollectorRegistry()
    target = _free_port()
    server, thread = start_http_server(target, addr="127.0.0.1", registry=registry)
    workdir = tempfile.mkdtemp(prefix="stratacache-prometheus-")
    config = Path(workdir) / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: stratacache\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target}']\n")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir}/data",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=open(Path(workdir) / "log", "wb"))
    prom = PrometheusServer(port, proc)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, (Path(workdir) / "log").read_text()
            assert time.monotonic() < deadline, "prometheus did not become ready"
            time.sleep(0.2)
        yield registry, prom
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        server.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)


def dashboard_exprs() -> list[str]:
    doc = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in doc["panels"] for t in p["targets"]]


def test_prometheus_scrapes_what_the_cache_did(redis_server: RedisProcess,
                                               scraped: tuple[CollectorRegistry, PrometheusServer]) -> None:
    registry, prom = scraped
    with Cache(redis_server.url) as cache:
        exercise(cache, "prom:", 7)
        registry.register(StrataCacheCollector(cache, name="sessions"))
        stats = cache.stats()
        hits = prom.wait_for('stratacache_requests_total{cache="sessions",tier="l1",result="hit"}')
        assert [float(r["value"][1]) for r in hits] == [stats["l1"]["hits"]] == [7.0]
        assert hits[0]["metric"]["job"] == "stratacache"
        misses = prom.query('stratacache_requests_total{cache="sessions",tier="l2",result="miss"}')
        assert [float(r["value"][1]) for r in misses] == [float(stats["l2"]["misses"])]
        entries = prom.query('stratacache_entries{cache="sessions",tier="l1"}')
        assert [float(r["value"][1]) for r in entries] == [float(stats["l1"]["entries"])]
        timed = prom.query('sum(stratacache_operation_duration_seconds_count{cache="sessions"})')
        assert timed and float(timed[0]["value"][1]) > 0

        # Every query of the example dashboard is valid PromQL on this server and names
        # series Prometheus has stored.
        stored = set(prom.api("label/__name__/values")["data"])
        for expr in dashboard_exprs():
            names = set(re.findall(r"\bstratacache_[a-z0-9_]+", expr))
            assert names and names <= stored, (expr, names - stored)
            concrete = expr.replace("$__rate_interval", "1m").replace("$cache", ".*")
            prom.query(concrete)  # asserts status success


def test_the_dashboard_is_grafana_json_on_exposed_names(redis_server: RedisProcess) -> None:
    doc = json.loads(DASHBOARD.read_text())
    assert doc["title"] and doc["uid"] and doc["schemaVersion"] >= 30
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    registry = CollectorRegistry()
    with Cache(redis_server.url) as cache:
        exercise(cache, "dash:", 2)
        registry.register(StrataCacheCollector(cache, name="d"))
        exposed = {name for name, _ in samples(registry)}
    referenced = {n for expr in dashboard_exprs() for n in re.findall(r"\bstratacache_[a-z0-9_]+", expr)}
    assert referenced and referenced <= exposed, referenced - exposed
    titles = " ".join(p["title"].lower() for p in doc["panels"])
    for topic in ("hit rate", "operations", "p50", "p99", "errors", "breaker", "entries", "memory"):
        assert topic in titles
