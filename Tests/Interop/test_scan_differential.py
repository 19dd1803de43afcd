"""Differential fuzzing: ptview's pickle VM against CPython's C unpickler, for every CPython the
machine has (3.8 to 3.14 where present; 3.10 and 3.11 required under CI=true).

Random and mutated pickle streams go to CPython's C unpickler and to its pure-Python one (which
joblib and dill use) (Tests/Interop/pickle_oracle.py: a find_class that records instead of
importing, a persistent_load that records) and to
`ptview scan --vm-trace`. For each stream, CPython's imports, calls, constructions, extension
codes and persistent ids must be a prefix of ptview's, in order, and when CPython reaches STOP
ptview must too, at the same byte. A stream CPython reads further than ptview is a failure (a
scanner that stops early misses what CPython runs next). ptview may read further than CPython
where CPython failed only because the oracle's stand-ins are not real values (a STACK_GLOBAL on
a call's result, READONLY_BUFFER on an object): the scan must assume the worst there.

Time: PTVIEW_DIFF_SECONDS per interpreter (default 15); PTVIEW_DIFF_SEED fixes the seed. Under
CI=true (without PTVIEW_DIFF_SECONDS) a fixed seed and PTVIEW_DIFF_STREAMS (12000) streams per
interpreter are replayed instead, so CI's verdict never depends on the clock.
Failing streams are written to .build/differential/ for replay.
"""
from __future__ import annotations

import base64
import glob
import json
import os
import pickle
import random
import struct
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
PTVIEW = os.environ.get("PTVIEW", os.path.join(REPO, ".build", "debug", "ptview"))
ORACLE = os.path.join(HERE, "pickle_oracle.py")
SECONDS = float(os.environ.get("PTVIEW_DIFF_SECONDS", "15"))
# Under CI the fuzzer replays a fixed set (one seed, a fixed number of streams), so a run's
# verdict depends neither on the clock nor on the machine's speed; exploring new streams is
# what PTVIEW_DIFF_SECONDS / PTVIEW_DIFF_SEED runs are for.
REPLAY = os.environ.get("CI") == "true" and "PTVIEW_DIFF_SECONDS" not in os.environ
STREAMS = int(os.environ.get("PTVIEW_DIFF_STREAMS", "12000" if REPLAY else "0"))
REQUIRED = ("3.10", "3.11")


def interpreters() -> dict[str, str]:
    """Every CPython 3.8+ on the machine, one per minor.patch version."""
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3")))
    candidates += sorted(glob.glob("/usr/bin/python3.[0-9]*"))
    candidates.append(sys.executable)
    found: dict[str, str] = {}
    for path in candidates:
        if not os.access(path, os.X_OK) or path.endswith("-config"):
            continue
        try:
            version = subprocess.run(
                [path, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if version and tuple(int(x) for x in version.split(".")[:2]) >= (3, 8):
            found.setdefault(version, path)
    return found


PYTHONS = interpreters()


def test_required_interpreters_present():
    minors = {".".join(v.split(".")[:2]) for v in PYTHONS}
    missing = [m for m in REQUIRED if m not in minors]
    if missing and os.environ.get("CI") == "true":
        raise AssertionError(f"CI=true needs CPython {missing} for the differential fuzzer; found {sorted(PYTHONS)}")
    if missing:
        pytest.skip(f"CPython {missing} not installed (CI=true makes this fatal)")


# MARK: - Stream generation

NAMES = [b"os", b"system", b"builtins", b"eval", b"x", b"a.b", b"__main__", b"numpy", b"y"]
TEXT_INTS = [b"0", b"1", b"01", b"00", b"0x1", b"0X1F", b"0o7", b"0O7", b"0b1", b"1_0", b"0_0", b" 1", b"+1",
             b"-1", b"010", b"08", b"1\x00zz", b"", b"0x", b"1e3", b"99999999999999999999",
             b"0x8000000000000000", b"1 ", b"\t0", b"-0", b"1__0", b"_1", b"0x_1", b"\x0b1", b"12", b"3"]
TEXT_FLOATS = [b"1.5", b" 1.5", b"1_0", b"inf", b"nan", b"-inf", b"1e500", b"1.5\x00x", b".5", b"5.", b"1e",
               b"0x1p3", b"INFINITY", b"-0.0", b"1e-400", b"+nan"]
TEXT_STRINGS = [b"'a'", b'"a"', b"'a\"", b"'\\x41'", b"'\\q'", b"a", b"'", b"''", b"'os'", b"'system'",
                b"'\\101'", b"'a' "]
TEXT_MEMO = [b"0", b"1", b"00", b" 1", b"+0", b"1_0", b"-1", b"0x0", b"2"]


def chunk(rng: random.Random) -> bytes:
    """One opcode with an argument that is usually well formed."""
    k = rng.randrange(40)
    name = lambda: rng.choice(NAMES)  # noqa: E731
    if k == 0:
        return b"I" + rng.choice(TEXT_INTS) + b"\n"
    if k == 1:
        return b"L" + rng.choice(TEXT_INTS) + rng.choice([b"L", b""]) + b"\n"
    if k == 2:
        return b"F" + rng.choice(TEXT_FLOATS) + b"\n"
    if k == 3:
        return b"S" + rng.choice(TEXT_STRINGS) + b"\n"
    if k == 4:
        return b"c" + name() + b"\n" + name() + b"\n"
    if k == 5:
        s = name()
        return b"\x8c" + bytes([len(s)]) + s
    if k == 6:
        s = name()
        return b"X" + struct.pack("<I", len(s)) + s
    if k == 7:
        s = name()
        return b"U" + bytes([len(s)]) + s
    if k == 8:
        return b"V" + rng.choice([b"a", b"os", b"\\u0041", b"\\x41", b"system"]) + b"\n"
    if k == 9:
        return b"\x93"
    if k == 10:
        return b"R"
    if k == 11:
        return b"("
    if k == 12:
        return b"t"
    if k == 13:
        return rng.choice([b"\x85", b"\x86", b"\x87", b")"])
    if k == 14:
        return b"i" + name() + b"\n" + name() + b"\n"
    if k == 15:
        return b"o"
    if k == 16:
        return b"\x81"
    if k == 17:
        return b"\x92"
    if k == 18:
        return b"b"
    if k == 19:
        return rng.choice([b"\x82" + bytes([rng.randrange(256)]), b"\x83" + struct.pack("<H", rng.randrange(65536)),
                           b"\x84" + struct.pack("<i", rng.randrange(-3, 70000))])
    if k == 20:
        return b"P" + rng.choice([b"1", b"a", b"\xff"]) + b"\n"
    if k == 21:
        return b"Q"
    if k == 22:
        return b"p" + rng.choice(TEXT_MEMO) + b"\n"
    if k == 23:
        return b"g" + rng.choice(TEXT_MEMO) + b"\n"
    if k == 24:
        return rng.choice([b"q", b"h"]) + bytes([rng.randrange(4)])
    if k == 25:
        return rng.choice([b"r", b"j"]) + struct.pack("<I", rng.choice([0, 1, 2, 0xFFFFFFFF]))
    if k == 26:
        return b"\x94"
    if k == 27:
        return rng.choice([b"0", b"1", b"2"])
    if k == 28:
        return rng.choice([b"]", b"}", b"N", b"\x88", b"\x89", b"\x8f", b"l", b"d"])
    if k == 29:
        return rng.choice([b"a", b"e", b"s", b"u", b"\x90", b"\x91"])
    if k == 30:
        return b"\x80" + bytes([rng.choice([0, 1, 2, 3, 4, 5, 6, 255])])
    if k == 31:
        return b"\x95" + struct.pack("<Q", rng.choice([0, 1, 5, 20, 2 ** 63]))
    if k == 32:
        return b"K" + bytes([rng.randrange(256)])
    if k == 33:
        return b"J" + struct.pack("<i", rng.randrange(-5, 5))
    if k == 34:
        n = rng.randrange(4)
        return b"\x8a" + bytes([n]) + bytes(rng.randrange(256) for _ in range(n))
    if k == 35:
        return b"C" + bytes([2]) + b"id"
    if k == 36:
        return b"G" + struct.pack(">d", rng.random())
    if k == 37:
        return b"T" + struct.pack("<i", rng.choice([2, -1])) + b"os"
    if k == 38:
        return b"\x98"
    return b"."


TEMPLATES = [
    b"cos\nsystem\n(S'x'\ntR.",
    b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x01x\x85R.",
    b"(cos\nsystem\nS'x'\no.",
    b"(S'x'\nios\nsystem\n.",
    b"\x80\x02cos\nsystem\n)\x81}b.",
    b"\x80\x02\x82\x01\x8c\x01x\x85R.",
    b"\x80\x02P1\n\x85R.",
]


def stream(rng: random.Random, seeds: list[bytes]) -> bytes:
    mode = rng.randrange(3)
    if mode == 0:
        body = b"".join(chunk(rng) for _ in range(rng.randrange(1, 14)))
        return body + (b"." if rng.random() < 0.8 else b"")
    base = bytearray(rng.choice(seeds))
    for _ in range(rng.randrange(1, 4)):
        op = rng.randrange(5)
        at = rng.randrange(len(base) + 1)
        if op == 0 and base:
            base[min(at, len(base) - 1)] = rng.randrange(256)
        elif op == 1:
            base[at:at] = chunk(rng)
        elif op == 2 and base:
            del base[at:at + rng.randrange(1, 4)]
        elif op == 3:
            base[at:at] = rng.choice(TEMPLATES)[:-1]
        else:
            base = base[:at] + b"0" + base[at:]
    return bytes(base)


def seeds() -> list[bytes]:
    out = list(TEMPLATES)
    values = [0, 1, -1, 2 ** 70, 1.5, "s", b"b", [1, 2], (1,), {"a": 1}, {1, 2}, frozenset([3]), None, True,
              [[1], {"k": (2, 3)}], bytearray(b"x")]
    for protocol in range(0, 6):
        for v in values:
            out.append(pickle.dumps(v, protocol=protocol))
    return out


# MARK: - Comparison


def ptview_traces(paths: list[str]) -> list[dict]:
    result = subprocess.run([PTVIEW, "scan", "--vm-trace", *paths], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def oracle(python: str, data: list[bytes]) -> list[dict]:
    payload = json.dumps([base64.b64encode(d).decode() for d in data])
    result = subprocess.run([python, ORACLE], input=payload, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def normalized(events: list[list[str]]) -> list[list[str]]:
    """CPython caches each extension code after its first lookup: only the first counts."""
    seen: set[str] = set()
    out = []
    for e in events:
        if e[0] == "e":
            if e[1] in seen:
                continue
            seen.add(e[1])
        out.append(e)
    return out


def disagreement(cp: dict, pv: dict, exact_end: bool) -> str | None:
    """Why CPython read further than ptview, or None.

    The end is where the next pickle starts for that reader. The C file reader's must match
    exactly. The pure-Python reader takes a frame longer than the data as the rest of the data,
    so its next pickle can only start later than ptview's: ptview then scans bytes it never
    runs, which is safe; starting later than it would not be."""
    ours = normalized(pv["events"])
    theirs = normalized(cp["events"])
    if ours[:len(theirs)] != theirs:
        return f"events differ: CPython {theirs} ptview {ours}"
    if cp["ok"] and pv["end"] is None:
        return f"CPython reaches STOP at {cp['end']}, ptview stops: {pv['error']}"
    if cp["ok"] and (pv["end"] != cp["end"] if exact_end else pv["end"] > cp["end"]):
        return f"the next pickle starts at {cp['end']} for CPython, {pv['end']} for ptview"
    return None


@pytest.mark.parametrize("version", sorted(PYTHONS))
def test_vm_agrees_with_cpython(version: str, tmp_path):
    python = PYTHONS[version]
    seed = int(os.environ.get("PTVIEW_DIFF_SEED", "20261206" if REPLAY else str(int(time.time()))))
    rng = random.Random(seed)
    corpus = seeds()
    deadline = time.time() + SECONDS
    failures: list[tuple[bytes, str]] = []
    total = further = 0
    while (total < STREAMS if STREAMS else time.time() < deadline) and len(failures) < 20:
        batch = [stream(rng, corpus) for _ in range(300)]
        paths = []
        for i, data in enumerate(batch):
            path = tmp_path / f"s{i}.pkl"
            path.write_bytes(data)
            paths.append(str(path))
        ours = ptview_traces(paths)
        theirs = oracle(python, batch)
        for data, pv, both in zip(batch, ours, theirs):
            total += 1
            for key, cp in both.items():
                why = disagreement(cp, pv, exact_end=key == "c")
                if why:
                    failures.append((data, f"{'C' if key == 'c' else 'pure-Python'} unpickler: {why}"))
                    break
            else:
                if not any(cp["ok"] for cp in both.values()) and pv["end"] is not None:
                    further += 1
    print(f"CPython {version}: {total} streams, seed {seed}, ptview further on {further}, {len(failures)} failures")
    if failures:
        keep = os.path.join(REPO, ".build", "differential", version)
        os.makedirs(keep, exist_ok=True)
        for i, (data, _) in enumerate(failures):
            with open(os.path.join(keep, f"fail{i}.pkl"), "wb") as f:
                f.write(data)
        lines = "\n".join(f"  {data!r}: {why}" for data, why in failures[:10])
        raise AssertionError(f"CPython {version} (seed {seed}) reads further than ptview on {len(failures)} stream(s):\n{lines}")
