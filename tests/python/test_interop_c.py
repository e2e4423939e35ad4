"""Values written through the C ABI by a C program are read from Python, and the other
way round: one cache behaviour in every language."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest

from stratacache import _native

from conftest import interop as _c



def test_c_writes_python_reads(redis_server) -> None:
    doc = {"name": "Alice", "roles": ["admin", "dev"], "age": 42, "score": 1.5, "active": True, "x": None}
    url = redis_server.url + "?prefix=interop:"
    done = _c("write", url, "user:1", json.dumps(doc))
    assert done.returncode == 0, done.stderr
    cache = _native.NativeCache(url)
    try:
        assert cache.get("user:1") == doc
    finally:
        cache.close()


@pytest.mark.parametrize("serializer", ["msgpack", "json"])
def test_python_writes_c_reads(redis_server, serializer: str) -> None:
    url = redis_server.url + "?prefix=interop:"
    cache = _native.NativeCache(url, serializer=serializer)
    when = dt.datetime(2026, 11, 25, 12, 30, tzinfo=dt.timezone.utc)
    ident = uuid.UUID("12345678-9abc-def0-0123-456789abcdef")
    try:
        cache.set("order:7", {"id": 7, "items": (1, 2), "at": when, "day": when.date(), "ref": ident,
                              "total": Decimal("12.50"), "note": "zoë"})
    finally:
        cache.close()
    done = _c("read", url, "order:7")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "id": 7, "items": [1, 2], "at": "2026-11-25T12:30:00+00:00", "day": "2026-11-25",
        "ref": "12345678-9abc-def0-0123-456789abcdef", "total": "12.50", "note": "zoë"}
    assert _c("read", url, "absent").returncode == 3
