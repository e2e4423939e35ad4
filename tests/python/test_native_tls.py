"""rediss://: the Python package over TLS against a real TLS redis-server."""
from __future__ import annotations

import pytest

import stratacache
from conftest import RedisProcess, TlsFiles


def test_cache_over_tls_end_to_end(tls_redis_server: RedisProcess, test_certificates: TlsFiles) -> None:
    url = f"{tls_redis_server.url}?ssl_ca_certs={test_certificates.ca_cert}"
    assert url.startswith("rediss://")
    writer = stratacache.Cache(url, fail_silently=False)
    writer.set("tls:k", {"value": [1, 2, 3]})
    writer.set("tls:big", b"x" * (1 << 20))
    # A second handle has its own L1: what it reads came from Redis over TLS.
    reader = stratacache.Cache(url, fail_silently=False)
    assert reader.get("tls:k") == {"value": [1, 2, 3]}
    assert reader.get("tls:big") == b"x" * (1 << 20)
    assert reader.delete("tls:k") == 1
    assert reader.get("tls:k") is None
    assert reader.stats()["l2"]["errors"] == 0
    writer.close()
    reader.close()


def test_untrusted_server_fails_closed(tls_redis_server: RedisProcess, test_certificates: TlsFiles) -> None:
    url = f"{tls_redis_server.url}?ssl_ca_certs={test_certificates.other_ca_cert}"
    cache = stratacache.Cache(url, fail_silently=False)
    with pytest.raises(stratacache.CacheAuthError, match="certificate verify failed"):
        cache.get("k")
    cache.close()


def test_tls_parameters_are_checked_at_open(test_certificates: TlsFiles) -> None:
    with pytest.raises(stratacache.CacheConfigError, match="ssl_ca_certs' needs TLS"):
        stratacache.Cache(f"redis://127.0.0.1:6379/0?ssl_ca_certs={test_certificates.ca_cert}")
    with pytest.raises(stratacache.CacheConfigError, match="/nonexistent/ca.pem"):
        stratacache.Cache("rediss://127.0.0.1:6379/0", ssl_ca_certs="/nonexistent/ca.pem")
