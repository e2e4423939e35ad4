"""Typed JSON (TJ), the value notation of the cross-language matrix (docs/languages.md):
decoding to Python values, encoding them back, and the comparison the orchestrator uses."""
from __future__ import annotations

import datetime
import decimal
import json
import math
import uuid
from typing import Any

TAGS = ("$int", "$float", "$bytes", "$datetime", "$date", "$uuid", "$decimal", "$repeat")


def tag_of(value: Any) -> str | None:
    if isinstance(value, dict) and len(value) == 1:
        (key,) = value
        if key.startswith("$"):
            if key not in TAGS:
                raise ValueError(f"unknown TJ tag {key!r}")
            return key
    return None


def to_python(value: Any) -> Any:
    """A TJ value as the Python package's natural types."""
    tag = tag_of(value)
    if tag is not None:
        arg = value[tag]
        if tag == "$int":
            return int(arg)
        if tag == "$float":
            return float(arg)
        if tag == "$bytes":
            return bytes.fromhex(arg)
        if tag == "$datetime":
            return datetime.datetime.fromisoformat(arg)
        if tag == "$date":
            return datetime.date.fromisoformat(arg)
        if tag == "$uuid":
            return uuid.UUID(arg)
        if tag == "$decimal":
            return decimal.Decimal(arg)
        text, times = arg
        return text * times
    if isinstance(value, list):
        return [to_python(v) for v in value]
    if isinstance(value, dict):
        return {k: to_python(v) for k, v in value.items()}
    return value


def from_python(value: Any) -> Any:
    """A Python value read through the package as canonical TJ."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return {"$int": str(value)}
    if isinstance(value, float):
        return {"$float": repr(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": bytes(value).hex()}
    if isinstance(value, datetime.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"$date": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, decimal.Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, (list, tuple)):
        return [from_python(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("a map read back has a key that is not a string")
        return {k: from_python(v) for k, v in value.items()}
    raise TypeError(f"no TJ form for {type(value).__name__}")


def _instant(text: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"datetime {text!r} has no offset")
    return moment


def first_mismatch(expected: Any, actual: Any, path: str = "") -> str | None:
    """Where `actual` (canonical TJ from a reader) differs from `expected` (a case's TJ,
    $repeat expanded here), or None. Datetimes compare as instants; floats and integers
    by value; decimals by digits and scale; bytes and UUIDs ignoring hex case."""
    where = path or "value"
    tag = tag_of(expected)
    if tag == "$repeat":
        text, times = expected[tag]
        expected = text * times
        tag = None
    if tag is not None:
        got = tag_of(actual)
        if got != tag:
            return f"{where}: expected {tag}, got {_short(actual)}"
        a, b = expected[tag], actual[tag]
        try:
            if tag == "$int":
                same = int(a) == int(b)
            elif tag == "$float":
                x, y = float(a), float(b)
                same = x == y and math.copysign(1, x) == math.copysign(1, y)
            elif tag in ("$bytes", "$uuid"):
                same = a.lower() == b.lower()
            elif tag == "$datetime":
                same = _instant(a) == _instant(b)
            elif tag == "$date":
                same = datetime.date.fromisoformat(a) == datetime.date.fromisoformat(b)
            else:  # the same digits and scale ("12.50" is not "12.5"), in any notation
                same = decimal.Decimal(a).as_tuple() == decimal.Decimal(b).as_tuple()
        except (ValueError, TypeError, decimal.InvalidOperation) as exc:
            return f"{where}: {tag} {_short(b)} does not parse ({exc})"
        return None if same else f"{where}: expected {tag} {_short(a)}, got {_short(b)}"
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{where}: expected a list, got {_short(actual)}"
        if len(actual) != len(expected):
            return f"{where}: expected {len(expected)} items, got {len(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            if (m := first_mismatch(e, a, f"{path}[{i}]")) is not None:
                return m
        return None
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or tag_of(actual) is not None:
            return f"{where}: expected a map, got {_short(actual)}"
        if set(actual) != set(expected):
            diff = sorted(set(actual) ^ set(expected))[:3]
            return f"{where}: keys differ ({', '.join(map(repr, diff))})"
        for k in expected:
            if (m := first_mismatch(expected[k], actual[k], f"{path}.{k}" if path else k)) is not None:
                return m
        return None
    if type(actual) is not type(expected) or actual != expected:
        return f"{where}: expected {_short(expected)}, got {_short(actual)}"
    return None


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
