"""`ptview stats` against real torch: every statistic equals what torch computes in float64 on
the tensor as `torch.load(..., map_location="cpu")` returns it (TorchScript: `torch.jit.load`'s
state_dict). Expected values are computed here from torch, never from ptview's output."""
from __future__ import annotations

import json
import math
import os
import warnings

import pytest

from interop_support import FIXTURES, REPO, dotted_tensors, load_on_cpu, ptview, torch

VALUES = os.path.join(REPO, "Tests", "Fixtures", "values")
VALUE_FILES = sorted(f for f in os.listdir(VALUES) if f.endswith(".pt"))
FIELDS = ["key", "count", "nan", "posinf", "neginf", "zeros", "min", "max", "mean", "std"]

warnings.filterwarnings("ignore")


load = load_on_cpu
flatten = dotted_tensors


def as_float64(t: "torch.Tensor") -> "torch.Tensor":
    t = t.detach()
    if t.is_quantized:
        return t.dequantize().reshape(-1).to(torch.float64)
    if t.dtype.itemsize == 1 and t.dtype.is_floating_point:
        return t.reshape(-1).to(torch.float32).to(torch.float64)  # float8
    return t.reshape(-1).to(torch.float64)


def dense(t: "torch.Tensor") -> "torch.Tensor | None":
    """What statistics of a sparse or nested tensor describe: `t.to_dense()` for sparse COO
    and CSR tensors that hold no element twice in sorted order (what ptview can tell without
    summing; others it refuses), the components one after another for a nested tensor."""
    if t.is_nested:
        return torch.cat([c.reshape(-1) for c in t.unbind()])
    if t.layout == torch.sparse_coo:
        idx = t._indices()
        shape = t.shape[: idx.shape[0]]
        linear = torch.zeros(idx.shape[1], dtype=torch.long)
        for d, size in enumerate(shape):
            linear = linear * size + idx[d]
        if linear.numel() > 1 and not bool((linear[1:] > linear[:-1]).all()):
            return None
        return t.to_dense()
    if t.layout == torch.sparse_csr and t.dim() == 2:
        crow, col = t.crow_indices(), t.col_indices()
        for r in range(t.shape[0]):
            c = col[crow[r]:crow[r + 1]]
            if c.numel() > 1 and not bool((c[1:] > c[:-1]).all()):
                return None
        return t.to_dense()
    return None


def expected(t: "torch.Tensor") -> dict | None:
    """torch's answer in float64, or None for tensors without values."""
    if t.layout != torch.strided or t.is_nested:
        t = dense(t)
        if t is None:
            return None
    if t.layout != torch.strided or t.is_nested or t.device.type == "meta":
        return None
    if t.dtype in (torch.quint4x2, torch.quint2x4) and (
            not t.is_contiguous() or t.storage_offset() != 0
            or t.qscheme() != torch.per_tensor_affine):
        return None  # packed views: ptview reads packed tensors whole, from element 0
    if t.is_complex():
        z = t.detach().resolve_conj().resolve_neg().reshape(-1).to(torch.complex128)
        re, im = z.real, z.imag
        nan = torch.isnan(re) | torch.isnan(im)
        pos = ~nan & ((re == math.inf) | (im == math.inf))
        neg = ~nan & ~pos & ((re == -math.inf) | (im == -math.inf))
        return dict(count=z.numel(), nan=int(nan.sum()), posinf=int(pos.sum()), neginf=int(neg.sum()),
                    zeros=int(((re == 0) & (im == 0)).sum()), min=None, max=None, mean=None, std=None)
    try:
        v = as_float64(t.resolve_neg())
    except (NotImplementedError, RuntimeError, TypeError):
        return None  # a dtype torch computes nothing with (bits8, float4_e2m1fn_x2, ...)
    fin = v[torch.isfinite(v)]
    return dict(count=v.numel(), nan=int(torch.isnan(v).sum()), posinf=int((v == math.inf).sum()),
                neginf=int((v == -math.inf).sum()), zeros=int((v == 0).sum()),
                min=fin.min().item() if fin.numel() else None, max=fin.max().item() if fin.numel() else None,
                mean=fin.mean().item() if fin.numel() else None,
                std=fin.std().item() if fin.numel() > 1 else None)


def stats_json(path: str, *extra: str) -> list[dict]:
    return json.loads(ptview("stats", "--json", *extra, path).stdout)


def check(path: str, rows: list[dict], every_key: bool = True) -> int:
    """Compares each row with torch; `every_key=False` skips keys outside what the load
    returns (a whole module's non-persistent buffers, TorchScript constants)."""
    tensors = flatten(load(path))
    compared = 0
    for row in rows:
        assert list(row) == FIELDS, row
        key = row["key"]
        if not every_key and key not in tensors:
            continue
        assert key in tensors, f"{path}: {key} is not a tensor torch loads"
        want = expected(tensors[key])
        if want is None:
            assert all(row[f] is None for f in FIELDS[2:]), row
            continue
        for field in ("count", "nan", "posinf", "neginf", "zeros", "min", "max"):
            assert row[field] == want[field], f"{path}: {key}: {field} {row[field]} != torch {want[field]}"
        for field in ("mean", "std"):
            if want[field] is None:
                assert row[field] is None, f"{path}: {key}: {field}"
            else:
                assert row[field] is not None and math.isclose(row[field], want[field], rel_tol=1e-9,
                                                               abs_tol=1e-300), \
                    f"{path}: {key}: {field} {row[field]!r} != torch {want[field]!r}"
        compared += 1
    return compared


@pytest.mark.parametrize("name", VALUE_FILES)
def test_value_fixtures_equal_torch(name):
    path = os.path.join(VALUES, name)
    rows = stats_json(path)
    tensors = flatten(load(path))
    assert sorted(r["key"] for r in rows) == sorted(tensors), "stats lists exactly the tensors torch loads"
    assert check(path, rows) > 0


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(FIXTURES)
                                        if f.endswith(".pt") and not f.startswith(("sd_proto0", "tar_era"))))
def test_torch_fixtures_equal_torch_or_refuse(name):
    """Every torch fixture: where ptview reads it and torch loads it, they agree."""
    path = os.path.join(FIXTURES, name)
    result = ptview("stats", "--json", path, check=False)
    assert result.returncode in (0, 2), result.stderr
    if result.returncode == 2:
        assert len(result.stderr.strip().splitlines()) == 1
        return
    try:
        load(path)
    except Exception:
        return  # torch cannot load it (weights_only problems are not ours here)
    check(path, json.loads(result.stdout), every_key=False)


def test_only_selects_keys():
    path = os.path.join(VALUES, "values_dtypes.pt")
    rows = stats_json(path, "--only", "*float*_nonfinite", "--only", "int64")
    assert [r["key"] for r in rows] == ["float64_nonfinite", "float32_nonfinite", "float16_nonfinite",
                                       "bfloat16_nonfinite", "int64"]


def test_table_flags_nan_and_inf():
    out = ptview("stats", os.path.join(VALUES, "values_dtypes.pt"), "--no-progress").stdout
    lines = {line.split()[1] if line.startswith("!") else line.split()[0]: line
             for line in out.splitlines() if line.strip()}
    assert lines["float32_nonfinite"].startswith("!")
    assert not lines["float32"].startswith("!")
    assert "hold NaN or Inf" in out.splitlines()[-1]


def test_meta_tensors_have_no_values():
    rows = stats_json(os.path.join(FIXTURES, "meta_tensors.pt"))
    assert rows and all(r["nan"] is None and r["min"] is None and r["count"] > 0 for r in rows)
    out = ptview("stats", os.path.join(FIXTURES, "meta_tensors.pt")).stdout
    assert "meta tensor: it has no values" in out


def test_truncated_record_is_one_line_error(tmp_path):
    """A file cut inside a storage record: exit 2, one line naming the record and byte."""
    src = os.path.join(VALUES, "values_legacy.pt")
    data = open(src, "rb").read()
    bad = tmp_path / "cut.pt"
    bad.write_bytes(data[: len(data) - 10])
    result = ptview("stats", str(bad), check=False)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "byte" in result.stderr


SAFETENSORS = os.path.join(REPO, "Tests", "Fixtures", "safetensors")
SAFETENSORS_FILES = sorted(f for f in os.listdir(SAFETENSORS) if f.endswith(".safetensors"))


@pytest.mark.parametrize("name", SAFETENSORS_FILES)
def test_safetensors_fixtures_equal_load_file(name, monkeypatch):
    """safetensors files: the tensors safetensors.torch.load_file returns are the judge (every
    dtype safetensors writes: float8 variants, bool, complex64; float4_e2m1fn_x2 has none)."""
    from safetensors.torch import load_file

    path = os.path.join(SAFETENSORS, name)
    rows = stats_json(path)
    tensors = load_file(path)
    assert sorted(r["key"] for r in rows) == sorted(tensors)
    monkeypatch.setitem(globals(), "load", lambda p: load_file(p))
    # torch computes nothing with float4_e2m1fn_x2 (its conversion raises; an empty one has
    # nothing to convert): no values, as for .pt files.
    plain = expected
    monkeypatch.setitem(globals(), "expected", lambda t: None if t.dtype == torch.float4_e2m1fn_x2 else plain(t))
    assert check(path, rows) > 0
