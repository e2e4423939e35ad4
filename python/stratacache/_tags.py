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
from collections.abc import Callable, Iterable
from typing import Any

from ._keys import CallTemplates, KeyTemplate
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

    __slots__ = ("call",)

    def __init__(self, func: Callable[..., Any], tags: Iterable[str]) -> None:
        listed = names(tags, "tags") or []
        templates = [KeyTemplate(t if isinstance(t, str) else t.decode()) for t in listed]
        for t in templates:
            if t.is_glob:
                raise ValueError(f"tag {t.template!r}: tags are exact names, not globs")
        self.call = CallTemplates(func, templates, "tag")

    def render(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[str]:
        arguments = self.call.arguments(args, kwargs)
        return [t.format(arguments) for t in self.call.templates]

    def spec(self, spec: LoadSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> LoadSpec:
        """``spec`` whose fills carry this call's tags."""
        tagged = copy.copy(spec)
        tagged.native = {**spec.native, "tags": self.render(args, kwargs)}
        return tagged
