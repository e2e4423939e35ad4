"""stratacache._native: the Python <-> MessagePack / JSON type table
(docs/python-native-api.md), through L1 (mem://) and through Redis (L1 skipped)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import socket
import typing
import uuid
from typing import Any

import pytest

from stratacache import _native
from stratacache._native import MISSING, Ext, NativeCache

UTC = dt.timezone.utc
PLUS_2 = dt.timezone(dt.timedelta(hours=2))


@dataclasses.dataclass
class Point:
    x: int
    y: float


@dataclasses.dataclass
class Shape:
    name: str
    points: list[Point]
    tags: tuple[str, ...] = ()


class FakeModel:
    """What pydantic v2 models offer: model_dump() -> dict."""

    def __init__(self, **fields: Any) -> None:
        self.fields = fields

    def model_dump(self) -> dict[str, Any]:
        return dict(self.fields)


def _nested(levels: int) -> list[Any]:
    v: list[Any] = []
    for _ in range(levels - 1):
        v = [v]
    return v


NESTED_64 = _nested(64)
U = uuid.UUID("12345678-1234-5678-1234-567812345678")
NOW = dt.datetime(2026, 11, 25, 12, 30, 15, 123456)

# (value, msgpack reads back, JSON reads back); a type in the JSON column is the error.
CASES: list[tuple[str, Any, Any, Any]] = [
    ("none", None, None, None),
    ("true", True, True, True),
    ("false", False, False, False),
    ("zero", 0, 0, 0),
    ("small_neg", -5, -5, -5),
    ("int8", -100, -100, -100),
    ("uint16", 60000, 60000, 60000),
    ("int32", -(2**31), -(2**31), -(2**31)),
    ("int64_max", 2**63 - 1, 2**63 - 1, 2**63 - 1),
    ("int64_min", -(2**63), -(2**63), -(2**63)),
    ("uint64_max", 2**64 - 1, 2**64 - 1, 2**64 - 1),
    ("float_whole", 1.0, 1.0, 1.0),
    ("float", -2.5e-300, -2.5e-300, -2.5e-300),
    ("float_big", 1e300, 1e300, 1e300),
    ("str_empty", "", "", ""),
    ("str_unicode", "héllo wörld ✓ 😀", "héllo wörld ✓ 😀", "héllo wörld ✓ 😀"),
    ("str_escapes", 'quote" back\\ nl\n tab\t nul\x00 bell\x07 del\x7f', 'quote" back\\ nl\n tab\t nul\x00 bell\x07 del\x7f',
     'quote" back\\ nl\n tab\t nul\x00 bell\x07 del\x7f'),
    ("str_long", "x" * 70000, "x" * 70000, "x" * 70000),
    ("bytes", b"\x00\xff\x80bin", b"\x00\xff\x80bin", TypeError),
    ("bytes_long", b"\x01" * 70000, b"\x01" * 70000, TypeError),
    ("bytearray", bytearray(b"ba"), b"ba", TypeError),
    ("memoryview", memoryview(b"mv"), b"mv", TypeError),
    ("memoryview_strided", memoryview(b"abcdef")[::2], b"ace", TypeError),
    ("list", [1, "two", 3.0, None, [4, [5]]], [1, "two", 3.0, None, [4, [5]]], [1, "two", 3.0, None, [4, [5]]]),
    ("list_long", list(range(70000)), list(range(70000)), list(range(70000))),
    ("tuple", (1, (2, 3)), [1, [2, 3]], [1, [2, 3]]),
    ("dict", {"a": {"b": [1, {"c": None}]}, "": 0}, {"a": {"b": [1, {"c": None}]}, "": 0},
     {"a": {"b": [1, {"c": None}]}, "": 0}),
    ("dict_big", {f"k{i}": i for i in range(70000)}, {f"k{i}": i for i in range(70000)},
     {f"k{i}": i for i in range(70000)}),
    ("dict_keys", {1: "int", 2.5: "float", True: "bool", None: "none", b"b": "bytes", "s": "str"},
     {1: "int", 2.5: "float", True: "bool", None: "none", b"b": "bytes", "s": "str"}, TypeError),
    ("datetime_naive", NOW, NOW, NOW.isoformat()),
    ("datetime_utc", NOW.replace(tzinfo=UTC), NOW.replace(tzinfo=UTC), "2026-11-25T12:30:15.123456+00:00"),
    ("datetime_offset", NOW.replace(tzinfo=PLUS_2, microsecond=0), NOW.replace(tzinfo=PLUS_2, microsecond=0),
     "2026-11-25T12:30:15+02:00"),
    ("date", dt.date(2026, 11, 25), dt.date(2026, 11, 25), "2026-11-25"),
    ("uuid", U, U, "12345678-1234-5678-1234-567812345678"),
    ("decimal", decimal.Decimal("12.50"), decimal.Decimal("12.50"), "12.50"),
    ("decimal_nan", decimal.Decimal("NaN"), decimal.Decimal("NaN"), "NaN"),
    ("dataclass", Shape("tri", [Point(1, 2.0), Point(3, 4.5)], ("a",)),
     {"name": "tri", "points": [{"x": 1, "y": 2.0}, {"x": 3, "y": 4.5}], "tags": ["a"]},
     {"name": "tri", "points": [{"x": 1, "y": 2.0}, {"x": 3, "y": 4.5}], "tags": ["a"]}),
    ("model_dump", FakeModel(id=7, when=dt.date(2026, 1, 2), inner=FakeModel(ok=True)),
     {"id": 7, "when": dt.date(2026, 1, 2), "inner": {"ok": True}},
     {"id": 7, "when": "2026-01-02", "inner": {"ok": True}}),
    ("ext_unknown", Ext(42, b"payload"), Ext(42, b"payload"), TypeError),
    ("ext_negative", Ext(-1, b"\x00" * 12), Ext(-1, b"\x00" * 12), TypeError),
    ("ext_sizes", [Ext(9, b"x" * n) for n in (0, 1, 2, 3, 4, 8, 16, 300, 70000)],
     [Ext(9, b"x" * n) for n in (0, 1, 2, 3, 4, 8, 16, 300, 70000)], TypeError),
    ("nested_64", NESTED_64, NESTED_64, NESTED_64),
]


def _same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (1 == 1.0 == True must not pass)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):  # insertion order survives both formats
        return len(a) == len(b) and all(
            _same(k, k2) and _same(v, v2) for (k, v), (k2, v2) in zip(a.items(), b.items()))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and a != a:
        return bool(b != b)
    if isinstance(a, decimal.Decimal):
        return str(a) == str(b)
    if isinstance(a, dt.datetime):
        return bool(a == b and a.utcoffset() == b.utcoffset())
    return bool(a == b)


def test_nested_64_case_is_64_deep() -> None:
    v: Any = NESTED_64
    depth = 0
    while isinstance(v, list):
        depth, v = depth + 1, (v[0] if v else None)
    assert depth == 64


@pytest.fixture(params=["mem", "redis"])
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "mem":
        return "mem://"
    return str(request.getfixturevalue("redis_server").url)


@pytest.mark.parametrize("serializer", ["msgpack", "json"])
@pytest.mark.parametrize("name,value,as_msgpack,as_json", CASES, ids=[c[0] for c in CASES])
def test_type_table_round_trip(url: str, serializer: str, name: str, value: Any, as_msgpack: Any,
                               as_json: Any) -> None:
    c = NativeCache(url, serializer=serializer)
    expected = as_msgpack if serializer == "msgpack" else as_json
    if isinstance(expected, type) and issubclass(expected, Exception):
        with pytest.raises(expected):
            c.set(name, value)
        assert c.get(name) is MISSING
        return
    c.set(name, value)
    got = c.get(name)
    assert _same(got, expected), f"{got!r} != {expected!r}"
    if c.l2_enabled:
        # A second handle has an empty L1: this read decodes what Redis holds.
        other = NativeCache(url)
        assert _same(other.get(name, skip_l1=True), expected)
        other.close()
    c.close()


@pytest.mark.parametrize("serializer", ["msgpack", "json"])
def test_int_beyond_64_bits_is_overflow(serializer: str) -> None:
    c = NativeCache("mem://", serializer=serializer)
    for v in (2**64, -(2**63) - 1, 10**40):
        with pytest.raises(OverflowError, match=r"at value\['n'\]\[1\]"):
            c.set("k", {"n": [0, v]})
    assert c.get("k") is MISSING


@pytest.mark.parametrize("serializer", ["msgpack", "json"])
def test_unsupported_types_name_the_type_and_path(serializer: str) -> None:
    c = NativeCache("mem://", serializer=serializer)

    class Custom:
        pass

    with pytest.raises(TypeError) as e:
        c.set("k", {"tags": ["a", "b", {1, 2}]})
    assert str(e.value) == "cannot serialize object of type 'set' (at value['tags'][2])"
    with pytest.raises(TypeError, match=r"type 'Custom' \(at value\)$"):
        c.set("k", Custom())
    with pytest.raises(TypeError, match=r"type 'frozenset' \(at value\[0\]\['x'\]\[1\]\)"):
        c.set("k", [{"x": (1, frozenset())}])
    with pytest.raises(TypeError, match=r"type 'function'.*\(at value\['points'\]\[0\]\['y'\]\)"):
        c.set("k", Shape("s", [Point(1, lambda: 0)]))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'type'"):
        c.set("k", Point)  # a dataclass type, not an instance
    assert c.get("k") is MISSING


def test_msgpack_dict_key_types_are_limited() -> None:
    c = NativeCache("mem://")
    with pytest.raises(TypeError, match=r"cannot serialize dict key of type 'tuple' \(at value\['d'\]\)"):
        c.set("k", {"d": {(1, 2): 3}})


def test_json_refuses_bytes_and_non_str_keys_naming_the_path() -> None:
    c = NativeCache("mem://", serializer="json")
    with pytest.raises(TypeError, match=r"type 'bytes' to JSON.*\(at value\['a'\]\[1\]\)"):
        c.set("k", {"a": [1, b"x"]})
    with pytest.raises(TypeError, match=r"JSON object keys must be str, not 'int' \(at value\['m'\]\)"):
        c.set("k", {"m": {1: "one"}})
    with pytest.raises(TypeError, match="Ext"):
        c.set("k", Ext(1, b""))


def test_json_refuses_nan_and_infinity() -> None:
    c = NativeCache("mem://", serializer="json")
    for v in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(ValueError, match=r"to JSON \(at value\[0\]\)"):
            c.set("k", [v])
    m = NativeCache("mem://")
    m.set("k", [float("inf"), float("-inf")])
    assert m.get("k") == [float("inf"), float("-inf")]
    m.set("k", float("nan"))
    got = m.get("k")
    assert isinstance(got, float) and got != got


@pytest.mark.parametrize("serializer", ["msgpack", "json"])
def test_nesting_deeper_than_64_is_value_error(serializer: str) -> None:
    c = NativeCache("mem://", serializer=serializer)
    v: Any = []
    for _ in range(64):
        v = [v]  # 65 levels
    with pytest.raises(ValueError, match="deeper than 64"):
        c.set("k", v)
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="deeper than 64"):
        c.set("k", loop)
    d: dict[str, Any] = {}
    d["self"] = d
    with pytest.raises(ValueError, match="deeper than 64"):
        c.set("k", d)


def test_subclasses_of_builtin_types_encode_as_the_base() -> None:
    import collections
    import enum

    class Color(enum.IntEnum):
        RED = 3

    class Name(str):
        pass

    class Pair(typing.NamedTuple):
        x: int
        y: int

    c = NativeCache("mem://")
    c.set("k", [Color.RED, Name("n"), collections.OrderedDict(a=1), Pair(1, 2)])
    assert _same(c.get("k"), [3, "n", {"a": 1}, [1, 2]])


def test_errors_raised_by_the_value_itself_propagate() -> None:
    class Broken:
        def model_dump(self) -> dict[str, Any]:
            raise RuntimeError("model_dump failed")

    c = NativeCache("mem://")
    with pytest.raises(RuntimeError, match="model_dump failed"):
        c.set("k", {"b": Broken()})
    with pytest.raises(UnicodeEncodeError):
        c.set("k", "\udc80")  # a lone surrogate has no UTF-8 form


def test_raw_serializer_takes_and_returns_bytes() -> None:
    c = NativeCache("mem://", serializer="raw")
    assert c.serializer == "raw"
    c.set("k", b"\x00raw")
    assert c.get("k") == b"\x00raw"
    c.set("k", bytearray(b"ba"))
    assert c.get("k") == b"ba"
    with pytest.raises(TypeError, match="serializer 'raw' stores bytes-like values, not 'str'"):
        c.set("k", "text")
    c.set_many([("a", b"1"), ("b", memoryview(b"2"))])
    assert c.get_many(["a", "b"]) == [b"1", b"2"]


def test_a_handle_reads_values_whatever_serializer_wrote_them(redis_server: Any) -> None:
    writers = {s: NativeCache(redis_server.url, serializer=s) for s in ("msgpack", "json", "raw")}
    writers["msgpack"].set("m", {"a": [1, 2.0]})
    writers["json"].set("j", {"a": [1, 2.0]})
    writers["raw"].set("r", b"bytes")
    for s in ("msgpack", "json", "raw"):
        reader = NativeCache(redis_server.url, serializer=s)
        assert _same(reader.get("m", skip_l1=True), {"a": [1, 2.0]})
        assert _same(reader.get("j", skip_l1=True), {"a": [1, 2.0]})
        assert reader.get("r", skip_l1=True) == b"bytes"


# ---- values other programs stored: envelopes written straight into Redis ----

def _envelope(serializer_id: int, body: bytes) -> bytes:
    """docs/envelope.md: magic, version 1, serializer, no compression, no flags, LEB128 length."""
    n, length = len(body), b""
    while True:
        byte, n = n & 0x7F, n >> 7
        length += bytes([byte | (0x80 if n else 0)])
        if not n:
            break
    return b"\xfe\x53\x01" + bytes([serializer_id, 0, 0]) + length + body


def _raw_set(port: int, key: bytes, value: bytes) -> None:
    parts = [b"SET", key, value]
    cmd = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(cmd)
        assert s.recv(64).startswith(b"+OK")


JSON_ID, MSGPACK_ID = 1, 2


def test_json_from_other_writers_big_ints_and_escapes(redis_server: Any) -> None:
    c = NativeCache(redis_server.url)
    doc = (b' {"big": 123456789012345678901234567890, "neg": -98765432109876543210, "f": 1.0, "e": 1E+2,'
           b' "s": "\\u00e9\\ud83d\\ude00\\n\\"\\/", "lone": "\\udc80", "raw": "\xc3\xa9", "l": [true, false, null],'
           b' "o": {}} \n')
    _raw_set(redis_server.port, b"doc", _envelope(JSON_ID, doc))
    got = c.get("doc", skip_l1=True)
    assert _same(got, {"big": 123456789012345678901234567890, "neg": -98765432109876543210, "f": 1.0, "e": 100.0,
                       "s": "é😀\n\"/", "lone": "\udc80", "raw": "é", "l": [True, False, None], "o": {}})


@pytest.mark.parametrize("serializer_id,body", [
    (MSGPACK_ID, b"\xc1"),                      # never-used type byte
    (MSGPACK_ID, b"\x92\x01"),                  # array of 2 with 1 element
    (MSGPACK_ID, b"\xdd\xff\xff\xff\xff"),      # 4G-element array in 5 bytes: refused before allocating
    (MSGPACK_ID, b"\xdf\xff\xff\xff\xff"),      # same for a map
    (MSGPACK_ID, b"\xdb\xff\xff\xff\xff"),      # 4 GiB string
    (MSGPACK_ID, b"\x01\x02"),                  # trailing bytes
    (MSGPACK_ID, b"\xa2\xff\xfe"),              # invalid UTF-8
    (MSGPACK_ID, b"\x91" * 65 + b"\x00"),       # 65 levels
    (MSGPACK_ID, b"\xd4\x01x"),                 # datetime ext that is not ISO text
    (MSGPACK_ID, b"\xd5\x03xx"),                # UUID ext that is not 16 bytes
    (MSGPACK_ID, b"\x81\x90\x00"),              # map with an empty array key: tuple () is fine ...
    (JSON_ID, b"{\"a\": 1,}"),                  # trailing comma
    (JSON_ID, b"[1] x"),                        # trailing text
    (JSON_ID, b"\"\x01\""),                     # control character in a string
    (JSON_ID, b"01"),                           # leading zero
    (JSON_ID, b"NaN"),
    (JSON_ID, b"[" * 65 + b"]" * 65),           # 65 levels
    (JSON_ID, b"\"\\x\""),                      # bad escape
])
def test_undecodable_stored_values_are_a_counted_miss(redis_server: Any, serializer_id: int, body: bytes) -> None:
    c = NativeCache(redis_server.url)
    _raw_set(redis_server.port, b"bad", _envelope(serializer_id, body))
    got = c.get("bad", skip_l1=True)
    if body == b"\x81\x90\x00":
        assert got == {(): 0}
        return
    assert got is MISSING
    assert c.stats()["decode_errors"] == 1
    assert c.get_many(["bad"], skip_l1=True) == [MISSING]
    assert c.stats()["decode_errors"] == 2


def test_64_levels_decode(redis_server: Any) -> None:
    c = NativeCache(redis_server.url)
    _raw_set(redis_server.port, b"deep", _envelope(MSGPACK_ID, b"\x91" * 63 + b"\x90"))
    v = c.get("deep", skip_l1=True)
    depth = 0
    while isinstance(v, list):
        depth, v = depth + 1, (v[0] if v else None)
    assert depth == 64
    _raw_set(redis_server.port, b"deepj", _envelope(JSON_ID, b"[" * 64 + b"]" * 64))
    assert c.get("deepj", skip_l1=True) is not MISSING


def test_missing_is_a_falsy_singleton() -> None:
    import copy
    import pickle

    assert repr(MISSING) == "MISSING"
    assert not MISSING
    assert type(MISSING)() is MISSING
    assert copy.deepcopy(MISSING) is MISSING
    assert pickle.loads(pickle.dumps(MISSING)) is MISSING
    assert _native.Ext(1, b"x") == (1, b"x") and Ext(1, b"x").type == 1 and Ext(1, b"x").data == b"x"
