"""Configuration: environment, configure(), precedence, and errors that name the variable."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from stratacache import Cache, CacheConfigError, cached, configure, get_cache, get_sync_cache
from stratacache._config import resolve_settings

pytestmark = pytest.mark.usefixtures("clean_stratacache")


def test_defaults_without_environment() -> None:
    cache = get_sync_cache()
    assert cache.url == "mem://"
    assert not cache.l2_enabled
    assert cache.enabled and cache.fail_silently
    cache.set("k", 1)
    assert 298 <= cache.get_ttl("k") <= 300


def test_redis_url(redis_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("CACHE_TTL_DEFAULT", "42")
    monkeypatch.setenv("CACHE_KEY_PREFIX", "app:")

    async def main() -> None:
        cache = await get_cache()
        await cache.set("k", {"a": 1})
        assert redis_server.cli("EXISTS", "app:k") == "1"
        assert 40 <= int(redis_server.cli("TTL", "app:k")) <= 42

    asyncio.run(main())


def test_host_port_db_password(monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import start_redis

    server = start_redis("--requirepass", "s3cret:/@")
    try:
        monkeypatch.setenv("REDIS_HOST", "127.0.0.1")
        monkeypatch.setenv("REDIS_PORT", str(server.port))
        monkeypatch.setenv("REDIS_DB", "2")
        monkeypatch.setenv("REDIS_PASSWORD", "s3cret:/@")
        monkeypatch.setenv("CACHE_FAIL_SILENTLY", "false")
        cache = get_sync_cache()
        assert cache.url == f"redis://127.0.0.1:{server.port}/2"
        cache.set("k", 1)
        assert server.cli("-a", "s3cret:/@", "--no-auth-warning", "-n", "2", "EXISTS", "k") == "1"
    finally:
        server.kill9()


def test_pool_and_timeout_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_HOST", "localhost")
    monkeypatch.setenv("REDIS_POOL_SIZE", "3")
    monkeypatch.setenv("REDIS_SOCKET_TIMEOUT", "0.25")
    s = resolve_settings()
    assert s.url == "redis://localhost:6379/0"
    assert s.native_options == {"max_connections": "3", "socket_timeout": "0.25"}
    assert s.pool_size == 3
    # Query parameters of an explicit URL beat the environment; keywords beat both.
    s = resolve_settings("redis://h:1/0?socket_timeout=2", {"max_connections": 7})
    assert s.native_options == {"max_connections": "7"}
    assert s.pool_size == 7


@pytest.mark.parametrize("name,value", [
    ("REDIS_PORT", "http"), ("REDIS_PORT", "70000"), ("REDIS_DB", "-1"), ("REDIS_POOL_SIZE", "0"),
    ("REDIS_POOL_SIZE", "ten"), ("REDIS_SOCKET_TIMEOUT", "0"), ("REDIS_SOCKET_TIMEOUT", "soon"),
    ("CACHE_ENABLED", "maybe"), ("CACHE_TTL_DEFAULT", "-5"), ("CACHE_TTL_DEFAULT", "1h"),
    ("CACHE_FAIL_SILENTLY", "2"), ("CACHE_SERIALIZER", "yaml"),
])
def test_invalid_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(CacheConfigError, match=name):
        get_sync_cache()
    with pytest.raises(CacheConfigError, match=name):
        configure()


@pytest.mark.parametrize("text,expected", [("1", True), ("TRUE", True), ("yes", True), ("on", True),
                                           ("0", False), ("False", False), ("no", False), ("off", False)])
def test_boolean_spellings(monkeypatch: pytest.MonkeyPatch, text: str, expected: bool) -> None:
    monkeypatch.setenv("CACHE_ENABLED", text)
    monkeypatch.setenv("CACHE_FAIL_SILENTLY", text)
    s = resolve_settings()
    assert s.enabled is expected and s.fail_silently is expected


def test_configure_options_and_swap() -> None:
    cache = get_sync_cache()
    cache.set("before", 1)
    configure("mem://", default_ttl=30, l1_max_entries=1000, fail_silently=False, prefix="x:")
    assert get_sync_cache() is cache  # handed-out caches follow the new handle
    assert cache.get("before") is None  # new L1
    assert not cache.fail_silently
    cache.set("k", 1)
    assert 28 <= cache.get_ttl("k") <= 30
    with pytest.raises(CacheConfigError, match="socket_timeout"):
        configure("mem://", socket_timeout="soon")
    with pytest.raises(CacheConfigError, match="unknown URL parameter 'bogus'"):
        configure(bogus=1)
    with pytest.raises(CacheConfigError):
        Cache("redis://localhost:6379/0?socket_timeout=x")


def test_configure_is_seen_by_decorators(redis_server: Any) -> None:
    @cached(key_prefix="cfg")
    def f(x: int) -> int:
        return x

    configure(redis_server.url, prefix="p1:")
    f(1)
    configure(redis_server.url, prefix="p2:")
    f(1)
    assert redis_server.cli("EXISTS", "p1:cfg:1", "p2:cfg:1") == "2"


def test_pickle_needs_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CacheConfigError, match="pickle_secret"):
        Cache("mem://", serializer="pickle")
    monkeypatch.setenv("CACHE_SERIALIZER", "pickle")
    with pytest.raises(CacheConfigError, match="CACHE_PICKLE_SECRET"):
        get_sync_cache()
    monkeypatch.setenv("CACHE_PICKLE_SECRET", "k")
    assert get_sync_cache()._core.settings.serializer == "pickle"


def test_json_serializer(redis_server: Any) -> None:
    cache = Cache(redis_server.url, serializer="json")
    cache.set("k", {"a": [1, 2.0]})
    assert cache.get("k") == {"a": [1, 2.0]}
    cache.close()
