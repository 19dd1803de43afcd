"""`ptview dis` against CPython's pickletools on every committed pickle, well-formed or not.

pickletools is the reference: same lines, same stop on damage (ptview then exits 2 with the
offset). The only intended difference is indentation past Disassembler.maxIndentLevels MARK
levels (pickletools indents without limit, which turns a 20 KB pickle of nested MARKs into
hundreds of megabytes); such files are compared with `--indent 0` and the `[depth N]` tag
removed.
"""
from __future__ import annotations

import glob
import io
import os
import pickletools
import re
import subprocess

import pytest

from interop_support import PTVIEW, REPO

MAX_INDENT_LEVELS = 64
FILES = sorted(
    glob.glob(os.path.join(REPO, "Tests", "Fixtures", "pickles", "*.pkl"))
    + glob.glob(os.path.join(REPO, "Tests", "Fixtures", "hostile", "*.pkl"))
    + glob.glob(os.path.join(REPO, "Tests", "Fixtures", "security", "**", "*.pkl"), recursive=True)
)


def mark_depth(data: bytes) -> int:
    depth = deepest = 0
    try:
        for op, _, _ in pickletools.genops(data):
            if op.name == "MARK":
                depth += 1
                deepest = max(deepest, depth)
            elif "mark" in [s.name for s in op.stack_before] or op.name == "POP_MARK":
                depth = max(0, depth - 1)
    except Exception:
        pass
    return deepest


def reference(data: bytes, indent: int) -> tuple[str, bool]:
    out = io.StringIO()
    try:
        pickletools.dis(data, out=out, indentlevel=indent)
        failed = False
    except Exception:
        failed = True
    return out.getvalue(), failed


@pytest.mark.parametrize("path", FILES, ids=lambda p: os.path.relpath(p, REPO))
def test_dis_matches_pickletools(path: str) -> None:
    with open(path, "rb") as f:
        data = f.read()
    if len(data) > 8 << 20:
        pytest.skip("larger than the 8 MiB this comparison reads")  # none are, today
    deep = mark_depth(data) > MAX_INDENT_LEVELS
    indent = 0 if deep else 4
    expected, failed = reference(data, indent)
    result = subprocess.run([PTVIEW, "dis", "--indent", str(indent), path], capture_output=True,
                            timeout=120)
    got = result.stdout.decode("utf-8", "surrogateescape")
    if deep:
        got = re.sub(r"\[depth \d+\] ", "", got)
    assert got == expected
    assert (result.returncode != 0) == failed, result.stderr.decode()
    if failed:
        assert result.returncode == 2
        assert re.search(rb"byte \d+", result.stderr), result.stderr
        assert result.stderr.count(b"\n") == 1, result.stderr


def test_the_nested_mark_listing_stays_small() -> None:
    path = os.path.join(REPO, "Tests", "Fixtures", "hostile", "marks_10k.pkl")
    result = subprocess.run([PTVIEW, "dis", path], capture_output=True, timeout=60)
    lines = result.stdout.splitlines()
    assert len(lines) >= 10_000
    assert max(len(line) for line in lines) < 400


def _generated() -> dict[str, bytes]:
    import pickle
    import struct

    cases = {
        # every byte value through each Python 2 string opcode (pickletools decodes latin-1)
        "binstring_all_bytes": b"(" + b"".join(b"T" + struct.pack("<i", 1) + bytes([i]) for i in range(256)) + b"l.",
        "short_binstring_all_bytes": b"(" + b"".join(b"U\x01" + bytes([i]) for i in range(256)) + b"l.",
        # a sample of code points from every plane, printable or not, through each text opcode
        "unicode_sample": pickle.dumps([chr(c) for c in list(range(0, 0x800)) + list(range(0xD7F0, 0xE010))
                                        + list(range(0xFFF0, 0x10100)) + [0x1F600, 0xE0001, 0x10FFFF]
                                        if not 0xD800 <= c < 0xE000], protocol=4),
        "unicode_protocol0": pickle.dumps(["é\u2028\x85\u00a0\u00ad", "\U0001F600"], protocol=0),
    }
    return cases


@pytest.mark.parametrize("name", sorted(_generated()))
def test_dis_matches_pickletools_on_generated(name: str, tmp_path) -> None:
    data = _generated()[name]
    path = tmp_path / f"{name}.pkl"
    path.write_bytes(data)
    expected, failed = reference(data, 4)
    assert not failed
    result = subprocess.run([PTVIEW, "dis", str(path)], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode("utf-8") == expected
