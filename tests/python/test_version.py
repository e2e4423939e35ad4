"""One version: CMakeLists.txt's project() is the only place it is written; the wheel's
metadata, ``stratacache.__version__`` and the bundled libstratacache all carry it.
(scripts/test.sh also compares the installed C header and pkg-config file.)"""
from __future__ import annotations

import importlib.metadata
import pathlib
import re

import stratacache
from stratacache import _native

ROOT = pathlib.Path(__file__).resolve().parents[2]


def project_version() -> str:
    text = (ROOT / "CMakeLists.txt").read_text()
    m = re.search(r"project\(stratacache\s+VERSION\s+([0-9]+\.[0-9]+\.[0-9]+)", text)
    assert m, "CMakeLists.txt has no project(stratacache VERSION x.y.z)"
    return m.group(1)


def test_package_library_and_metadata_carry_the_project_version() -> None:
    expected = project_version()
    assert stratacache.__version__ == expected
    assert importlib.metadata.version("stratacache") == expected
    assert _native.version() == expected
