"""The Python participant of the value matrix (docs/languages.md): writes every case of
a cases file through the stratacache package, or reads them back and prints canonical
TJ. Usage: participant.py write|read URL PREFIX LANG CASES_JSON [--key ID:HEX]"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stratacache  # noqa: E402
from stratacache._native import NativeCache  # noqa: E402
from tj import from_python, to_python  # noqa: E402

MISSING = object()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("write", "read"))
    parser.add_argument("url")
    parser.add_argument("prefix")
    parser.add_argument("lang")
    parser.add_argument("cases")
    parser.add_argument("--key", help="ID:HEX, a 32-byte AES-256-GCM primary key")
    args = parser.parse_args()
    cases = json.loads(Path(args.cases).read_text(encoding="utf-8"))["cases"]
    keys = []
    if args.key:
        key_id, _, hex_key = args.key.partition(":")
        keys = [(int(key_id), bytes.fromhex(hex_key), True)]

    def open_cache(serializer: str) -> stratacache.Cache:
        return stratacache.Cache(args.url, serializer=serializer, encryption_keys=keys, fail_silently=False)

    def key_of(case: dict) -> str:
        return f"{args.prefix}:{args.lang}:{case['name']}"

    if args.mode == "write":
        caches = {fmt: open_cache(fmt) for fmt in ("msgpack", "json")}
        # The package's serializers are msgpack, json and pickle; raw bytes go through
        # its native handle, the layer under Cache.
        raw = NativeCache(args.url, keys=keys or None, serializer="raw")
        for case in cases:
            value = to_python(case["value"])
            if case["format"] == "raw":
                raw.set(key_of(case), value, 0)
            else:
                caches[case["format"]].set(key_of(case), value, ttl=0)
        for cache in caches.values():
            cache.close()
        raw.close()
        return 0

    cache = open_cache("msgpack")
    out = {}
    for case in cases:
        value = cache.get(key_of(case), MISSING)
        if value is MISSING:
            raise LookupError(f"{key_of(case)}: missing")
        out[case["name"]] = from_python(value)
    cache.close()
    json.dump(out, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as exc:  # one line on stderr, non-zero exit: the orchestrator reports it
        print(f"python participant: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
