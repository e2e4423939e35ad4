"""Tags and dependencies (docs/tags.md).

A write may name tags (``set(..., tags=["user:42"])``) and keys it depends on
(``depends_on=["user:42:profile"]``). ``invalidate_tags("user:42")`` removes every entry
written with the tag, from Redis and from every process's L1; writing, deleting or
invalidating a key removes the entries that depend on it, transitively.

``@cached(tags=["user:{user_id}"])`` renders its tag templates from each call's
arguments exactly as ``@invalidate_cache`` renders key templates (``_keys.KeyTemplate``:
parameters bound with their defaults), and the value the call loads is written with
those tags. Tags are exact names: a template may not contain glob characters.
"""
from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Iterable
from typing import Any

from ._keys import KeyTemplate
from ._read_through import LoadSpec

__all__ = ["TagTemplates", "names", "write_options"]


def names(values: Iterable[Any] | None, what: str) -> list[str | bytes] | None:
    """A list of tags or keys as the native layer takes them; None when empty."""
    if values is None:
        return None
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{what} must be a list of str, not a single {type(values).__name__} "
                        f"(write {what}=[{values!r}])")
    out = list(values)
    for v in out:
        if not isinstance(v, (str, bytes)):
            raise TypeError(f"{what} must hold str or bytes, not {type(v).__name__!r}")
    return out or None


def write_options(tags: Iterable[str] | None, depends_on: Iterable[Any] | None) -> dict[str, Any]:
    """The native keyword arguments of a write: only those given, so that an untagged
    write takes the native fast path."""
    out: dict[str, Any] = {}
    t = names(tags, "tags")
    if t:
        out["tags"] = t
    d = names(depends_on, "depends_on")
    if d:
        out["depends_on"] = d
    return out


class TagTemplates:
    """The tag templates of one decorated function, rendered per call."""

    __slots__ = ("templates", "signature", "needs_arguments", "var_keyword")

    def __init__(self, func: Callable[..., Any], tags: Iterable[str]) -> None:
        listed = names(tags, "tags") or []
        self.templates = [KeyTemplate(t if isinstance(t, str) else t.decode()) for t in listed]
        for t in self.templates:
            if t.is_glob:
                raise ValueError(f"tag {t.template!r}: tags are exact names, not globs")
        self.signature = inspect.signature(func)
        params = self.signature.parameters
        var_kw = [p.name for p in params.values() if p.kind is p.VAR_KEYWORD]
        self.var_keyword = var_kw[0] if var_kw else None
        for t in self.templates:
            for name in t.fields:
                if name not in params and self.var_keyword is None:
                    raise ValueError(f"tag {t.template!r} names {name!r}, "
                                     f"which is not a parameter of {func.__qualname__}{self.signature}")
        self.needs_arguments = any(t.fields for t in self.templates)

    def render(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[str]:
        arguments: dict[str, Any] = {}
        if self.needs_arguments:
            bound = self.signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            if self.var_keyword is not None:
                extra = arguments.pop(self.var_keyword, {})
                arguments = {**extra, **arguments}
        return [t.format(arguments) for t in self.templates]

    def spec(self, spec: LoadSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> LoadSpec:
        """``spec`` whose fills carry this call's tags."""
        tagged = copy.copy(spec)
        tagged.native = {**spec.native, "tags": self.render(args, kwargs)}
        return tagged
