"""``@cache_update``: write-through in the JetCache ``@CacheUpdate`` style.

    @cache_update("user:{user_id}")
    def save_user(user_id: int, data: dict) -> dict:
        db.save(user_id, data)
        return data                      # cached under "user:<user_id>"

    @cache_update("user:{user_id}", value="data")
    async def save_user(user_id: int, data: dict) -> None: ...   # caches the argument

The decorated function (sync or async) writes the store; after it returns, the value
is written to the cache under the key template formatted with the call's arguments
(the templates of ``@invalidate_cache``, rendered like ``@cached`` keys; globs are
refused). The value is the function's return value, or with ``value="name"`` the
argument of that name. ``ttl`` as for ``cache.set``.

If the function raises, nothing is cached and the key is deleted from the cache (then
the exception propagates): a store write that failed may still have happened (a
timeout after the commit), so the cache keeps no copy that could differ from the
store; the next read loads it. A cache failure after the store write succeeded is
absorbed (counted, logged) when the cache has ``fail_silently``, else raised.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

from ._cache import AsyncCache, Cache
from ._config import TTL, ttl_seconds
from ._core import CacheCore
from ._decorators import _is_async, _source, _unwrap
from ._keys import CallTemplates, KeyTemplate
from ._native import CacheConnectionError
from ._runtime import default_core

__all__ = ["cache_update"]

F = TypeVar("F", bound=Callable[..., Any])


class _Update:
    """The key template and value source of one decorated function."""

    __slots__ = ("plan", "value_arg", "ttl")

    def __init__(self, fn: Callable[..., Any], template: KeyTemplate, value_arg: str | None, ttl: float | None) -> None:
        if template.is_glob:
            raise ValueError(f"@cache_update key {template.template!r} is a glob; it must name one key")
        self.plan = CallTemplates(fn, [template], "@cache_update key")
        if value_arg is not None and value_arg not in self.plan.signature.parameters:
            raise ValueError(f"@cache_update(value={value_arg!r}) is not a parameter of "
                             f"{fn.__qualname__}{self.plan.signature}")
        self.value_arg = value_arg
        self.ttl = ttl

    def key(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        return self.plan.templates[0].format(self.plan.arguments(args, kwargs))

    def value(self, result: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self.value_arg is None:
            return result
        bound = self.plan.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return bound.arguments[self.value_arg]


def _absorbed(core: CacheCore, op: str, exc: CacheConnectionError) -> None:
    if not core.fail_silently:
        raise exc
    core.absorbed(op, exc)


def cache_update(key: str, *, value: str | None = None, ttl: TTL | None = None,
                 cache: Cache | AsyncCache | None = None) -> Callable[[F], F]:
    """Write-through: run the function (which writes the store), then cache its return
    value (or the argument named by ``value``) under ``key`` formatted with the call's
    arguments. If it raises, the key is deleted from the cache instead."""
    template = KeyTemplate(key)
    seconds = ttl_seconds(ttl)
    source = _source(cache)

    def decorate(obj: Any) -> Any:
        fn, rewrap, _ = _unwrap(obj)
        update = _Update(fn, template, value, seconds)
        wrapper: Callable[..., Any]
        if _is_async(fn):
            afn = cast(Callable[..., Coroutine[Any, Any, Any]], fn)

            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                k = update.key(args, kwargs)
                core = source._core or default_core()
                try:
                    result = await afn(*args, **kwargs)
                except BaseException:
                    if core.enabled:
                        try:
                            await core.adelete([k])
                        except CacheConnectionError as exc:
                            core.absorbed("delete", exc)
                    raise
                if core.enabled:
                    try:
                        await core.aset(k, update.value(result, args, kwargs), update.ttl)
                    except CacheConnectionError as exc:
                        _absorbed(core, "set", exc)
                return result
            wrapper = async_wrapper
        else:
            def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
                k = update.key(args, kwargs)
                core = source._core or default_core()
                try:
                    result = fn(*args, **kwargs)
                except BaseException:
                    if core.enabled:
                        try:
                            core.native.delete([k])
                        except CacheConnectionError as exc:
                            core.absorbed("delete", exc)
                    raise
                if core.enabled:
                    try:
                        core.set(k, update.value(result, args, kwargs), update.ttl)
                    except CacheConnectionError as exc:
                        _absorbed(core, "set", exc)
                return result
            wrapper = sync_wrapper
        functools.update_wrapper(wrapper, fn)
        return rewrap(wrapper) if rewrap is not None else wrapper

    return decorate
