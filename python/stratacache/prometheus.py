"""A ``prometheus_client`` collector for stratacache caches (extra ``prometheus``).

    from prometheus_client import REGISTRY, start_http_server
    from stratacache.prometheus import StrataCacheCollector

    collector = StrataCacheCollector(sessions, name="sessions")
    collector.add(pages, name="pages")          # more caches: one family each, a label per cache
    REGISTRY.register(collector)
    start_http_server(9464)

Each scrape reads every cache's exposition from the core (``stratacache_metrics_prometheus``:
the names, types and help texts of docs/metrics.md) and parses it with
``prometheus_client.parser``; this module keeps no table of names. Every sample gets a
``cache`` label with the name given here, so one registry serves several caches and
every family appears once. A closed cache is left out of the scrape.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Union

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from ._cache import AsyncCache, Cache

__all__ = ["StrataCacheCollector", "CACHE_LABEL", "families"]

CACHE_LABEL = "cache"

AnyCache = Union[Cache, AsyncCache]


def families(cache: AnyCache) -> Iterable[Metric]:
    """The cache's metric families as the core writes them (no ``cache`` label)."""
    text: str = cache._core.native.metrics_prometheus()
    return text_string_to_metric_families(text)


class StrataCacheCollector(Collector):
    """Collects the metrics of one or more caches, each labelled ``cache=<name>``."""

    def __init__(self, cache: AnyCache | None = None, name: str = "default") -> None:
        self._lock = threading.Lock()
        self._caches: dict[str, AnyCache] = {}
        if cache is not None:
            self.add(cache, name)

    def add(self, cache: AnyCache, name: str) -> None:
        """Collect ``cache`` too, labelled ``cache=name``; a name is used once."""
        if not isinstance(name, str) or not name:
            raise ValueError("a cache name must be a non-empty string")
        with self._lock:
            if name in self._caches:
                raise ValueError(f"a cache named {name!r} is already collected")
            self._caches[name] = cache

    def remove(self, name: str) -> None:
        with self._lock:
            del self._caches[name]

    def describe(self) -> Iterable[Metric]:
        # The family names, without samples: the registry checks them for clashes.
        return [Metric(m.name, m.documentation, m.type, m.unit) for m in self.collect()]

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            caches = list(self._caches.items())
        merged: dict[str, Metric] = {}
        for name, cache in caches:
            if cache.closed:
                continue
            for family in families(cache):
                out = merged.get(family.name)
                if out is None:
                    out = merged[family.name] = Metric(family.name, family.documentation, family.type, family.unit)
                for s in family.samples:
                    out.add_sample(s.name, {**s.labels, CACHE_LABEL: name}, s.value, s.timestamp, s.exemplar)
        return list(merged.values())
