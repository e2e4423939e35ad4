"""Type stubs of ``stratacache._native`` (bindings/python; contract: docs/python-native-api.md)."""
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, NamedTuple, Protocol, final

from typing_extensions import Self, TypeAlias, disjoint_base

_Key: TypeAlias = str | bytes

ABI_VERSION: Final[int]

# The log hook (stratacache._logging): events wait in a bounded native buffer.
def log_install(min_level: int) -> None: ...
def log_remove() -> None: ...
def log_wait(timeout: float) -> tuple[list[tuple[int, str, str]], int]: ...

def version() -> str:
    """Version of the loaded libstratacache, e.g. ``'0.1.0'``."""

def library_path() -> str:
    """Path of the libstratacache shared library this module loaded."""

@final
class _MissingType:
    """Type of :data:`MISSING` (a falsy singleton)."""

    def __bool__(self) -> bool: ...

MISSING: Final[_MissingType]

class Ext(NamedTuple):
    """A MessagePack extension value of a type this module does not know."""

    type: int
    data: bytes

class CacheError(Exception): ...
class CacheConnectionError(CacheError): ...
class CacheTimeoutError(CacheConnectionError): ...
class CacheAuthError(CacheConnectionError): ...
class CacheConfigError(CacheError, ValueError): ...
class CacheValueError(CacheError, ValueError): ...
class CacheWrongTypeError(CacheError, TypeError): ...
class CacheLoadError(CacheError):
    """A read-through load failed: another caller's (its message carried here), or
    one whose lease was lost (STRATACACHE_ELOADFAILED, STRATACACHE_EABORTED)."""

# Bits of acquire's info.
INFO_STALE: Final[int]  # the value is from the stale period (a reload failed or timed out)
INFO_LOADED: Final[int]  # this call loaded and stored the value
INFO_REFRESH: Final[int]  # the lease is an early refresh; the value is fresh

class Completer:
    """One completion queue (``stratacache_queue``) for one event loop: watch
    ``fileno()`` for reading (``add_reader``), then call ``drain()`` on the loop's thread;
    it resolves the futures of ``NativeCache.*_async`` submissions there."""

    def __init__(self) -> None: ...
    def fileno(self) -> int:
        """The queue's eventfd: readable while completions wait."""
    def drain(self) -> int:
        """Run the waiting completions on this thread (resolving their futures); how many ran."""

class _Future(Protocol):
    """What a submission resolves: an ``asyncio.Future`` or anything with these methods."""

    def done(self) -> bool: ...
    def set_result(self, result: Any, /) -> None: ...
    def set_exception(self, exception: BaseException, /) -> None: ...

@final
class Lease:
    """The duty to load one key, from ``NativeCache.acquire``: consume it exactly once
    with ``fill``, ``fill_not_found``, ``abandon`` or ``fill_async``. Dropping it
    unconsumed abandons it (also after the cache was closed)."""

    @property
    def key(self) -> _Key: ...
    @property
    def refresh(self) -> bool:
        """An early refresh: the caller already has a fresh value, nobody waits."""
    @property
    def pending(self) -> bool:
        """True until the lease was consumed."""
    def fill(self, value: Any, ttl: float | None = None) -> bool:
        """Store value (encoded as ``set`` encodes) for ttl seconds (None: acquire's
        ttl) and hand it to the waiters. False: refused, the Redis lease had expired or
        been taken over (the waiters in this process still got the value)."""
    def fill_not_found(self) -> None:
        """The key does not exist: a negative entry for acquire's negative_ttl."""
    def abandon(self, message: str | None = None, *, retry: bool = False) -> None:
        """The load failed: the waiters get ``CacheLoadError(message)`` or their stale
        value; retry=True: they look again, one of them loading. A no-op once consumed."""
    def fill_async(self, completer: Completer, future: _Future, /, value: Any, ttl: float | None = None) -> None:
        """Submit fill(value, ttl); the future gets True or False."""
    def fill_not_found_async(self, completer: Completer, future: _Future, /) -> None:
        """Submit fill_not_found(); the future gets None."""

@disjoint_base
class NativeCache:
    """One stratacache handle (L1 in-process, L2 Redis) over the C ABI."""

    def __new__(
        cls,
        url: str,
        *,
        options: dict[str, str] | None = None,
        keys: list[tuple[int, bytes, bool]] | None = None,
        serializer: str = "msgpack",
        shared: str | None = None,
    ) -> Self: ...
    @property
    def l2_enabled(self) -> bool: ...
    @property
    def async_native(self) -> bool: ...
    @property
    def url(self) -> str: ...
    @property
    def serializer(self) -> str: ...
    def get(
        self, key: _Key, *, skip_l1: bool = False, skip_l2: bool = False, timeout: float | None = None
    ) -> Any: ...
    def get_many(
        self,
        keys: Sequence[_Key],
        *,
        skip_l1: bool = False,
        skip_l2: bool = False,
        timeout: float | None = None,
    ) -> list[Any]: ...
    # (found, indices of missing keys, indices of failed keys, the first failure or None)
    def warm(
        self, keys: Sequence[_Key], *, skip_l1: bool = False, skip_l2: bool = False, timeout: float | None = None
    ) -> tuple[int, list[int], list[int], CacheError | None]: ...
    def set(
        self,
        key: _Key,
        value: Any,
        ttl: float | None = None,
        *,
        skip_l1: bool = False,
        skip_l2: bool = False,
        timeout: float | None = None,
        tags: Sequence[_Key] | None = None,
        depends_on: Sequence[_Key] | None = None,
    ) -> None: ...
    def set_many(
        self,
        items: Mapping[_Key, Any] | Sequence[tuple[_Key, Any]],
        ttl: float | None = None,
        *,
        skip_l1: bool = False,
        skip_l2: bool = False,
        timeout: float | None = None,
        tags: Sequence[_Key] | None = None,
        depends_on: Sequence[_Key] | None = None,
    ) -> None: ...
    def invalidate_tags(self, tags: Sequence[_Key], *, timeout: float | None = None) -> int: ...
    def invalidate_tags_async(
        self, completer: Completer, future: _Future, /, tags: Sequence[_Key], *, timeout: float | None = None,
    ) -> None: ...
    def delete(
        self,
        keys: Sequence[_Key] | _Key,
        *,
        skip_l1: bool = False,
        skip_l2: bool = False,
        timeout: float | None = None,
    ) -> int: ...
    def exists(
        self, key: _Key, *, skip_l1: bool = False, skip_l2: bool = False, timeout: float | None = None
    ) -> bool: ...
    def ttl(
        self, key: _Key, *, skip_l1: bool = False, skip_l2: bool = False, timeout: float | None = None
    ) -> float | None: ...
    def increment(
        self,
        key: _Key,
        amount: int = 1,
        ttl: float | None = None,
        *,
        skip_l1: bool = False,
        skip_l2: bool = False,
        timeout: float | None = None,
    ) -> int: ...
    def clear_pattern(
        self,
        pattern: _Key,
        *,
        skip_l1: bool = False,
        skip_l2: bool = False,
        timeout: float | None = None,
    ) -> int: ...
    def health(self, timeout: float | None = None) -> dict[str, Any]: ...
    def server_info(self, timeout: float | None = None) -> dict[str, Any]: ...
    def stats(self) -> dict[str, Any]: ...
    def metrics(self) -> dict[str, Any]: ...
    def metrics_prometheus(self) -> str: ...
    def inspect(
        self, key: _Key, *, skip_l1: bool = False, skip_l2: bool = False, timeout: float | None = None,
    ) -> dict[str, Any] | None: ...
    def count_pattern(
        self, pattern: _Key, *, skip_l1: bool = False, skip_l2: bool = False, timeout: float | None = None,
    ) -> int: ...
    def flush_l1(self) -> None: ...
    # Submissions: X_async(completer, future, <X's arguments>) submits X and returns;
    # completer.drain() later resolves future with X's result or exception. A refused
    # submission (closed cache, bad argument) raises here and leaves future alone.
    def get_async(
        self, completer: Completer, future: _Future, /, key: _Key, *, skip_l1: bool = False,
        skip_l2: bool = False, timeout: float | None = None,
    ) -> None: ...
    def get_many_async(
        self, completer: Completer, future: _Future, /, keys: Sequence[_Key], *, skip_l1: bool = False,
        skip_l2: bool = False, timeout: float | None = None,
    ) -> None: ...
    def warm_async(
        self, completer: Completer, future: _Future, /, keys: Sequence[_Key], *, skip_l1: bool = False,
        skip_l2: bool = False, timeout: float | None = None,
    ) -> None: ...
    def set_async(
        self, completer: Completer, future: _Future, /, key: _Key, value: Any, ttl: float | None = None, *,
        skip_l1: bool = False, skip_l2: bool = False, timeout: float | None = None,
        tags: Sequence[_Key] | None = None, depends_on: Sequence[_Key] | None = None,
    ) -> None: ...
    def set_many_async(
        self, completer: Completer, future: _Future, /, items: Mapping[_Key, Any] | Sequence[tuple[_Key, Any]],
        ttl: float | None = None, *, skip_l1: bool = False, skip_l2: bool = False, timeout: float | None = None,
        tags: Sequence[_Key] | None = None, depends_on: Sequence[_Key] | None = None,
    ) -> None: ...
    def delete_async(
        self, completer: Completer, future: _Future, /, keys: Sequence[_Key] | _Key, *, skip_l1: bool = False,
        skip_l2: bool = False, timeout: float | None = None,
    ) -> None: ...
    def exists_async(
        self, completer: Completer, future: _Future, /, key: _Key, *, skip_l1: bool = False,
        skip_l2: bool = False, timeout: float | None = None,
    ) -> None: ...
    def ttl_async(
        self, completer: Completer, future: _Future, /, key: _Key, *, skip_l1: bool = False,
        skip_l2: bool = False, timeout: float | None = None,
    ) -> None: ...
    def increment_async(
        self, completer: Completer, future: _Future, /, key: _Key, amount: int = 1, ttl: float | None = None, *,
        skip_l1: bool = False, skip_l2: bool = False, timeout: float | None = None,
    ) -> None: ...
    def clear_pattern_async(
        self, completer: Completer, future: _Future, /, pattern: _Key, *, skip_l1: bool = False,
        skip_l2: bool = False, timeout: float | None = None,
    ) -> None: ...
    def health_async(self, completer: Completer, future: _Future, /, timeout: float | None = None) -> None: ...
    def server_info_async(self, completer: Completer, future: _Future, /, timeout: float | None = None) -> None: ...
    # Read-through: (value or MISSING, INFO_* bits, Lease or None). With a Lease this
    # caller loads the key (the value is then MISSING, stale, or fresh for an early
    # refresh); (MISSING, 0, None) is a negative entry. timeout bounds every wait.
    def acquire(
        self, key: _Key, *, ttl: float | None = None, stale_ttl: float | None = None,
        negative_ttl: float | None = None, early_refresh: float = 0.0, soft_timeout: float | None = None,
        timeout: float | None = None, lease_ttl: float | None = None, lock: bool = True, skip_l1: bool = False,
        tags: Sequence[_Key] | None = None,
    ) -> tuple[Any, int, Lease | None]: ...
    def acquire_async(
        self, completer: Completer, future: _Future, /, key: _Key, *, ttl: float | None = None,
        stale_ttl: float | None = None, negative_ttl: float | None = None, early_refresh: float = 0.0,
        soft_timeout: float | None = None, timeout: float | None = None, lease_ttl: float | None = None,
        lock: bool = True, skip_l1: bool = False, tags: Sequence[_Key] | None = None,
    ) -> None: ...
    def close(self) -> None: ...

WB_SET: Final[int]
WB_DELETE: Final[int]

class WriteAck:
    """The answer to one write-behind write: call it once with None (written) or why it failed."""

    def __call__(self, error: str | None = None) -> None: ...

class NativeWriteBehind:
    """A write-behind queue on a NativeCache (capi: stratacache_write_behind_*).
    ``dispatch(kind, key, value, attempt, ack)`` is called for each write: on a library
    worker thread (completer None) or in ``completer.drain()``; it must call ``ack``."""

    def __init__(self, cache: NativeCache, dispatch: Callable[[int, str, Any, int, WriteAck], None],
                 on_failure: Callable[[int, str, Any, str], None] | None, options: dict[str, Any],
                 completer: Completer | None) -> None: ...
    def set(self, key: str | bytes, value: Any, ttl_ms: int = -1) -> None: ...
    def delete(self, key: str | bytes) -> None: ...
    def flush(self, timeout_ms: int) -> bool: ...
    def close(self, timeout_ms: int) -> int: ...
    def stats(self) -> dict[str, int]: ...
    def last_error(self) -> str: ...
    @property
    def closed(self) -> bool: ...
# ---- distributed locks (register_lock.cpp; docs/locks.md) ----
class LockError(CacheError): ...
class LockNotOwnedError(LockError):
    """extend or release of a lock this caller no longer holds (STRATACACHE_EABORTED)."""

class LockNotAcquiredError(LockError, TimeoutError):
    """Still held by another owner when the wait ran out (STRATACACHE_ETIMEDOUT)."""

class NativeLock:
    """A held lock (``stratacache_lock``); dropping it releases it (best effort)."""

    @property
    def fence(self) -> int: ...
    @property
    def name(self) -> _Key: ...
    @property
    def held(self) -> bool: ...
    def extend(self, ttl_ms: int) -> None: ...
    def release(self) -> None: ...
    def extend_async(self, completer: Completer, future: _Future, ttl_ms: int) -> None: ...
    def release_async(self, completer: Completer, future: _Future) -> None: ...

def lock_acquire(cache: NativeCache, name: _Key, ttl_ms: int, wait_ms: int, timeout_ms: int = -1) -> NativeLock: ...
def lock_acquire_async(
    completer: Completer, future: _Future, cache: NativeCache, name: _Key, ttl_ms: int, wait_ms: int,
    timeout_ms: int = -1,
) -> None: ...
