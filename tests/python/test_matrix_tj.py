"""The value matrix's comparison (tests/matrix/tj.py) finds what it must: a run where
every reader reports "ok" is only worth something if a wrong value would not."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "matrix"))

from tj import first_mismatch, from_python, to_python  # noqa: E402


def test_equal_values_match() -> None:
    case = {"a": [{"$int": "-9223372036854775808"}, {"$float": "0.1"}, {"$bytes": "00FF"}],
            "t": {"$datetime": "2026-11-25T12:34:56.789+02:00"}, "r": {"$repeat": ["ab", 3]}}
    got = {"a": [{"$int": "-9223372036854775808"}, {"$float": "0.1"}, {"$bytes": "00ff"}],
           "t": {"$datetime": "2026-11-25T10:34:56.789Z"}, "r": "ababab"}
    assert first_mismatch(case, got) is None


def test_mismatches_are_found_and_located() -> None:
    assert first_mismatch({"$int": "18446744073709551615"}, {"$int": "18446744073709551614"}) is not None
    assert first_mismatch({"$int": "1"}, {"$float": "1.0"}) is not None  # an int read back as a float
    assert first_mismatch({"$float": "0.0"}, {"$float": "-0.0"}) is not None
    assert first_mismatch({"$datetime": "2026-11-25T12:00:00+02:00"},
                          {"$datetime": "2026-11-25T12:00:00+00:00"}) is not None
    assert first_mismatch({"$datetime": "2026-11-25T12:00:00+02:00"},
                          {"$datetime": "2026-11-25T12:00:00"}) is not None  # no offset: not an instant
    assert first_mismatch({"$decimal": "12.50"}, {"$decimal": "12.5"}) is not None  # the scale is lost
    assert first_mismatch({"$decimal": "12.50"}, {"$decimal": "1.250E+1"}) is None
    assert first_mismatch({"$bytes": "00"}, "\u0000") is not None  # bytes read back as text
    assert first_mismatch({"$repeat": ["ab", 3]}, "abab") is not None
    assert first_mismatch({"k": [1, {"x": True}]}, {"k": [1, {"x": False}]}) == "k[1].x: expected true, got false"
    assert first_mismatch({"a": 1}, {"a": 1, "b": 2}) is not None
    assert first_mismatch([], {}) is not None
    assert first_mismatch(True, {"$int": "1"}) is not None


def test_python_values_round_trip_through_tj() -> None:
    tj = {"i": {"$int": "18446744073709551615"}, "f": {"$float": "1e+300"}, "b": {"$bytes": "00ff"},
          "d": {"$date": "2026-11-25"}, "u": {"$uuid": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"},
          "m": {"$decimal": "-0.001"}, "t": {"$datetime": "2026-11-25T12:34:56.789000+02:00"},
          "l": [None, True, "x"]}
    assert from_python(to_python(tj)) == tj
