"""``@cached`` and ``@invalidate_cache``.

``@cached`` stores a function's results under keys built from its arguments (see
``_keys``), on sync and async functions, methods, classmethods and staticmethods, bare
or called. The cache is resolved on every call (``cache=None``: the process-wide one),
so ``configure()`` after decoration takes effect, and ``enabled=False``
(``CACHE_ENABLED=false``) turns the decorator into a plain call. Exceptions are never
cached; ``None`` results are (unless ``negative_ttl`` is given: then None means "does
not exist", remembered for ``negative_ttl``). A hit costs one native ``get``; a miss is
read-through (``stratacache._read_through``): concurrent calls that miss the same key
run the function once in total, across threads, event loops and processes (a lease
in Redis; ``lock=False``: once per process). The caller that runs it gets its result
or its exception; the others wait and get the result, or ``CacheLoadError`` when it
raised. ``stale_ttl``, ``early_refresh``, ``soft_timeout`` and ``hard_timeout`` as in
``Cache.get_or_set``. With ``early_refresh`` every call goes through the read-through
path (the early refresh is decided there), not through a plain ``get``.

The wrapper has ``cache_info()`` (hits, misses; maxsize and currsize are None: the
cache is shared and bounded by bytes), ``cache_clear()`` (deletes this function's keys
from L1 and L2, and resets the counters; a coroutine for async functions),
``cache_key(*args, **kwargs)`` (the key a call would use) and ``__wrapped__``.

``@invalidate_cache(*patterns)`` runs the function and, only if it returned (or its
coroutine completed) without raising, invalidates each pattern in L1 and L2. Patterns
may name arguments (``"server:{server_id}"``, formatted with the call's arguments and
defaults, rendered exactly as in keys) and may be globs (``"server:*"``: any of
``*?[`` in the pattern's own text; substituted values are escaped). Exact patterns
delete one key; globs use ``clear_pattern``.
"""
from __future__ import annotations

import asyncio
import functools
import inspect
import keyword
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, NamedTuple, TypeVar, Union, cast, overload

from ._cache import AsyncCache, Cache
from ._config import TTL, ttl_seconds
from ._core import CacheCore
from ._keys import CallTemplates, KeyMaker, KeyTemplate, default_prefix, glob_escape, is_method_function
from ._native import MISSING, CacheConnectionError
from ._read_through import LoadSpec, aload, load
from ._tags import TagTemplates
from ._runtime import DEFAULT, default_core

__all__ = ["cached", "invalidate_cache", "CacheInfo"]

F = TypeVar("F", bound=Callable[..., Any])
TTLSpec = Union[TTL, Callable[[Any], Union[TTL, None]], None]


class CacheInfo(NamedTuple):
    """Like ``functools.lru_cache``'s: ``maxsize`` and ``currsize`` are always None."""

    hits: int
    misses: int
    maxsize: int | None
    currsize: int | None


class _Counters:
    __slots__ = ("hits", "misses")

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0


def _source(cache: Cache | AsyncCache | None) -> Any:
    if cache is None:
        return DEFAULT
    if not isinstance(cache, (Cache, AsyncCache)):
        raise TypeError(f"cache= must be a Cache, an AsyncCache or None, not {type(cache).__name__!r}")
    return cache


def _unwrap(obj: Any) -> tuple[Callable[..., Any], Callable[[Callable[..., Any]], Any] | None, bool | None]:
    """(function, rewrap, skip_first) for a function, classmethod or staticmethod."""
    if isinstance(obj, classmethod):
        return obj.__func__, classmethod, True
    if isinstance(obj, staticmethod):
        return obj.__func__, staticmethod, False
    if not callable(obj):
        raise TypeError(f"expected a function, got {type(obj).__name__!r}")
    return obj, None, None


def _is_async(func: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(func)


class _TTL:
    """``ttl=``: fixed seconds (checked at decoration) or a callable of the result."""

    __slots__ = ("seconds", "fn")

    def __init__(self, ttl: TTLSpec) -> None:
        self.fn: Callable[[Any], Any] | None = None
        self.seconds: float | None = None
        if callable(ttl):
            self.fn = ttl
        else:
            self.seconds = ttl_seconds(ttl)

    def for_result(self, result: Any) -> float | None:
        if self.fn is None:
            return self.seconds
        return ttl_seconds(self.fn(result), "ttl(result)")


@overload
def cached(func: F, /) -> F: ...
@overload
def cached(*, ttl: TTLSpec = ..., key_prefix: str | None = ..., key_builder: Callable[..., Any] | None = ...,
           cache: Cache | AsyncCache | None = ..., condition: Callable[[Any], Any] | None = ...,
           unless: Callable[[Any], Any] | None = ..., stale_ttl: TTL | None = ..., early_refresh: float = ...,
           lock: bool = ..., negative_ttl: TTL | None = ..., soft_timeout: TTL | None = ...,
           hard_timeout: TTL | None = ..., tags: Iterable[str] | None = ...) -> Callable[[F], F]: ...


def cached(func: Any = None, /, *, ttl: TTLSpec = None, key_prefix: str | None = None,
           key_builder: Callable[..., Any] | None = None, cache: Cache | AsyncCache | None = None,
           condition: Callable[[Any], Any] | None = None, unless: Callable[[Any], Any] | None = None,
           stale_ttl: TTL | None = None, early_refresh: float = 0, lock: bool = True,
           negative_ttl: TTL | None = None, soft_timeout: TTL | None = None, hard_timeout: TTL | None = None,
           tags: Iterable[str] | None = None) -> Any:
    """Cache the results of a function (sync or async) in L1 and L2.

    ``ttl``: seconds, a ``timedelta``, a callable of the result returning either, or
    None (the cache's default TTL; 0 = never expire). ``key_prefix``: default
    ``module.qualname``. ``key_builder``: called with the function's own arguments,
    returns the key part after ``"{key_prefix}:"``. ``cache``: a ``Cache`` or
    ``AsyncCache`` (default: the process-wide cache, looked up at call time).
    ``condition(result)``: store only if true. ``unless(result)``: don't store if true.
    ``stale_ttl``, ``early_refresh``, ``lock``, ``negative_ttl``, ``soft_timeout``,
    ``hard_timeout``: read-through settings, as for ``Cache.get_or_set``.
    ``tags``: templates such as ``"user:{user_id}"``, rendered from each call's
    arguments; the loaded value is written with them (``invalidate_tags``,
    ``@invalidate_cache(tags=...)``; docs/tags.md).
    """
    if func is not None and not callable(func) and not isinstance(func, (classmethod, staticmethod)):
        raise TypeError("@cached takes keyword arguments only, e.g. @cached(ttl=600)")
    spec = _TTL(ttl)
    loading = LoadSpec(ttl=spec.seconds, stale_ttl=stale_ttl, negative_ttl=negative_ttl, early_refresh=early_refresh,
                       soft_timeout=soft_timeout, hard_timeout=hard_timeout, lock=lock)
    source = _source(cache)
    if key_prefix is not None and not isinstance(key_prefix, str):
        raise TypeError(f"key_prefix must be str, not {type(key_prefix).__name__!r}")

    def decorate(obj: Any) -> Any:
        fn, rewrap, skip_first = _unwrap(obj)
        if skip_first is None:
            skip_first = is_method_function(fn)
        prefix = key_prefix if key_prefix is not None else default_prefix(fn)
        keys = KeyMaker(fn, prefix, skip_first, key_builder)
        make = _async_cached if _is_async(fn) else _sync_cached
        tagging = TagTemplates(fn, tags) if tags is not None else None
        wrapper = make(fn, keys, _Loading(spec, loading, condition, unless, tagging), source)
        return rewrap(wrapper) if rewrap is not None else wrapper

    return decorate(func) if func is not None else decorate


class _Loading:
    """What a decorated function's miss path needs: the read-through settings, the
    result's TTL and whether to store a result (``condition`` / ``unless``)."""

    __slots__ = ("spec", "ttl", "keep", "probe", "tags")

    def __init__(self, ttl: _TTL, spec: LoadSpec, condition: Callable[[Any], Any] | None,
                 unless: Callable[[Any], Any] | None, tags: TagTemplates | None = None) -> None:
        self.spec = spec
        self.tags = tags
        self.ttl = ttl.for_result if ttl.fn is not None else None  # None: the fixed ttl, in spec
        self.keep: Callable[[Any], bool] | None = None
        if condition is not None or unless is not None:
            def keep(result: Any) -> bool:
                return (condition is None or bool(condition(result))) and (unless is None or not unless(result))
            self.keep = keep
        # Without early refresh a hit is one plain get (stale and negative entries are
        # misses there); with it, every call asks the read-through path, which decides.
        self.probe = not spec.early_refresh

    def spec_for(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> LoadSpec:
        """The read-through settings of one call: with its rendered tags, if any."""
        return self.spec if self.tags is None else self.tags.spec(self.spec, args, kwargs)

    def hit_or_miss(self, counters: _Counters, hit: bool) -> None:
        if hit:
            counters.hits += 1
        else:
            counters.misses += 1


def _absorb_get(core: CacheCore, exc: CacheConnectionError) -> Any:
    if not core.fail_silently:
        raise exc
    core.absorbed("get", exc)
    return MISSING


# The hit path, generated per function with the function's own parameters (as
# dataclasses and namedtuple generate code): no *args tuple, no **kwargs dict, no
# key-builder call, the key rendered inline. Same behaviour as the generic wrappers
# below, which serve signatures with *args, **kwargs or keyword-only parameters.
_SYNC_TEMPLATE = """
def {name}({params}):
    _sc_core = _sc_source._core
    if _sc_core is None:
        _sc_core = _sc_default_core()
    if not _sc_core.enabled:
        return _sc_func({args})
    _sc_key = {key}
    try:
        _sc_value = _sc_core.get(_sc_key)
    except _sc_CacheConnectionError as _sc_exc:
        _sc_value = _sc_absorb_get(_sc_core, _sc_exc)
    if _sc_value is not _sc_MISSING:
        _sc_counters.hits += 1
        return _sc_value
    return _sc_load(_sc_core, _sc_key, {args_tuple}, {{}})
"""

_ASYNC_TEMPLATE = """
async def {name}({params}):
    _sc_core = _sc_source._core
    if _sc_core is None:
        _sc_core = _sc_default_core()
    if not _sc_core.enabled:
        return await _sc_func({args})
    _sc_key = {key}
    try:
        _sc_value = _sc_core.get(_sc_key, skip_l2=True)
        if _sc_value is _sc_MISSING and _sc_core.l2:
            _sc_value = await _sc_core.aget(_sc_key)
    except _sc_CacheConnectionError as _sc_exc:
        _sc_value = _sc_absorb_get(_sc_core, _sc_exc)
    if _sc_value is not _sc_MISSING:
        _sc_counters.hits += 1
        return _sc_value
    return await _sc_load(_sc_core, _sc_key, {args_tuple}, {{}})
"""


def _generate(template: str, func: Callable[..., Any], keys: KeyMaker, source: Any, counters: _Counters,
              load: Callable[..., Any]) -> Callable[..., Any] | None:
    inline = keys.inline()
    if inline is None:
        return None
    params, args, key, names = inline
    name = func.__name__
    if not name.isidentifier() or keyword.iskeyword(name) or name in keys.names or name.startswith("_sc_"):
        name = "wrapper"
    code = template.format(name=name, params=params, args=args, key=key,
                           args_tuple=f"({args},)" if args else "()")
    namespace: dict[str, Any] = {
        **names, "_sc_source": source, "_sc_default_core": default_core, "_sc_func": func,
        "_sc_CacheConnectionError": CacheConnectionError, "_sc_absorb_get": _absorb_get,
        "_sc_MISSING": MISSING, "_sc_counters": counters, "_sc_load": load, "__builtins__": {},
    }
    exec(compile(code, f"<stratacache @cached {func.__qualname__}>", "exec"), namespace)  # noqa: S102
    generated: Callable[..., Any] = namespace[name]
    return generated


def _sync_cached(func: Callable[..., Any], keys: KeyMaker, loading: _Loading, source: Any) -> Callable[..., Any]:
    make_key = keys.make
    counters = _Counters()
    clear_glob = glob_escape(keys.prefix) + ":*"
    keep, ttl_for, spec_for = loading.keep, loading.ttl, loading.spec_for

    def load_miss(core: CacheCore, key: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """After a get that missed: read-through."""
        counters.misses += 1
        return load(core, key, functools.partial(func, *args, **kwargs), spec_for(args, kwargs), keep, ttl_for)[0]

    def lookup(core: CacheCore, key: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Early refresh: every call is read-through."""
        value, hit = load(core, key, functools.partial(func, *args, **kwargs), spec_for(args, kwargs), keep, ttl_for)
        loading.hit_or_miss(counters, hit)
        return value

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        core = source._core
        if core is None:
            core = default_core()
        if not core.enabled:
            return func(*args, **kwargs)
        key = make_key(args, kwargs)
        if not loading.probe:
            return lookup(core, key, args, kwargs)
        try:
            value = core.get(key)
        except CacheConnectionError as exc:
            value = _absorb_get(core, exc)
        if value is not MISSING:
            counters.hits += 1
            return value
        return load_miss(core, key, args, kwargs)

    if loading.probe:
        wrapper = _generate(_SYNC_TEMPLATE, func, keys, source, counters, load_miss) or wrapper

    def cache_info() -> CacheInfo:
        return CacheInfo(counters.hits, counters.misses, None, None)

    def cache_clear() -> None:
        """Delete this function's entries (L1 and L2) and reset cache_info()."""
        core = source._core or default_core()
        counters.hits = counters.misses = 0
        try:
            core.native.clear_pattern(clear_glob)
        except CacheConnectionError as exc:
            if not core.fail_silently:
                raise
            core.absorbed("clear_pattern", exc)

    def cache_key(*args: Any, **kwargs: Any) -> str:
        """The key a call with these arguments uses."""
        return make_key(args, kwargs)

    functools.update_wrapper(wrapper, func)
    w = cast(Any, wrapper)
    w.cache_info, w.cache_clear, w.cache_key = cache_info, cache_clear, cache_key
    return wrapper


def _async_cached(func: Callable[..., Any], keys: KeyMaker, loading: _Loading, source: Any) -> Callable[..., Any]:
    make_key = keys.make
    counters = _Counters()
    clear_glob = glob_escape(keys.prefix) + ":*"
    afunc = cast(Callable[..., Awaitable[Any]], func)
    keep, ttl_for, spec_for = loading.keep, loading.ttl, loading.spec_for

    async def load_miss(core: CacheCore, key: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        counters.misses += 1
        return (await aload(core, key, functools.partial(afunc, *args, **kwargs), spec_for(args, kwargs), keep,
                            ttl_for))[0]

    async def lookup(core: CacheCore, key: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        value, hit = await aload(core, key, functools.partial(afunc, *args, **kwargs), spec_for(args, kwargs), keep,
                                 ttl_for)
        loading.hit_or_miss(counters, hit)
        return value

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        core = source._core
        if core is None:
            core = default_core()
        if not core.enabled:
            return await afunc(*args, **kwargs)
        key = make_key(args, kwargs)
        if not loading.probe:
            return await lookup(core, key, args, kwargs)
        try:
            value = core.get(key, skip_l2=True)  # L1 only: no network, no thread hop
            if value is MISSING and core.l2:
                value = await core.aget(key)
        except CacheConnectionError as exc:
            value = _absorb_get(core, exc)
        if value is not MISSING:
            counters.hits += 1
            return value
        return await load_miss(core, key, args, kwargs)

    if loading.probe:
        wrapper = _generate(_ASYNC_TEMPLATE, func, keys, source, counters, load_miss) or wrapper

    def cache_info() -> CacheInfo:
        return CacheInfo(counters.hits, counters.misses, None, None)

    async def cache_clear() -> None:
        """Delete this function's entries (L1 and L2) and reset cache_info()."""
        core = source._core or default_core()
        counters.hits = counters.misses = 0
        try:
            await core.aclear_pattern(clear_glob)
        except CacheConnectionError as exc:
            if not core.fail_silently:
                raise
            core.absorbed("clear_pattern", exc)

    def cache_key(*args: Any, **kwargs: Any) -> str:
        """The key a call with these arguments uses."""
        return make_key(args, kwargs)

    functools.update_wrapper(wrapper, func)
    w = cast(Any, wrapper)
    w.cache_info, w.cache_clear, w.cache_key = cache_info, cache_clear, cache_key
    return wrapper


# ---- invalidation ------------------------------------------------------------------

class _Invalidation:
    """The patterns (and tags) of one decorated function and how to fill them from a call."""

    __slots__ = ("keys", "tags")

    def __init__(self, func: Callable[..., Any], templates: list[KeyTemplate], tags: TagTemplates | None = None) -> None:
        self.keys = CallTemplates(func, templates, "invalidation pattern")
        self.tags = tags

    def targets(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[list[str], list[str]]:
        """(exact keys, glob patterns) for a call."""
        arguments = self.keys.arguments(args, kwargs)
        exact: list[str] = []
        globs: list[str] = []
        for t in self.keys.templates:
            (globs if t.is_glob else exact).append(t.format(arguments))
        return exact, globs


def _invalidation_calls(exact: list[str], globs: list[str], tags: list[str]) -> list[tuple[str, Any]]:
    """(operation, target) per target: one delete of the exact keys, a clear per glob,
    one invalidation of the tags."""
    calls: list[tuple[str, Any]] = [("delete", exact)] if exact else []
    calls += [("invalidate_tags", tags)] if tags else []
    return calls + [("clear_pattern", pattern) for pattern in globs]


def _invalidated(core: CacheCore, outcomes: list[BaseException | None]) -> None:
    """After every target was tried (one failing never skips the others): the first
    connection failure is raised or absorbed; any other error propagates."""
    failure: CacheConnectionError | None = None
    for outcome in outcomes:
        if isinstance(outcome, CacheConnectionError):
            failure = failure or outcome
        elif outcome is not None:
            raise outcome
    if failure is not None:
        if not core.fail_silently:
            raise failure
        core.absorbed("invalidate", failure)


def _invalidate(core: CacheCore, exact: list[str], globs: list[str], tags: list[str]) -> None:
    """(The core drops this process's L1 copies before it talks to Redis, so an outage
    still purges L1.)"""
    native = core.native
    calls: dict[str, Callable[[Any], Any]] = {"delete": native.delete, "clear_pattern": native.clear_pattern,
                                              "invalidate_tags": native.invalidate_tags}
    outcomes: list[BaseException | None] = []
    for op, target in _invalidation_calls(exact, globs, tags):
        try:
            calls[op](target)
            outcomes.append(None)
        except CacheConnectionError as exc:
            outcomes.append(exc)
    _invalidated(core, outcomes)


async def _ainvalidate(core: CacheCore, exact: list[str], globs: list[str], tags: list[str]) -> None:
    """_invalidate for coroutines: the targets are submitted together and awaited."""
    calls: dict[str, Callable[[Any], Awaitable[Any]]] = {"delete": core.adelete, "clear_pattern": core.aclear_pattern,
                                                         "invalidate_tags": core.ainvalidate_tags}
    results = await asyncio.gather(*(calls[op](target) for op, target in _invalidation_calls(exact, globs, tags)),
                                   return_exceptions=True)
    _invalidated(core, [r if isinstance(r, BaseException) else None for r in results])


def invalidate_cache(*patterns: str, cache: Cache | AsyncCache | None = None,
                     tags: Iterable[str] | None = None) -> Callable[[F], F]:
    """Invalidate ``patterns`` (formatted with the call's arguments) in L1 and L2 after
    the decorated function (sync or async) returns without raising; ``tags`` (templates
    rendered the same way) are invalidated too (docs/tags.md)."""
    if not patterns and not tags:
        raise ValueError("@invalidate_cache needs at least one key, pattern or tag")
    templates = [KeyTemplate(p) for p in patterns]
    source = _source(cache)

    def decorate(obj: Any) -> Any:
        fn, rewrap, _ = _unwrap(obj)
        plan = _Invalidation(fn, templates, TagTemplates(fn, tags) if tags else None)
        wrapper: Callable[..., Any]
        if _is_async(fn):
            afn = cast(Callable[..., Coroutine[Any, Any, Any]], fn)

            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                result = await afn(*args, **kwargs)
                core = source._core or default_core()
                if core.enabled:
                    exact, globs = plan.targets(args, kwargs)
                    await _ainvalidate(core, exact, globs, plan.tags.render(args, kwargs) if plan.tags else [])
                return result
            wrapper = async_wrapper
        else:
            def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
                result = fn(*args, **kwargs)
                core = source._core or default_core()
                if core.enabled:
                    exact, globs = plan.targets(args, kwargs)
                    _invalidate(core, exact, globs, plan.tags.render(args, kwargs) if plan.tags else [])
                return result
            wrapper = sync_wrapper
        functools.update_wrapper(wrapper, fn)
        return rewrap(wrapper) if rewrap is not None else wrapper

    return decorate
