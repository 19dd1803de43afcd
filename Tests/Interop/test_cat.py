"""`ptview cat` against real torch: for every tensor key of every value and torch fixture,
ptview's output equals `str(t)` of the tensor torch.load(..., map_location="cpu") returns
(TorchScript: torch.jit.load's module), navigated by the key, byte for byte. The expected text
comes from torch only; ptview's `ls --json` only names the keys to try."""
from __future__ import annotations

import json
import os
import warnings

import pytest

from interop_support import FIXTURES, REPO, ptview, torch

VALUES = os.path.join(REPO, "Tests", "Fixtures", "values")
VALUE_FILES = [os.path.join(VALUES, f) for f in sorted(os.listdir(VALUES)) if f.endswith(".pt")]
TORCH_FILES = [os.path.join(FIXTURES, f) for f in sorted(os.listdir(FIXTURES))
               if f.endswith(".pt") and not f.startswith(("sd_proto0", "tar_era"))]

warnings.filterwarnings("ignore")


def load(path: str):
    """What a user gets: torch.load on the CPU, or the TorchScript module."""
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except RuntimeError as error:
        if "TorchScript" not in str(error) and "constants.pkl" not in str(error):
            raise
    return torch.jit.load(path, map_location="cpu")


def navigate(obj, path: list[str]):
    """The object at `path` (ptview's path of dict keys, indices and attribute names)."""
    if isinstance(obj, torch.jit.ScriptModule):
        if path[0] == "CONSTANTS":  # tensors the code holds, not the state_dict
            return obj.code_with_constants[1].const_mapping[path[1]]
        # ptview names the others by their state_dict keys; keep_vars keeps them as the
        # module holds them (requires_grad included).
        return obj.state_dict(keep_vars=True)[".".join(path)]
    for i, step in enumerate(path):
        if isinstance(obj, torch.nn.Module):
            # A module's tensors are named by dotted state_dict keys (one path step):
            # resolve them on the module itself, so Parameters stay Parameters.
            rest = ".".join(path[i:]).split(".")
            for name in rest[:-1]:
                obj = getattr(obj, name)
            return getattr(obj, rest[-1])
        elif isinstance(obj, dict):
            matches = [k for k in obj if str(k) == step]
            assert matches, f"no key {step!r} in {list(obj)[:10]}"
            obj = obj[matches[0]]
        elif isinstance(obj, (list, tuple)):
            obj = obj[int(step)]
        else:
            obj = getattr(obj, step)
    return obj


SPARSE_LAYOUTS = (torch.sparse_coo, torch.sparse_csr, torch.sparse_csc, torch.sparse_bsr,
                  torch.sparse_bsc)


def printable(t) -> bool:
    """Whether ptview promises a print: strided and sparse tensors of dtypes torch can print."""
    if not isinstance(t, torch.Tensor) or t.is_nested:
        return False
    if t.layout != torch.strided and t.layout not in SPARSE_LAYOUTS:
        return False
    if type(t) not in (torch.Tensor, torch.nn.Parameter):
        return False  # a subclass prints with its own class name or __repr__
    if t.dtype in (torch.quint4x2, torch.quint2x4):
        return False
    try:
        str(t)
    except Exception:
        return False  # bits8, int4, ...: torch itself cannot print them
    return True


def entries(path: str) -> list[dict]:
    seen, out = set(), []
    for e in json.loads(ptview("ls", "--json", path).stdout):
        if e["key"] not in seen:
            seen.add(e["key"])
            out.append(e)
    return out


def check_file(path: str) -> tuple[int, int]:
    """Compares every key; returns (printed, refused). The printable keys go to one ptview
    run (each after a `KEY:` line); a mismatch is then narrowed down to its key."""
    obj = load(path)
    tensors = [(e["key"], navigate(obj, e["path"])) for e in entries(path)]
    good = [(k, t) for k, t in tensors if printable(t)]
    if good:
        keys = [k for k, _ in good]
        want = "".join(("\n" if i else "") + (k + ":\n" if len(keys) > 1 else "") + str(t) + "\n"
                       for i, (k, t) in enumerate(good))
        result = ptview("cat", path, *keys, check=False)
        if result.returncode != 0 or result.stdout != want:
            for k, t in good:
                one = ptview("cat", path, k, check=False)
                assert one.returncode == 0, f"{path}: {k}: {one.stderr}"
                assert one.stdout == str(t) + "\n", (
                    f"{path}: {k}:\n--- torch\n{t}\n--- ptview\n{one.stdout}")
            assert result.stdout == want and result.returncode == 0, result.stderr
    printed, refused = len(good), 0
    for e, (key, t) in zip(entries(path), tensors):
        if not printable(t):
            result = ptview("cat", path, key, check=False)
            assert result.returncode == 1, f"{path}: {key}: {result.returncode} {result.stdout}"
            assert result.stdout == ""
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr
            refused += 1
    return printed, refused


@pytest.mark.parametrize("path", VALUE_FILES, ids=os.path.basename)
def test_value_fixtures_print_as_torch(path):
    printed, refused = check_file(path)
    if os.path.basename(path) == "values_layouts.pt":
        # Its sparse tensors print; the nested and packed quint4x2/quint2x4 ones are refused.
        assert printed == 7 and refused == 3
    elif os.path.basename(path) == "values_sparse.pt":
        # Every layout torch saves, each dtype kind, nnz=0, summaries: all print.
        assert printed == len(load(path)) and refused == 0
    else:
        assert printed > 0


@pytest.mark.parametrize("path", TORCH_FILES, ids=os.path.basename)
def test_torch_fixtures_print_as_torch_or_refuse(path):
    listing = ptview("ls", "--json", path, check=False)
    if listing.returncode != 0:
        return  # a format ptview names and does not read (its ls test covers it)
    try:
        load(path)
    except Exception:
        return  # torch cannot load it; nothing to compare with
    check_file(path)


def test_several_keys_and_only():
    path = os.path.join(VALUES, "values_dtypes.pt")
    d = load(path)
    result = ptview("cat", path, "scalar", "one", "--only", "int64*")
    want = "".join(
        ("\n" if i else "") + k + ":\n" + str(d[k]) + "\n"
        for i, k in enumerate(["scalar", "one", "int64", "int64_extremes"]))
    assert result.stdout == want


def test_unknown_and_container_keys_fail_with_one_line():
    path = os.path.join(FIXTURES, "model_full.pt")
    for key in ("no.such.key", "fc1"):
        result = ptview("cat", path, key, check=False)
        assert result.returncode == 1 and result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    result = ptview("cat", path, "--only", "nothing*", check=False)
    assert result.returncode == 1


def test_unreadable_file_exits_2(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 not a zip")
    result = ptview("cat", str(bad), "x", check=False)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


SAFETENSORS = os.path.join(REPO, "Tests", "Fixtures", "safetensors")
SAFETENSORS_FILES = [os.path.join(SAFETENSORS, f) for f in sorted(os.listdir(SAFETENSORS))
                     if f.endswith(".safetensors")]


@pytest.mark.parametrize("path", SAFETENSORS_FILES, ids=os.path.basename)
def test_safetensors_fixtures_print_as_load_file(path, monkeypatch):
    """Each tensor of a safetensors file prints as str(t) of safetensors.torch.load_file's
    tensor (float4_e2m1fn_x2 as torch prints it: its raw bytes)."""
    from safetensors.torch import load_file

    monkeypatch.setitem(globals(), "load", lambda p: load_file(p))
    printed, refused = check_file(path)
    assert printed == len(load_file(path)) and refused == 0
