"""serializer="pickle": opt-in, signed with HMAC-SHA256, never loaded unverified."""
from __future__ import annotations

import asyncio
import dataclasses
import pickle
import subprocess
from typing import Any

import pytest

from stratacache import AsyncCache, Cache, CacheConfigError, cached
from stratacache._serializers import MAGIC

pytestmark = pytest.mark.usefixtures("clean_stratacache")


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


class Exploding:
    def __reduce__(self) -> Any:
        return (subprocess.call, (["false"],))


def _raw(redis_server: Any, key: str) -> bytes:
    out = subprocess.run(["redis-cli", "-p", str(redis_server.port), "--no-raw", "GET", key],
                         capture_output=True, check=True)
    return out.stdout


def test_round_trip_and_decorator(redis_server: Any) -> None:
    cache = Cache(redis_server.url, serializer="pickle", pickle_secret="s3cret")
    cache.set("p", Point(1, 2))
    cache.flush_local()
    assert cache.get("p") == Point(1, 2)
    assert cache.get_many(["p", "q"]) == {"p": Point(1, 2)}
    cache.set_many({"q": {1, 2}})  # sets are fine with pickle
    assert cache.get("q") == {1, 2}

    @cached(cache=cache, key_prefix="pt")
    def make(x: int) -> Point:
        return Point(x, x)

    assert make(3) == make(3) == Point(3, 3)
    assert make.cache_info().hits == 1  # type: ignore[attr-defined]

    async def main() -> None:
        acache = AsyncCache(redis_server.url, serializer="pickle", pickle_secret=b"s3cret")
        assert await acache.get("p") == Point(1, 2)
        await acache.close()

    asyncio.run(main())
    assert cache.stats()["values_rejected"] == 0
    cache.close()


def test_tampered_or_unsigned_values_are_misses(redis_server: Any) -> None:
    cache = Cache(redis_server.url, serializer="pickle", pickle_secret="s3cret")
    other = Cache(redis_server.url, serializer="pickle", pickle_secret="another")
    raw = Cache(redis_server.url, serializer="raw" if False else "msgpack")
    cache.set("p", Point(1, 2))

    # Signed with another secret: a miss.
    other.set("o", Point(3, 4))
    assert cache.get("o") is None

    # Copied under another key: the key is signed too.
    blob = cache._core.native.get("p")
    assert isinstance(blob, bytes) and blob.startswith(MAGIC)
    cache._core.native.set("moved", blob)
    assert cache.get("moved") is None

    # A valid pickle without a signature, or with a flipped byte, is never loaded.
    evil = pickle.dumps(Exploding())
    cache._core.native.set("evil", evil)
    assert cache.get("evil", default="miss") == "miss"
    cache._core.native.set("flipped", blob[:-1] + bytes([blob[-1] ^ 1]))
    assert cache.get("flipped") is None
    assert cache.stats()["values_rejected"] == 4

    # Plain data decoded by the native layer is data, not a pickle.
    raw.set("plain", {"a": 1})
    assert cache.get("plain") == {"a": 1}
    for c in (cache, other, raw):
        c.close()


def test_missing_secret() -> None:
    with pytest.raises(CacheConfigError):
        Cache("mem://", serializer="pickle")
    with pytest.raises(CacheConfigError):
        Cache("mem://", serializer="pickle", pickle_secret="")
    with pytest.raises(CacheConfigError):
        Cache("mem://", serializer="yaml")
