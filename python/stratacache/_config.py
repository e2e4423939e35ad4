"""Settings: from the environment, a URL and keyword options, in that order of strength.

Precedence, strongest first: keyword options of ``configure()`` / ``Cache()``, the
query parameters of an explicit URL, the environment, the library defaults. An
explicit ``url`` replaces ``REDIS_URL`` and ``REDIS_HOST``/``PORT``/``DB``/``PASSWORD``.

Environment (read when settings are resolved, i.e. on first use, ``configure()`` and
``Cache(...)``):

========================  ============================  ============================
variable                  default                       becomes
========================  ============================  ============================
REDIS_URL                 unset: embedded ``mem://``    the URL
REDIS_HOST/PORT/DB        localhost / 6379 / 0          ``redis://host:port/db``,
REDIS_PASSWORD            -                             only if one of them is set
REDIS_POOL_SIZE           10                            ``max_connections``
REDIS_SOCKET_TIMEOUT      5 (seconds)                   ``socket_timeout``
CACHE_ENABLED             true                          decorators call through if false
CACHE_TTL_DEFAULT         300 (seconds, 0 = never)      ``default_ttl``
CACHE_FAIL_SILENTLY       true                          absorb connection errors
CACHE_KEY_PREFIX          ""                            ``prefix`` (Redis namespace)
CACHE_SERIALIZER          msgpack                       msgpack, json or pickle
CACHE_PICKLE_SECRET       -                             HMAC secret for ``pickle``
========================  ============================  ============================

A bad value raises :class:`CacheConfigError` naming the variable.
"""
from __future__ import annotations

import datetime
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Union
from urllib.parse import parse_qsl, urlsplit

from ._native import CacheConfigError

__all__ = ["Settings", "resolve_settings", "ttl_seconds", "TTL", "EncryptionKey"]

TTL = Union[int, float, datetime.timedelta]
"""A time to live: seconds (fractions allowed) or a ``timedelta``."""

EncryptionKey = tuple[int, bytes, bool]
"""``(key id, 32-byte AES-256 key, primary)``."""

SERIALIZERS: Final = ("msgpack", "json", "pickle")
DEFAULT_POOL_SIZE: Final = 10

_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})



@dataclass(frozen=True)
class Settings:
    """Everything needed to open one native handle and run the Python layer on it."""

    url: str = "mem://"
    enabled: bool = True
    fail_silently: bool = True
    serializer: str = "msgpack"
    pickle_secret: bytes | None = None
    encryption_keys: tuple[EncryptionKey, ...] = ()
    native_options: Mapping[str, str] = field(default_factory=dict)
    pool_size: int = DEFAULT_POOL_SIZE
    shared: str | None = None  # the name of a process-wide shared cache

    @property
    def native_serializer(self) -> str:
        # The signed-pickle layer stores opaque bytes.
        return "raw" if self.serializer == "pickle" else self.serializer


def ttl_seconds(ttl: TTL | None, what: str = "ttl") -> float | None:
    """Seconds from a TTL (None stays None: the cache's default TTL). Negative, NaN,
    infinite and non-numeric values raise."""
    if ttl is None:
        return None
    if isinstance(ttl, datetime.timedelta):
        seconds = ttl.total_seconds()
    elif isinstance(ttl, (int, float)) and not isinstance(ttl, bool):
        seconds = float(ttl)
    else:
        raise TypeError(f"{what} must be seconds (int or float), a timedelta or None, not {type(ttl).__name__!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{what} must be finite and >= 0 seconds, got {ttl!r}")
    return seconds


def _option_text(name: str, value: object) -> str:
    """A keyword option as the URL parameter text the native layer parses."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.timedelta):
        value = ttl_seconds(value, name)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (int, str)):
        return str(value)
    raise TypeError(f"option {name!r} must be str, int, float, bool or timedelta, not {type(value).__name__!r}")


def _env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CacheConfigError(f"{name}: expected true/false (1/0, yes/no, on/off), got {raw!r}")


def _env_number(env: Mapping[str, str], name: str, *, integer: bool, minimum: float, allow_min: bool) -> str | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    try:
        value = float(int(text)) if integer else float(text)
    except ValueError:
        value = math.nan
    ok = math.isfinite(value) and (value > minimum or (allow_min and value == minimum))
    if not ok:
        kind = "an integer" if integer else "a number of seconds"
        bound = (">= " if allow_min else "> ") + str(int(minimum))
        raise CacheConfigError(f"{name}: expected {kind} {bound}, got {raw!r}")
    return text


def _env_url(env: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The URL (and the password as an option, so it needs no URL escaping)."""
    url = env.get("REDIS_URL", "").strip()
    if url:
        return url, {}
    names = ("REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_PASSWORD")
    if not any(env.get(n) for n in names):
        return "mem://", {}
    host = env.get("REDIS_HOST", "").strip() or "localhost"
    if any(c in host for c in "/?#@ ") or (":" in host and not host.startswith("[")):
        raise CacheConfigError(f"REDIS_HOST: expected a host name or address, got {host!r}")
    port = _env_number(env, "REDIS_PORT", integer=True, minimum=0, allow_min=False) or "6379"
    if int(port) > 65535:
        raise CacheConfigError(f"REDIS_PORT: expected an integer 1..65535, got {port!r}")
    db = _env_number(env, "REDIS_DB", integer=True, minimum=0, allow_min=True) or "0"
    extra: dict[str, str] = {}
    password = env.get("REDIS_PASSWORD")
    if password:
        extra["password"] = password
    return f"redis://{host}:{port}/{db}", extra


def _url_params(url: str) -> set[str]:
    try:
        return {name for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
    except ValueError as exc:
        raise CacheConfigError(f"bad URL {url!r}: {exc}") from None


def _secret(value: object, what: str) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.encode()
    if not isinstance(value, (bytes, bytearray)):
        raise TypeError(f"{what} must be str or bytes, not {type(value).__name__!r}")
    if len(value) == 0:
        return None
    return bytes(value)


def _encryption_keys(value: object) -> tuple[EncryptionKey, ...]:
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise TypeError("encryption_keys must be a sequence of (key_id, 32-byte key, primary) tuples")
    keys: list[EncryptionKey] = []
    for item in value:
        if not (isinstance(item, tuple) and len(item) == 3):
            raise TypeError("encryption_keys must be a sequence of (key_id, 32-byte key, primary) tuples")
        key_id, key, primary = item
        keys.append((int(key_id), bytes(key), bool(primary)))
    return tuple(keys)


def resolve_settings(url: str | None = None, options: Mapping[str, Any] | None = None,
                     environ: Mapping[str, str] | None = None) -> Settings:
    """Settings for one handle: ``options`` over the URL's query over the environment.

    Raises CacheConfigError for bad environment values or a pickle serializer without
    a secret. Bad URL parameters are found by the native layer when the handle opens.
    """
    env = os.environ if environ is None else environ
    options = dict(options or {})

    # Environment layer.
    if url is None:
        url, native = _env_url(env)
    else:
        native = {}
    env_native = {
        "max_connections": _env_number(env, "REDIS_POOL_SIZE", integer=True, minimum=1, allow_min=True),
        "socket_timeout": _env_number(env, "REDIS_SOCKET_TIMEOUT", integer=False, minimum=0, allow_min=False),
        "default_ttl": _env_number(env, "CACHE_TTL_DEFAULT", integer=False, minimum=0, allow_min=True),
        "prefix": env.get("CACHE_KEY_PREFIX") or None,
    }
    in_url = _url_params(url)
    for name, text in env_native.items():
        if text is not None and name not in in_url:
            native[name] = text
    enabled = _env_bool(env, "CACHE_ENABLED", True)
    fail_silently = _env_bool(env, "CACHE_FAIL_SILENTLY", True)
    serializer = (env.get("CACHE_SERIALIZER") or "").strip().lower() or None
    if serializer is not None and serializer not in SERIALIZERS:
        raise CacheConfigError(f"CACHE_SERIALIZER: expected msgpack, json or pickle, got {env['CACHE_SERIALIZER']!r}")
    secret = _secret(env.get("CACHE_PICKLE_SECRET"), "CACHE_PICKLE_SECRET")
    if serializer is None and "serializer" in in_url:
        serializer = dict(parse_qsl(urlsplit(url).query))["serializer"]

    # Keyword layer.
    if "enabled" in options:
        enabled = bool(options.pop("enabled"))
    if "fail_silently" in options:
        fail_silently = bool(options.pop("fail_silently"))
    if "serializer" in options:
        serializer = options.pop("serializer")
        if serializer not in SERIALIZERS:
            raise CacheConfigError(f"serializer: expected msgpack, json or pickle, got {serializer!r}")
    if "pickle_secret" in options:
        secret = _secret(options.pop("pickle_secret"), "pickle_secret")
    keys = _encryption_keys(options.pop("encryption_keys", None))
    shared = options.pop("shared", None)
    if shared is not None and not isinstance(shared, str):
        raise CacheConfigError(f"shared: expected the name of a shared cache (str), got {shared!r}")
    for name, value in options.items():
        if value is not None:
            native[name] = _option_text(name, value)

    serializer = serializer or "msgpack"
    if serializer == "pickle" and secret is None:
        raise CacheConfigError("serializer 'pickle' needs pickle_secret (or CACHE_PICKLE_SECRET): "
                               "unsigned pickles are never loaded")
    # The URL's own `serializer=` would fight the one we pass to the handle.
    native.pop("serializer", None)

    pool = native.get("max_connections") or dict(parse_qsl(urlsplit(url).query)).get("max_connections")
    try:
        pool_size = max(1, int(pool)) if pool else DEFAULT_POOL_SIZE
    except ValueError:
        pool_size = DEFAULT_POOL_SIZE  # the native layer reports the bad parameter
    return Settings(url=url, enabled=enabled, fail_silently=fail_silently, serializer=serializer,
                    pickle_secret=secret, encryption_keys=keys, native_options=native, pool_size=pool_size,
                    shared=shared)
