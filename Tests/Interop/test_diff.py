"""`ptview diff` against a Python diff of the two torch.loads: the keys only in A or B, and for
common keys the dtype, shape, device (the location torch is given for the storage, recorded by
torch_facts) and values (compared in float64 as the docs say: NaN equals NaN at the same place,
integers exactly) with the largest |a - b|. Everything expected is computed here from torch,
never from ptview's output. Fixtures: Scripts/make_diff_fixtures.py."""
from __future__ import annotations

import json
import math
import os
import shutil
import warnings

import pytest

from interop_support import FIXTURES, REPO, ptview, torch
from torch_facts import facts

DIFF = os.path.join(REPO, "Tests", "Fixtures", "diff")
VALUES = os.path.join(REPO, "Tests", "Fixtures", "values")

warnings.filterwarnings("ignore")


def load(path: str) -> dict:
    """Dotted keys to tensors, as `ptview ls` names them (state dicts of plain dicts)."""
    out = {}

    def walk(obj, prefix):
        if isinstance(obj, torch.Tensor):
            out.setdefault(prefix, obj)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                walk(v, f"{prefix}.{i}" if prefix else str(i))

    obj = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(obj, torch.nn.Module):  # TorchScript, or a pickled module: its state_dict
        obj = obj.state_dict()
    walk(obj, "")
    return out


def devices(path: str) -> dict:
    return {e["key"]: e["device"] for e in facts(path)}


def is_integer(t) -> bool:
    return not (t.is_floating_point() or t.is_complex() or t.is_quantized)


def plain(t):
    t = t.detach()
    if t.is_quantized:
        t = t.dequantize()
    t = t.resolve_conj().resolve_neg()
    if t.dtype.is_floating_point and t.dtype.itemsize == 1:
        t = t.float()  # float8
    return t.reshape(-1)


def compare_values(a, b) -> tuple[bool, float]:
    """(changed, max |a-b|) as the docs define them; max is NaN when NaN met a number, None
    when it is not measured (sparse tensors, compared by their parts; bit dtypes)."""
    if a.layout != torch.strided:
        return not torch.equal(a.to_dense(), b.to_dense()), None
    if a.dtype == torch.bits8:
        return not torch.equal(a.view(torch.uint8), b.view(torch.uint8)), None
    if is_integer(a) and is_integer(b):
        xs, ys = plain(a).tolist(), plain(b).tolist()
        diffs = [abs(float(x) - float(y)) for x, y in zip(xs, ys) if x != y]
        return bool(diffs), max(diffs, default=0.0)
    a, b = plain(a), plain(b)
    if a.is_complex() or b.is_complex():
        a, b = a.to(torch.complex128), b.to(torch.complex128)
        both_nan = lambda x, y: torch.isnan(x) & torch.isnan(y)  # noqa: E731
        same = (((a.real == b.real) | both_nan(a.real, b.real))
                & ((a.imag == b.imag) | both_nan(a.imag, b.imag)))
    else:
        a, b = a.to(torch.float64), b.to(torch.float64)
        same = (a == b) | (torch.isnan(a) & torch.isnan(b))
    if bool(same.all()):
        return False, 0.0
    d = torch.where(same, torch.zeros((), dtype=torch.float64), (a - b).abs())
    return True, d.max().item()


def expected(path_a: str, path_b: str) -> dict:
    ta, tb = load(path_a), load(path_b)
    da, db = devices(path_a), devices(path_b)
    changed, identical = {}, 0
    for key in (k for k in ta if k in tb):
        a, b = ta[key], tb[key]
        changes, biggest = [], None
        if a.dtype != b.dtype:
            changes.append("dtype")
        if tuple(a.shape) != tuple(b.shape):
            changes.append("shape")
        if da[key] != db[key]:
            changes.append("device")
        if tuple(a.shape) == tuple(b.shape):
            moved, biggest = compare_values(a, b)
            if moved:
                changes.append("values")
            else:
                biggest = None
        if changes:
            changed[key] = (changes, biggest)
        else:
            identical += 1
    return dict(only_a=sorted(k for k in ta if k not in tb), only_b=sorted(k for k in tb if k not in ta),
                changed=changed, identical=identical)


def check(path_a: str, path_b: str) -> dict:
    want = expected(path_a, path_b)
    result = ptview("diff", "--json", path_a, path_b, check=False)
    assert result.returncode in (0, 1), result.stderr
    got = json.loads(result.stdout)
    assert list(got) == ["only_a", "only_b", "changed", "identical"]
    assert sorted(got["only_a"]) == want["only_a"]
    assert sorted(got["only_b"]) == want["only_b"]
    assert got["identical"] == want["identical"]
    rows = {row["key"]: row for row in got["changed"]}
    assert sorted(rows) == sorted(want["changed"]), (sorted(rows), sorted(want["changed"]))
    for key, (changes, biggest) in want["changed"].items():
        row = rows[key]
        assert list(row) == ["key", "changes", "max_abs_diff"]
        assert row["changes"] == changes, key
        if biggest is None or math.isnan(biggest):  # not measured, or NaN met a number
            assert row["max_abs_diff"] is None, (key, row)
        else:
            assert row["max_abs_diff"] is not None, key
            assert math.isclose(row["max_abs_diff"], biggest, rel_tol=1e-15), (key, row, biggest)
    same = not (want["only_a"] or want["only_b"] or want["changed"])
    assert result.returncode == (0 if same else 1)
    return want


def test_changed_pair():
    want = check(os.path.join(DIFF, "base.pt"), os.path.join(DIFF, "changed.pt"))
    # The pair covers what it claims to.
    words = {w for changes, _ in want["changed"].values() for w in changes}
    assert words == {"dtype", "shape", "device", "values"}
    assert want["only_a"] and want["only_b"] and want["identical"] > 3
    assert math.isnan(want["changed"]["nan_vs_number"][1])
    assert "nan_same" not in want["changed"] and "neg_zero" not in want["changed"]


def test_reverse_pair():
    check(os.path.join(DIFF, "changed.pt"), os.path.join(DIFF, "base.pt"))


def test_zip_and_legacy_with_the_same_tensors_are_identical():
    want = check(os.path.join(DIFF, "base.pt"), os.path.join(DIFF, "base_legacy.pt"))
    assert want["identical"] > 0 and not want["changed"]


def test_bits_compare_bit_for_bit():
    want = check(os.path.join(DIFF, "bits_a.pt"), os.path.join(DIFF, "bits_b.pt"))
    assert want["changed"] == {"bits": (["values"], None), "same": (["shape"], None)}


def test_nan_against_a_number_only():
    want = check(os.path.join(DIFF, "nan_a.pt"), os.path.join(DIFF, "nan_b.pt"))
    assert list(want["changed"]) == ["x"]


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(VALUES) if f.endswith(".pt")))
def test_file_against_itself_and_a_copy(name, tmp_path):
    """Every value fixture (every dtype, views, big-endian, legacy, quantized) is identical to
    a copy of itself: no dtype compares unequal to itself (NaN, -0.0, float8 NaN encodings)."""
    path = os.path.join(VALUES, name)
    copy = tmp_path / name
    shutil.copy(path, copy)
    result = ptview("diff", "--json", path, str(copy), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    got = json.loads(result.stdout)
    assert got["changed"] == [] and got["identical"] == len(load(path))


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(FIXTURES) if f.endswith(".pt")))
def test_torch_fixture_against_a_copy(name, tmp_path):
    """Every torch fixture (sparse, nested, meta, quantized, TorchScript...) against a copy:
    identical (exit 0), or unreadable (exit 2, one line) where ptview does not read it."""
    path = os.path.join(FIXTURES, name)
    copy = tmp_path / name
    shutil.copy(path, copy)
    result = ptview("diff", "--json", path, str(copy), check=False)
    if result.returncode == 2:
        assert len(result.stderr.strip().splitlines()) == 1
        return
    assert result.returncode == 0, result.stdout + result.stderr
    got = json.loads(result.stdout)
    keys = {e["key"] for e in json.loads(ptview("ls", "--json", path).stdout)}
    assert got == {"only_a": [], "only_b": [], "changed": [], "identical": len(keys)}


def test_text_output_and_exit_codes(tmp_path):
    a, b = os.path.join(DIFF, "base.pt"), os.path.join(DIFF, "changed.pt")
    result = ptview("diff", a, b, check=False)  # stdout is a pipe: text
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("- removed") for line in lines)
    assert any(line.startswith("+ added") for line in lines)
    assert any(line.startswith("~ to_half") and "dtype float32 -> float16" in line for line in lines)
    same = ptview("diff", a, a, check=False)
    assert same.returncode == 0 and same.stdout.startswith("identical")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x80\x02not a checkpoint")
    for args in ((a, str(bad)), (str(bad), a)):
        result = ptview("diff", *args, check=False)
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1
        assert "bad.pt" in result.stderr


def test_truncated_storage_exits_2(tmp_path):
    """A record cut short is found while comparing values: exit 2 naming the file."""
    src = os.path.join(FIXTURES, "legacy_cpu.pt")
    cut = tmp_path / "cut.pt"
    data = open(src, "rb").read()
    cut.write_bytes(data[: len(data) - 16])
    result = ptview("diff", src, str(cut), check=False)
    assert result.returncode == 2, result.stdout
    assert "cut.pt" in result.stderr and len(result.stderr.strip().splitlines()) == 1


SAFETENSORS = os.path.join(REPO, "Tests", "Fixtures", "safetensors")


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(SAFETENSORS) if f.endswith(".safetensors")))
def test_safetensors_file_against_a_copy(name, tmp_path):
    """Every safetensors fixture (every dtype it holds) is identical to a copy of itself."""
    from safetensors.torch import load_file

    path = os.path.join(SAFETENSORS, name)
    copy = tmp_path / name
    shutil.copy(path, copy)
    result = ptview("diff", "--json", path, str(copy), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    got = json.loads(result.stdout)
    assert got == {"only_a": [], "only_b": [], "changed": [], "identical": len(load_file(path))}


@pytest.mark.parametrize("name", ["values_views.pt", "values_print.pt"])
def test_pt_against_its_safetensors_export(name, tmp_path):
    """A .pt (saved on the CPU) and its safetensors export: identical when torch.load and
    load_file agree on every key (dtype, shape and values, NaN for NaN); a changed value
    shows as values, with torch's |a - b|."""
    from safetensors.torch import load_file, save_file

    # The fixture's views and dtypes saved from the CPU (some fixtures are tagged cuda, and
    # a device differs from safetensors' cpu by definition).
    path = str(tmp_path / name)
    torch.save(torch.load(os.path.join(VALUES, name), map_location="cpu", weights_only=False), path)
    out = tmp_path / (name + ".safetensors")
    ptview("export", path, "-o", str(out))
    ta, tb = load(path), load_file(str(out))
    assert sorted(ta) == sorted(tb)
    for key in ta:
        assert ta[key].dtype == tb[key].dtype and ta[key].shape == tb[key].shape, key
        assert compare_values(ta[key], tb[key])[0] is False, key
    result = ptview("diff", "--json", path, str(out), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == {"only_a": [], "only_b": [], "changed": [],
                                        "identical": len(ta)}
    # Change one float value in the safetensors copy: diff names it, with torch's |a - b|.
    key = next(k for k, t in tb.items() if t.dtype == torch.float32 and t.numel() > 0
               and bool(torch.isfinite(t).all()))
    changed = dict(tb)
    changed[key] = tb[key].clone()
    changed[key].view(-1)[0] += 1.5
    moved = tmp_path / "moved.safetensors"
    save_file(changed, str(moved))
    result = ptview("diff", "--json", path, str(moved), check=False)
    assert result.returncode == 1
    rows = json.loads(result.stdout)["changed"]
    want = (ta[key].double() - changed[key].double()).abs().max().item()
    assert rows == [{"key": key, "changes": ["values"], "max_abs_diff": want}]


def test_safetensors_against_torch_save_of_load_file(tmp_path):
    """Every safetensors dtype (float8 variants, bool, complex64, float4_e2m1fn_x2 by its
    bytes) against torch.save of what load_file returns: identical, key for key."""
    from safetensors.torch import load_file

    path = os.path.join(SAFETENSORS, "all_dtypes.safetensors")
    tensors = load_file(path)
    saved = tmp_path / "all_dtypes.pt"
    torch.save(tensors, saved)
    for key, t in torch.load(saved, map_location="cpu").items():
        assert torch.equal(t.reshape(-1).view(torch.uint8), tensors[key].reshape(-1).view(torch.uint8)), key
    for a, b in ((path, str(saved)), (str(saved), path)):
        result = ptview("diff", "--json", a, b, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert json.loads(result.stdout) == {"only_a": [], "only_b": [], "changed": [],
                                            "identical": len(tensors)}
