"""Cache keys from function arguments: stable across processes, never from ``hash()``.

``key = f"{key_prefix}:{part}"``. Without a ``key_builder``, ``part`` is the rendered
values of ``inspect.signature(func).bind(*args, **kwargs)`` with defaults applied,
in signature order, joined by ``":"``; the first parameter of a method
(``self``/``cls``) is left out; the contents of ``*args`` follow in order and those
of ``**kwargs`` as ``name=value`` sorted by name. So ``f(1)``, ``f(x=1)`` and (for
``def f(x=1)``) ``f()`` share one entry.

Rendering (:func:`render`): ``str`` as is; ``int``, ``bool``, ``None``, ``Decimal``,
``UUID`` with ``str()``; ``float`` with ``repr()``; date/time types with
``isoformat()``; an ``Enum`` by its value; ``bytes``/``bytearray`` as hex;
``list``/``tuple``/``dict``/``set``/``frozenset`` as canonical JSON (sorted keys,
sets sorted) of their rendered items; an object with ``__cache_key__()`` by its
result. Anything else raises ``TypeError``.

Note that ``str`` values are not escaped: ``f("a:b", "c")`` and ``f("a", "b:c")``
share a key. That keeps keys equal to what ``@invalidate_cache("p:{x}")`` formats.
"""
from __future__ import annotations

import datetime
import decimal
import enum
import inspect
import json
import string
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = ["render", "KeyMaker", "default_prefix", "glob_escape", "is_method_function", "KeyTemplate"]

_GLOB_CHARS: Final = frozenset("*?[]\\")
_GLOB_META: Final = frozenset("*?[")


def glob_escape(text: str) -> str:
    """``text`` as a Redis glob that matches only itself."""
    if not _GLOB_CHARS.intersection(text):
        return text
    return "".join("\\" + c if c in _GLOB_CHARS else c for c in text)


def _type_error(name: str, value: object) -> TypeError:
    return TypeError(f"cannot build a cache key from argument {name!r} of type {type(value).__name__!r}; "
                     "pass key_builder= or define __cache_key__")


def _jsonable(value: object, name: str) -> Any:
    """A JSON-ready form: JSON scalars stay typed (so 1 and "1" differ), containers
    recurse, everything else becomes its rendered text."""
    t = type(value)
    if t is str or t is int or t is bool or t is float or value is None:
        return value
    if t is list or t is tuple or isinstance(value, (list, tuple)):
        return [_jsonable(v, name) for v in value]  # type: ignore[attr-defined]
    if isinstance(value, Mapping):
        return {_render_other(k, name) if type(k) is not str else k: _jsonable(v, name) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        items = [_jsonable(v, name) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, separators=(",", ":")))
    return _render_other(value, name)


def _canonical_json(value: object, name: str) -> str:
    return json.dumps(_jsonable(value, name), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _render_other(value: object, name: str) -> str:
    cache_key = getattr(value, "__cache_key__", None)
    if cache_key is not None and callable(cache_key):
        result = cache_key()
        return result if isinstance(result, str) else render(result, name)
    if isinstance(value, enum.Enum):
        return render(value.value, name)
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return repr(float(value))
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (datetime.date, datetime.time)):  # datetime is a date
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (list, tuple, Mapping, set, frozenset)):
        return _canonical_json(value, name)
    raise _type_error(name, value)


def render(value: object, name: str = "?") -> str:
    """One argument value as key text (see the module doc). ``name`` is for errors."""
    t = type(value)
    if t is str:
        return value  # type: ignore[return-value]
    if t is int:
        return str(value)
    if value is None:
        return "None"
    return _render_other(value, name)


def default_prefix(func: Callable[..., Any]) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def is_method_function(func: Callable[..., Any]) -> bool:
    """Whether a plain function looks like a method defined in a class body whose first
    parameter is the instance or class (named self/cls/mcs/klass)."""
    parts = func.__qualname__.split(".")
    if len(parts) < 2 or parts[-2] == "<locals>":
        return False
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return False
    return bool(params) and params[0].kind in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD) \
        and params[0].name in ("self", "cls", "mcs", "klass")


class KeyMaker:
    """Builds the key text of one decorated function. ``make(args, kwargs)``."""

    __slots__ = ("prefix", "colon_prefix", "signature", "skip_first", "names", "n", "fast", "make", "has_builder")

    def __init__(self, func: Callable[..., Any], prefix: str, skip_first: bool,
                 key_builder: Callable[..., Any] | None = None) -> None:
        self.prefix = prefix
        self.colon_prefix = prefix + ":"
        self.signature = inspect.signature(func)
        self.skip_first = skip_first
        params = list(self.signature.parameters.values())
        simple = all(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
        self.names = tuple(p.name for p in params)
        self.n = len(params)
        # Only positional arguments covering every parameter: bind() would map them
        # one to one, so skip it (same result, a few microseconds less).
        self.fast = simple
        self.has_builder = key_builder is not None
        self.make: Callable[[tuple[Any, ...], dict[str, Any]], str]
        if key_builder is not None:
            self.make = self._builder(key_builder)
        elif simple and self.n - skip_first == 1:
            self.make = self._one_positional()
        elif simple:
            self.make = self._positional()
        else:
            self.make = self.bound

    def inline(self) -> tuple[str, str, str, dict[str, Any]] | None:
        """For a generated wrapper with the function's own parameters: (parameter list,
        call arguments, key expression, globals the expression needs), or None when the
        signature has anything but plain positional-or-keyword parameters, a name
        reserved for the generated code, or a key_builder is in use."""
        if self.has_builder or not self.fast:
            return None
        params = list(self.signature.parameters.values())
        if any(p.kind is not p.POSITIONAL_OR_KEYWORD or p.name.startswith("_sc_") for p in params):
            return None
        names: dict[str, Any] = {"_sc_cp": self.colon_prefix, "_sc_render": render, "_sc_str": str,
                                 "_sc_int": int, "_sc_type": type}
        decl: list[str] = []
        for i, p in enumerate(params):
            if p.default is p.empty:
                decl.append(p.name)
            else:
                names[f"_sc_d{i}"] = p.default
                decl.append(f"{p.name}=_sc_d{i}")
        parts = [f"(_sc_str({n}) if _sc_type({n}) is _sc_int else {n} if _sc_type({n}) is _sc_str "
                 f"else _sc_render({n}, {n!r}))" for n in self.names[int(self.skip_first):]]
        key = " + ':' + ".join(parts)
        return ", ".join(decl), ", ".join(self.names), "_sc_cp" + (" + " + key if key else ""), names

    def _builder(self, key_builder: Callable[..., Any]) -> Callable[[tuple[Any, ...], dict[str, Any]], str]:
        colon_prefix = self.colon_prefix

        def make(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
            part = key_builder(*args, **kwargs)
            return colon_prefix + (part if type(part) is str else render(part, "key_builder()"))
        return make

    def _one_positional(self) -> Callable[[tuple[Any, ...], dict[str, Any]], str]:
        colon_prefix, n, bound = self.colon_prefix, self.n, self.bound
        index = n - 1
        name = self.names[index]

        def make(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
            if kwargs or len(args) != n:
                return bound(args, kwargs)
            value = args[index]
            t = type(value)
            if t is int:
                return colon_prefix + str(value)
            if t is str:
                return colon_prefix + value  # type: ignore[no-any-return]
            return colon_prefix + render(value, name)
        return make

    def _positional(self) -> Callable[[tuple[Any, ...], dict[str, Any]], str]:
        colon_prefix, n, bound, skip = self.colon_prefix, self.n, self.bound, int(self.skip_first)
        names = self.names

        def make(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
            if kwargs or len(args) != n:
                return bound(args, kwargs)
            return colon_prefix + ":".join([render(args[i], names[i]) for i in range(skip, n)])
        return make

    def bound(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        """The general path: bind, apply defaults, render in signature order."""
        try:
            ba = self.signature.bind(*args, **kwargs)
        except TypeError:
            raise  # the call itself is wrong; the function would say the same
        ba.apply_defaults()
        parts: list[str] = []
        first = True
        for name, value in ba.arguments.items():
            if first:
                first = False
                if self.skip_first:
                    continue
            kind = self.signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                parts.extend(render(v, name) for v in value)
            elif kind is inspect.Parameter.VAR_KEYWORD:
                parts.extend(f"{k}={render(v, k)}" for k, v in sorted(value.items()))
            else:
                parts.append(render(value, name))
        return self.colon_prefix + ":".join(parts)


class _TemplateFormatter(string.Formatter):
    """Formats key templates: substituted values go through :func:`render` (so they
    equal the text in keys), glob-escaped when the template is a glob."""

    def __init__(self, escape: bool) -> None:
        self.escape = escape

    def format_field(self, value: Any, format_spec: str) -> str:
        text = format(value, format_spec) if format_spec else render(value, "template field")
        return glob_escape(text) if self.escape else text


class KeyTemplate:
    """One ``@invalidate_cache`` pattern, e.g. ``"server:{server_id}"`` or ``"user:*"``."""

    __slots__ = ("template", "is_glob", "fields", "_formatter")

    def __init__(self, template: str) -> None:
        if not isinstance(template, str):
            raise TypeError(f"invalidation pattern must be str, not {type(template).__name__!r}")
        self.template = template
        literal = []
        fields = []
        for text, field_name, _spec, _conv in string.Formatter().parse(template):
            literal.append(text)
            if field_name is not None:
                base = field_name.split(".", 1)[0].split("[", 1)[0]
                if not base or base.isdigit():
                    raise ValueError(f"invalidation pattern {template!r}: fields must name arguments, "
                                     f"e.g. '{{server_id}}', not '{{{field_name}}}'")
                fields.append(base)
        self.is_glob = any(_GLOB_META.intersection(t) for t in literal)
        self.fields = tuple(fields)
        self._formatter = _TemplateFormatter(self.is_glob)

    def format(self, arguments: Mapping[str, Any]) -> str:
        if not self.fields:
            return self.template
        try:
            return self._formatter.vformat(self.template, (), arguments)
        except KeyError as exc:
            raise KeyError(f"invalidation pattern {self.template!r} names {exc.args[0]!r}, "
                           "which is not an argument of this call") from None


class CallTemplates:
    """Templates of one decorated function, filled from each call's arguments (bound to
    its signature with defaults; ``**kwargs`` entries count as arguments). ``what``
    names the templates in errors ("invalidation pattern", "tag")."""

    __slots__ = ("templates", "signature", "needs_arguments", "var_keyword")

    def __init__(self, func: Callable[..., Any], templates: list[KeyTemplate], what: str) -> None:
        self.templates = templates
        self.signature = inspect.signature(func)
        params = self.signature.parameters
        var_kw = [p.name for p in params.values() if p.kind is p.VAR_KEYWORD]
        self.var_keyword = var_kw[0] if var_kw else None
        for t in templates:
            for name in t.fields:
                if name not in params and self.var_keyword is None:
                    raise ValueError(f"{what} {t.template!r} names {name!r}, "
                                     f"which is not a parameter of {func.__qualname__}{self.signature}")
        self.needs_arguments = any(t.fields for t in templates)

    def arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if not self.needs_arguments:
            return {}
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        if self.var_keyword is not None:
            extra = arguments.pop(self.var_keyword, {})
            arguments = {**extra, **arguments}
        return arguments
