"""An OpenTelemetry metrics bridge for stratacache caches (extra ``otel``).

    from opentelemetry import metrics
    from stratacache.otel import instrument

    bridge = instrument(cache, name="sessions")   # the global MeterProvider's meter
    bridge.add(pages, name="pages")                # more caches, the same instruments
    bridge.remove("pages")                         # stop reporting a cache

Observable instruments (``opentelemetry-api``): the SDK calls them back on each
collection, and they read the cache's own figures then; nothing is recorded on the
cache's hot path. Their names, types and descriptions are those of the core's
exposition (``stratacache_metrics_prometheus``, docs/metrics.md), parsed with
``prometheus_client.parser``: this module keeps no table of names, and an OTel
pipeline exporting to Prometheus shows the same series as ``stratacache.prometheus``.

- a counter family (``stratacache_*_total``) -> an ``ObservableCounter`` named as its
  series (``stratacache_l1_hits_total``);
- a gauge -> an ``ObservableGauge``;
- the latency histograms (``stratacache_operation_duration_seconds``) -> cumulative
  ``ObservableCounter``\\ s ``..._bucket`` (attribute ``le``), ``..._count`` and
  ``..._sum``: the OpenTelemetry API has no observable histogram, so the buckets travel
  as the counters Prometheus itself stores, and ``histogram_quantile`` works on them.

Every observation carries ``cache=<name>`` plus the series' own labels as attributes.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Instrument, Meter, Observation
from prometheus_client.metrics_core import Metric

from ._cache import AsyncCache, Cache
from .prometheus import CACHE_LABEL, AnyCache, families

__all__ = ["CacheInstruments", "instrument", "METER_NAME"]

METER_NAME = "stratacache"

_HISTOGRAM_SERIES = ("_bucket", "_count", "_sum")


class _Snapshot:
    """One parse of the exposition per collection: each instrument's callback reads it
    once; a callback that already read it starts the next collection's snapshot."""

    def __init__(self, cache: AnyCache) -> None:
        self._cache = cache
        self._lock = threading.Lock()
        self._read_by: set[str] = set()
        self._samples: dict[str, list[tuple[dict[str, str], float]]] = {}

    def samples(self, series: str) -> list[tuple[dict[str, str], float]]:
        with self._lock:
            if series in self._read_by or not self._read_by:
                self._samples = {}
                if not self._cache.closed:
                    for family in families(self._cache):
                        for s in family.samples:
                            self._samples.setdefault(s.name, []).append((dict(s.labels), s.value))
                self._read_by = set()
            self._read_by.add(series)
            return self._samples.get(series, [])


class CacheInstruments:
    """The observable instruments of one or more caches on one meter, each cache's
    observations labelled ``cache=<name>``. Instruments are made once, on the first
    ``add``; later caches report through the same ones."""

    def __init__(self, meter: Meter | None = None) -> None:
        self.meter = meter if meter is not None else metrics.get_meter(METER_NAME)
        self.instruments: list[Instrument] = []
        self._lock = threading.Lock()
        self._caches: dict[str, _Snapshot] = {}

    def add(self, cache: AnyCache, name: str) -> None:
        """Report ``cache`` too, labelled ``cache=name``; a name is used once."""
        if not isinstance(name, str) or not name:
            raise ValueError("a cache name must be a non-empty string")
        with self._lock:
            if name in self._caches:
                raise ValueError(f"a cache named {name!r} is already instrumented")
            if not self.instruments:
                for family in families(cache):
                    self._add_family(family)
            self._caches[name] = _Snapshot(cache)

    def remove(self, name: str) -> None:
        """Report nothing more for that cache (OpenTelemetry cannot remove an
        instrument; the callbacks leave the cache out from now on)."""
        with self._lock:
            del self._caches[name]

    def _callback(self, series: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(_: CallbackOptions) -> Iterable[Observation]:
            with self._lock:
                caches = list(self._caches.items())
            return [Observation(value, {**labels, CACHE_LABEL: name})
                    for name, snapshot in caches for labels, value in snapshot.samples(series)]
        return observe

    def _add_family(self, family: Metric) -> None:
        meter, text = self.meter, family.documentation
        counters: list[str]
        gauges: list[str]
        if family.type == "counter":
            counters, gauges = [family.name + "_total"], []
        elif family.type == "histogram":
            counters, gauges = [family.name + suffix for suffix in _HISTOGRAM_SERIES], []
        else:  # gauge (and untyped): a value that goes up and down
            counters, gauges = [], [family.name]
        for name in counters:
            self.instruments.append(
                meter.create_observable_counter(name, callbacks=[self._callback(name)], description=text))
        for name in gauges:
            self.instruments.append(
                meter.create_observable_gauge(name, callbacks=[self._callback(name)], description=text))


def instrument(cache: Cache | AsyncCache, name: str = "default", meter: Meter | None = None) -> CacheInstruments:
    """Observable instruments for ``cache`` on ``meter`` (default: the global
    MeterProvider's meter ``"stratacache"``), observations labelled ``cache=name``.
    More caches join with ``.add(other, name=...)``."""
    bridge = CacheInstruments(meter)
    bridge.add(cache, name)
    return bridge
