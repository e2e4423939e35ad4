"""The ``stratacache`` command line tool (``python -m stratacache``; docs/monitoring.md).

Commands: ``health``, ``stats [--watch SECONDS]``, ``info``, ``get KEY``,
``delete KEY...``, ``clear PATTERN [--dry-run]``, ``bench``. The cache URL comes
from ``--url`` or, like the library, from the environment (``REDIS_URL``, ...;
``stratacache._config``). Output is an aligned table for people, or one JSON document
with ``--json`` for scripts.

Exit codes: 0 done; 1 not found (a missing key, no key deleted, an unhealthy cache)
or the operation failed (Redis unreachable, a timeout); 2 usage: bad arguments or a
bad URL (argparse's own code).

The tool runs its operations with ``fail_silently`` off, so a Redis outage is an
error here rather than a quiet miss. Counters (``stats``) belong to the process that
reads them: the tool's own handle shows its L1 and L2 counters and the server's
figures; an application's counters are read from its own metrics
(``stratacache.prometheus``, ``stratacache.otel``).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from ._cache import Cache
from ._native import CacheConfigError, CacheError

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

_BENCH_PREFIX = "stratacache:cli-bench:"


class _Failed(Exception):
    """A command's outcome that ends the run with exit code 1 (message on stderr)."""


def _plain(value: Any) -> Any:
    """A JSON-compatible form of a cached value (bytes as text when they decode)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.hex()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _table(rows: Iterable[tuple[str, Any]], out: TextIO) -> None:
    rows = [(name, "" if value is None else str(value)) for name, value in rows]
    width = max((len(name) for name, _ in rows), default=0)
    for name, value in rows:
        out.write(f"{name.ljust(width)}  {value}\n")


def _columns(headers: Sequence[str], rows: Sequence[Sequence[Any]], out: TextIO) -> None:
    cells = [list(headers)] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() + "\n")


def _flatten(prefix: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        rows: list[tuple[str, Any]] = []
        for k, v in value.items():
            rows.extend(_flatten(f"{prefix}.{k}" if prefix else str(k), v))
        return rows
    return [(prefix, value)]


def _emit(args: argparse.Namespace, document: Any, rows: Iterable[tuple[str, Any]] | None = None) -> None:
    out: TextIO = args.out
    if args.json:
        out.write(json.dumps(_plain(document), sort_keys=False) + "\n")
    else:
        _table(rows if rows is not None else _flatten("", document), out)
    out.flush()


# ---- commands ----

def _health(cache: Cache, args: argparse.Namespace) -> int:
    h = cache.health_check()
    _emit(args, h)
    return EXIT_OK if h.get("healthy") else EXIT_FAILED


_SERVER_RATES = ("keyspace_hits", "keyspace_misses", "evicted_keys", "expired_keys")


def _stats_document(cache: Cache) -> dict[str, Any]:
    doc: dict[str, Any] = {"url": cache.url, "counters": cache.stats()}
    if cache.l2_enabled:
        h = cache.health_check()
        doc["server"] = {"healthy": h.get("healthy"), "latency_ms": h.get("latency_ms"),
                         **cache.server_info()["total"]}
    return doc


def _stats(cache: Cache, args: argparse.Namespace) -> int:
    if args.watch is None:
        _emit(args, _stats_document(cache))
        return EXIT_OK
    shown = 0
    last: tuple[float, dict[str, Any]] | None = None
    while args.count is None or shown < args.count:
        if shown:
            time.sleep(args.watch)
            if not args.json:
                args.out.write("\n")
        now = time.monotonic()
        doc = _stats_document(cache)
        doc["time"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        server = doc.get("server")
        if server is not None and last is not None:  # the server's figures per second since the last report
            seconds, before = now - last[0], last[1]
            doc["server_per_second"] = {k: round((server[k] - before[k]) / seconds, 1) for k in _SERVER_RATES}
        if server is not None:
            last = (now, server)
        _emit(args, doc)
        shown += 1
    return EXIT_OK


_NODE_COLUMNS = ("address", "role", "version", "connected_clients", "used_memory_human", "keyspace_hits",
                 "keyspace_misses", "evicted_keys", "expired_keys", "keys", "error")


def _info(cache: Cache, args: argparse.Namespace) -> int:
    info = cache.server_info()
    if args.json:
        _emit(args, info)
        return EXIT_OK

    def keys(counts: dict[str, int]) -> str:
        return ",".join(f"{db}={n}" for db, n in counts.items()) or "0"

    rows = [[node.get(c) if c != "keys" else keys(node["keys"]) for c in _NODE_COLUMNS] for node in info["nodes"]]
    total = info["total"]
    rows.append(["total", "", ""] + [total.get(c) if c != "keys" else keys(total["keys"]) for c in _NODE_COLUMNS[3:-1]]
                + [""])
    _columns(["node", *_NODE_COLUMNS[1:]], rows, args.out)
    args.out.flush()
    return EXIT_OK


def _get(cache: Cache, args: argparse.Namespace) -> int:
    stored = cache.inspect(args.key)
    if stored is None:
        raise _Failed(f"not found: {args.key}")
    missing = object()
    value = cache.get(args.key, missing)
    readable = value is not missing  # else undecodable here (a counted decode error) or gone since
    doc = {"key": args.key, "readable": readable, "value": value if readable else None, "envelope": stored}
    rows = [("key", args.key), ("value", json.dumps(_plain(value), ensure_ascii=False) if readable else "")]
    rows += [(f"envelope.{k}", v) for k, v in stored.items()]
    _emit(args, doc, rows)
    if not readable:
        raise _Failed(f"not readable here: {args.key} ({stored.get('error') or stored['kind']}"
                      f"{', encrypted with key id %d' % stored['key_id'] if stored.get('encrypted') else ''})")
    return EXIT_OK


def _delete(cache: Cache, args: argparse.Namespace) -> int:
    deleted = cache.delete(*args.keys)
    _emit(args, {"deleted": deleted, "keys": len(args.keys)})
    return EXIT_OK if deleted else EXIT_FAILED


def _clear(cache: Cache, args: argparse.Namespace) -> int:
    if args.dry_run:
        _emit(args, {"pattern": args.pattern, "matching": cache.count_pattern(args.pattern), "dry_run": True})
        return EXIT_OK
    _emit(args, {"pattern": args.pattern, "deleted": cache.clear_pattern(args.pattern), "dry_run": False})
    return EXIT_OK


def _timed(op: Callable[[], Any], per_round: int, rounds: int) -> float:
    """Median seconds per call over `rounds` rounds of `per_round` calls."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(per_round):
            op()
        samples.append((time.perf_counter() - start) / per_round)
    return statistics.median(samples)


def _bench(cache: Cache, args: argparse.Namespace) -> int:
    native = cache._core.native
    key = f"{_BENCH_PREFIX}{time.time_ns()}"
    native.set(key, b"x" * args.value_size, 60.0)
    try:
        rows: list[dict[str, Any]] = []
        native.get(key)  # now in L1
        l1 = _timed(lambda: native.get(key), args.iterations, args.rounds)
        rows.append({"operation": "L1 hit (get)", "median_ns": round(l1 * 1e9), "calls": args.iterations * args.rounds})
        if cache.l2_enabled:
            l2_iterations = max(1, args.iterations // 50)
            l2 = _timed(lambda: native.get(key, skip_l1=True), l2_iterations, args.rounds)
            rows.append({"operation": "L2 GET (skip L1)", "median_us": round(l2 * 1e6, 1),
                         "calls": l2_iterations * args.rounds})
    finally:
        native.delete([key])
    doc = {"url": cache.url, "value_bytes": args.value_size, "rounds": args.rounds, "results": rows}
    if args.json:
        _emit(args, doc)
    else:
        table = [(r["operation"], f"{r['median_ns']} ns" if "median_ns" in r else f"{r['median_us']} us")
                 for r in rows]
        table.append(("(median of rounds)", f"{args.rounds} rounds, {args.value_size}-byte value, {cache.url}"))
        _emit(args, doc, table)
    return EXIT_OK


# ---- entry point ----

def _parser() -> argparse.ArgumentParser:
    def options(parser: argparse.ArgumentParser, default: Any) -> argparse.ArgumentParser:
        # Accepted before and after the command; after it, only a given option is set,
        # so the command's parser does not reset one given before it.
        parser.add_argument("--url", default=default,
                            help="cache URL (default: REDIS_URL and the other variables, else mem://)")
        parser.add_argument("--json", action="store_true", default=default or False,
                            help="one JSON document on stdout")
        parser.add_argument("--timeout", type=float, metavar="SECONDS", default=default,
                            help="Redis socket timeout")
        return parser

    common = options(argparse.ArgumentParser(add_help=False), argparse.SUPPRESS)
    p = options(argparse.ArgumentParser(prog="stratacache", description="Inspect and operate a stratacache cache."),
                None)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, run: Callable[[Cache, argparse.Namespace], int], text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=text, description=text, parents=[common])
        cmd.set_defaults(run=run)
        return cmd

    add("health", _health, "ping the cache; exit 1 when unhealthy")
    stats = add("stats", _stats, "this handle's counters and the server's figures")
    stats.add_argument("--watch", type=float, metavar="SECONDS", help="repeat every SECONDS")
    stats.add_argument("--count", type=int, metavar="N", help="with --watch: stop after N reports")
    add("info", _info, "INFO of every Redis node (Cluster: masters and replicas); exit 2 on mem://")
    get = add("get", _get, "a key's decoded value and its envelope header; exit 1 when missing")
    get.add_argument("key")
    delete = add("delete", _delete, "delete keys; exit 1 when none existed")
    delete.add_argument("keys", nargs="+", metavar="KEY")
    clear = add("clear", _clear, "delete every key matching a Redis glob")
    clear.add_argument("pattern")
    clear.add_argument("--dry-run", action="store_true", help="count the matching keys, delete nothing")
    bench = add("bench", _bench, "quick L1 hit and L2 GET figures on this machine")
    bench.add_argument("--iterations", type=int, default=20000, help="L1 calls per round (L2: 1/50 of it)")
    bench.add_argument("--rounds", type=int, default=5)
    bench.add_argument("--value-size", type=int, default=100, metavar="BYTES")
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)  # usage errors exit with 2 here
    args.out = out if out is not None else sys.stdout
    for name in ("watch", "timeout"):
        value = getattr(args, name, None)
        if value is not None and not value > 0:
            parser.error(f"--{name} must be a positive number of seconds")
    for name in ("count", "iterations", "rounds"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    options: dict[str, Any] = {"fail_silently": False}
    if args.timeout is not None:
        options["socket_timeout"] = args.timeout
    try:
        cache = Cache(args.url, **options)
    except (CacheConfigError, ValueError) as exc:
        print(f"stratacache: bad configuration: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with cache:
            result: int = args.run(cache, args)
            return result
    except _Failed as exc:
        print(f"stratacache: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except CacheConfigError as exc:
        print(f"stratacache: bad configuration: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CacheError as exc:
        print(f"stratacache: {args.command} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:  # the reader went away (`stratacache stats | head`)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes at exit
        return EXIT_FAILED
