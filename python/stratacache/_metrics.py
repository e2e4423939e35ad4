"""``Cache.metrics()``: the native metrics (``stratacache_metrics_json``, docs/metrics.md)
with the figures people ask for first, derived from them.

Derived keys (rates are fractions 0..1, times milliseconds; 0 while nothing was read):

- ``hit_rate`` / ``miss_rate``: reads answered from a tier / not answered. A read is an
  L1 hit, or a read that went on to Redis (an L2 hit or miss); on a cache without
  Redis, an L1 hit or miss.
- ``avg_access_time_ms``: time spent in reads (L1 and Redis ``get`` histograms) per read.
- ``tiers``: ``{"l1": {...}, "l2": {...}}``, each with ``hits``, ``misses``,
  ``hit_rate``, ``miss_rate``, ``avg_access_time_ms`` (mean of the tier's ``get``
  histogram) and ``percentiles_ms`` (``p50``, ``p90``, ``p99``, ``p999`` of it).
- ``percentiles_ms``: ``{"l1.get": {"p50": ..., ...}, "l2.set": {...}, ...}``, one
  entry per timed operation.

The native keys stay as they are: ``counters`` (what ``stats()`` returns from the
core), ``operations`` (one histogram per tier and operation, with its percentiles in
seconds and its non-empty buckets), ``l1_sample_every`` and ``histogram``.
"""
from __future__ import annotations

from typing import Any

__all__ = ["derive"]

_PERCENTILES = ("p50", "p90", "p99", "p999")


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _percentiles_ms(op: dict[str, Any] | None) -> dict[str, float]:
    return {p: (op[p + "_seconds"] * 1000.0 if op else 0.0) for p in _PERCENTILES}


def derive(raw: dict[str, Any], l2_enabled: bool) -> dict[str, Any]:
    """``raw`` (the native dict) with the derived keys added; ``raw`` is not changed."""
    out = dict(raw)
    counters = raw["counters"]
    ops = {(o["tier"], o["op"]): o for o in raw["operations"]}
    tiers: dict[str, Any] = {}
    for tier in ("l1", "l2"):
        hits, misses = counters[tier]["hits"], counters[tier]["misses"]
        get = ops.get((tier, "get"))
        tiers[tier] = {
            "hits": hits,
            "misses": misses,
            "hit_rate": _rate(hits, hits + misses),
            "miss_rate": _rate(misses, hits + misses),
            "avg_access_time_ms": get["mean_seconds"] * 1000.0 if get else 0.0,
            "percentiles_ms": _percentiles_ms(get),
        }
    l1, l2 = tiers["l1"], tiers["l2"]
    if l2_enabled:
        reads = l1["hits"] + l2["hits"] + l2["misses"]
        answered = l1["hits"] + l2["hits"]
    else:
        reads = l1["hits"] + l1["misses"]
        answered = l1["hits"]
    read_seconds = sum(o["sum_seconds"] for (_, op), o in ops.items() if op == "get")
    out["hit_rate"] = _rate(answered, reads)
    out["miss_rate"] = _rate(reads - answered, reads)
    out["avg_access_time_ms"] = read_seconds * 1000.0 / reads if reads else 0.0
    out["tiers"] = tiers
    out["percentiles_ms"] = {f"{o['tier']}.{o['op']}": _percentiles_ms(o) for o in raw["operations"]}
    return out
