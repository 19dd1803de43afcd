"""The committed torch goldens are provably torch's: recompute them with real torch.

    /root/.cache/ptview/venv/bin/python -m pytest Tests/Interop/test_facts_selfcheck.py
    /root/.cache/ptview/venv/bin/python Tests/Interop/test_facts_selfcheck.py     # without pytest

1. every ``Tests/Fixtures/torch/**/*.expected.json`` equals ``torch_facts.facts(file)``;
2. every load outcome recorded in ``Tests/Fixtures/torch/manifest.json`` still holds
   (same success / exception class / first message line).
"""

from __future__ import annotations

import glob
import json
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep __pycache__ out of the checkout
sys.path.insert(0, HERE)
import torch_facts  # noqa: E402

import torch  # noqa: E402

FIXTURES = os.path.join(torch_facts.REPO, "Tests", "Fixtures", "torch")
EXPECTED = sorted(glob.glob(os.path.join(FIXTURES, "**", "*.expected.json"), recursive=True))
MANIFEST = os.path.join(FIXTURES, "manifest.json")


def _rel(p):
    return os.path.relpath(p, FIXTURES)


def check_expected(expected_path):
    fixture = expected_path[: -len(".expected.json")]
    with open(expected_path, encoding="utf-8") as f:
        want = json.load(f)
    got = json.loads(torch_facts.dumps(torch_facts.facts(fixture)))
    if got != want:
        diffs = torch_facts.compare(want, got) or ["same keys and fields, different order or extra fields"]
        raise AssertionError(f"{_rel(fixture)}: facts differ from the golden:\n  " + "\n  ".join(diffs[:20]))


def _attempt(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fn()
            return {"ok": True}
        except Exception as e:  # noqa: BLE001
            t = type(e)
            name = t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
            s = str(e).strip()
            r = {"ok": False, "exception": name, "message": s.splitlines()[0] if s else ""}
            at = s.find("WeightsUnpickler error:")
            if at >= 0:
                rest = [ln.strip() for ln in s[at + len("WeightsUnpickler error:"):].splitlines() if ln.strip()]
                if rest:
                    r["detail"] = rest[0]
            return r


CALLS = {
    "torch_load_default": lambda f: torch.load(f),
    "torch_load_cpu": lambda f: torch.load(f, map_location="cpu"),
    "torch_load_unsafe_cpu": lambda f: torch.load(f, weights_only=False, map_location="cpu"),
    "torch_load_mmap_cpu": lambda f: torch.load(f, weights_only=False, map_location="cpu", mmap=True),
    "jit_load_default": lambda f: torch.jit.load(f),
    "jit_load_cpu": lambda f: torch.jit.load(f, map_location="cpu"),
}


def manifest_rows():
    with open(MANIFEST, encoding="utf-8") as f:
        return [r for r in json.load(f)["fixtures"] if r.get("file")]


def check_manifest_row(row):
    cwd = os.getcwd()
    os.chdir(FIXTURES)  # the manifest was measured with paths relative to the fixture folder
    try:
        problems = []
        for key, call in CALLS.items():
            if key in row:
                got = _attempt(lambda: call(row["file"]))
                if got != row[key]:
                    problems.append(f"{key}: manifest {row[key]} != now {got}")
        if problems:
            raise AssertionError(f"{row['file']}: " + "; ".join(problems))
    finally:
        os.chdir(cwd)


try:
    import pytest
except ImportError:  # plain-python fallback below
    pytest = None

if pytest is not None:

    @pytest.mark.parametrize("expected_path", EXPECTED, ids=[_rel(p) for p in EXPECTED])
    def test_expected_matches_torch(expected_path):
        check_expected(expected_path)

    @pytest.mark.parametrize("row", manifest_rows(), ids=lambda r: r["file"])
    def test_manifest_load_outcomes(row):
        check_manifest_row(row)


def main():
    failures = 0
    cases = [(f"expected {_rel(p)}", check_expected, p) for p in EXPECTED]
    cases += [(f"manifest {r['file']}", check_manifest_row, r) for r in manifest_rows()]
    for name, fn, arg in cases:
        try:
            fn(arg)
            print(f"ok    {name}")
        except AssertionError as e:
            failures += 1
            print(f"FAIL  {name}\n{e}")
    print(f"{len(cases) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
