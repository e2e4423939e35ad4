#!/usr/bin/env python3
"""The value matrix (docs/languages.md): every language writes every case of
tests/matrix/cases.json through its package into one Redis, and every language reads
every language's keys back; each reader's output must equal the cases.

Participants are found by rule: every bindings/<lang>/matrix.sh, plus the C participant
(build/tests/stratacache_matrix_c, or $STRATACACHE_MATRIX_C_BIN), which takes the cases
C can express (see participant.c). Python's matrix.sh runs this interpreter
($STRATACACHE_PYTHON). Two rounds: plain, then with an AES-256-GCM key and
compression_threshold=64. A participant that fails to run is a failure, never a skip.
Prints a writer x reader table per round; exit status 1 on any mismatch or failure.

    python3 tests/matrix/run_matrix.py [--only LANG,LANG] [--cases FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests" / "python"))

from conftest import start_redis  # noqa: E402  (the Python tests' redis-server fixture)
from tj import first_mismatch, tag_of, to_python  # noqa: E402

TEST_KEY = "7:" + bytes(range(32)).hex()  # the public test key of tests/golden
C_TAGS_OK = ("$int", "$float", "$repeat")  # what JSON text can carry
RUN_TIMEOUT_S = 600


@dataclass
class Participant:
    lang: str
    command: list[str]
    lines: bool = False  # takes "NAME FORMAT HEX" lines instead of a cases file (C)

    def handles(self, case: dict[str, Any]) -> bool:
        return not self.lines or case["format"] != "msgpack" or _json_expressible(case["value"])


def _json_expressible(value: Any) -> bool:
    tag = tag_of(value)
    if tag is not None:
        return tag in C_TAGS_OK
    if isinstance(value, list):
        return all(_json_expressible(v) for v in value)
    if isinstance(value, dict):
        return all(_json_expressible(v) for v in value.values())
    return True


def _json_text(value: Any) -> str:
    """A TJ value without byte or ext tags as JSON text (Python writes every int exactly
    and every float as its shortest round-trip text)."""
    return json.dumps(to_python(value), ensure_ascii=False, separators=(",", ":"))


def _tj_from_json(text: str) -> Any:
    return json.loads(text, parse_int=lambda s: {"$int": s}, parse_float=lambda s: {"$float": repr(float(s))})


def _message(stderr: bytes) -> str:
    """The telling line of a failed participant's stderr: the first that names an error
    (runtimes print a stack trace around it), else the last."""
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    named = [line for line in lines if "rror" in line or "xception" in line]
    text = (named or lines or ["(no message)"])[0 if named else -1]
    return text if len(text) <= 300 else text[:297] + "..."


def discover() -> list[Participant]:
    found = [Participant(p.parent.name, ["bash", str(p)]) for p in sorted(ROOT.glob("bindings/*/matrix.sh"))]
    c_bin = os.environ.get("STRATACACHE_MATRIX_C_BIN") or str(ROOT / "build" / "tests" / "stratacache_matrix_c")
    found.append(Participant("c", [c_bin], lines=True))
    return found


class Matrix:
    def __init__(self, cases: list[dict[str, Any]], workdir: Path) -> None:
        self.cases = cases
        self.workdir = workdir
        self.env = dict(os.environ, STRATACACHE_PYTHON=sys.executable)

    def input_file(self, who: Participant, cases: list[dict[str, Any]], tag: str) -> Path:
        path = self.workdir / f"{tag}-{who.lang}.{'lines' if who.lines else 'json'}"
        if who.lines:
            rows = []
            for c in cases:
                payload = bytes.fromhex(c["value"]["$bytes"]) if c["format"] == "raw" else _json_text(c["value"]).encode()
                rows.append(f"{c['name']} {c['format']} {payload.hex()}\n")
            path.write_text("".join(rows), encoding="ascii")
        else:
            path.write_text(json.dumps({"cases": cases}, ensure_ascii=False), encoding="utf-8")
        return path

    def run(self, who: Participant, mode: str, url: str, prefix: str, writer: str, cases: list[dict[str, Any]],
            key: str | None, tag: str) -> tuple[str | None, str]:
        """(error or None, stdout)."""
        args = [*who.command, mode, url, prefix, writer, str(self.input_file(who, cases, tag))]
        if key:
            args += ["--key", key]
        try:
            done = subprocess.run(args, capture_output=True, env=self.env, timeout=RUN_TIMEOUT_S, cwd=ROOT)
        except FileNotFoundError as exc:
            return f"cannot run: {exc}", ""
        except subprocess.TimeoutExpired:
            return f"{mode} ran past {RUN_TIMEOUT_S} s", ""
        if done.returncode != 0:
            return f"{mode} exit {done.returncode}: {_message(done.stderr)}", ""
        return None, done.stdout.decode("utf-8", errors="replace")

    def parse(self, who: Participant, out: str) -> dict[str, Any]:
        if not who.lines:
            return json.loads(out)
        result: dict[str, Any] = {}
        for row in out.splitlines():
            name, fmt, hex_text = (row.split(" ") + [""])[:3]
            payload = bytes.fromhex(hex_text)
            result[name] = {"$bytes": payload.hex()} if fmt == "raw" else _tj_from_json(payload.decode("utf-8"))
        return result

    def round(self, title: str, url: str, key: str | None, prefix: str, people: list[Participant]) -> bool:
        print(f"\n== {title}: {url}{' + key ' + key.split(':')[0] if key else ''}")
        cells: dict[tuple[str, str], str] = {}
        problems: list[str] = []
        written: dict[str, str | None] = {}
        for w in people:
            mine = [c for c in self.cases if w.handles(c)]
            written[w.lang], _ = self.run(w, "write", url, prefix, w.lang, mine, key, f"{prefix}-w")
        for w in people:
            for r in people:
                if written[w.lang] is not None:
                    cells[w.lang, r.lang] = "write failed"
                    continue
                both = [c for c in self.cases if w.handles(c) and r.handles(c)]
                error, out = self.run(r, "read", url, prefix, w.lang, both, key, f"{prefix}-r")
                if error is None:
                    try:
                        got = self.parse(r, out)
                        error = self.compare(both, got)
                    except (ValueError, KeyError, TypeError) as exc:
                        error = f"unreadable output: {exc}"
                cells[w.lang, r.lang] = "ok" if error is None else "FAIL"
                if error is not None:
                    problems.append(f"{w.lang} -> {r.lang}: {error}")
        for w in people:
            if written[w.lang] is not None:
                problems.insert(0, f"{w.lang} writer: {written[w.lang]}")
        width = max(14, *(len(p.lang) + 2 for p in people))
        print("writer \\ reader".ljust(16) + "".join(p.lang.ljust(width) for p in people))
        for w in people:
            print(w.lang.ljust(16) + "".join(cells[w.lang, r.lang].ljust(width) for r in people))
        for p in problems:
            print("  " + p)
        counted = sum(1 for c in self.cases)
        print(f"({counted} cases; C takes {sum(1 for c in self.cases if Participant('c', [], True).handles(c))})")
        return not problems

    def compare(self, cases: list[dict[str, Any]], got: Any) -> str | None:
        if not isinstance(got, dict):
            return "output is not one JSON object"
        names = {c["name"] for c in cases}
        if set(got) != names:
            diff = sorted(names ^ set(got))[:3]
            return f"case names differ: {', '.join(diff)}"
        for c in cases:
            m = first_mismatch(c["value"], got[c["name"]])
            if m is not None:
                return f"{c['name']}: {m}"
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=str(ROOT / "tests" / "matrix" / "cases.json"))
    parser.add_argument("--only", help="comma-separated languages (default: every participant found)")
    args = parser.parse_args()
    cases = json.loads(Path(args.cases).read_text(encoding="utf-8"))["cases"]
    people = discover()
    if args.only:
        wanted = args.only.split(",")
        people = [p for p in people if p.lang in wanted]
        missing = set(wanted) - {p.lang for p in people}
        if missing:
            print(f"no participant for {', '.join(sorted(missing))}")
            return 1
    print("participants: " + ", ".join(p.lang for p in people))
    redis = start_redis()
    workdir = Path(tempfile.mkdtemp(prefix="stratacache-matrix-"))
    try:
        m = Matrix(cases, workdir)
        ok = m.round("plain", redis.url, None, "plain", people)
        ok = m.round("compressed + encrypted", redis.url + "?compression_threshold=64", TEST_KEY, "sealed",
                     people) and ok
    finally:
        redis.proc.kill()
        redis.proc.wait()
        shutil.rmtree(redis.workdir, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)
    print("\nvalue matrix: " + ("every reader got every writer's values" if ok else "MISMATCHES (above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
