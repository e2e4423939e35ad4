"""Type stubs of ``stratacache._native`` (bindings/python; contract: docs/python-native-api.md)."""
from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple, Protocol, final

from typing_extensions import Self, TypeAlias, disjoint_base

_Key: TypeAlias = str | bytes

ABI_VERSION: Final[int]

def version() -> str:
    """Version of the loaded libstratacache, e.g. ``'0.1.0'``."""

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
    def set(
        self,
        key: _Key,
        value: Any,
        ttl: float | None = None,
        *,
        skip_l1: bool = False,
        skip_l2: bool = False,
        timeout: float | None = None,
    ) -> None: ...
    def set_many(
        self,
        items: Mapping[_Key, Any] | Sequence[tuple[_Key, Any]],
        ttl: float | None = None,
        *,
        skip_l1: bool = False,
        skip_l2: bool = False,
        timeout: float | None = None,
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
    def stats(self) -> dict[str, Any]: ...
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
    def set_async(
        self, completer: Completer, future: _Future, /, key: _Key, value: Any, ttl: float | None = None, *,
        skip_l1: bool = False, skip_l2: bool = False, timeout: float | None = None,
    ) -> None: ...
    def set_many_async(
        self, completer: Completer, future: _Future, /, items: Mapping[_Key, Any] | Sequence[tuple[_Key, Any]],
        ttl: float | None = None, *, skip_l1: bool = False, skip_l2: bool = False, timeout: float | None = None,
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
    def close(self) -> None: ...
