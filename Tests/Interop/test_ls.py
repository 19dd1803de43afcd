"""`ptview ls --json` reports exactly the tensors real torch loads.

For every committed fixture, and for files generated here with real torch.save (fresh shapes,
dtypes, devices, protocols, containers), ptview's listing is compared key by key with what
torch_facts.facts() learns from torch itself: path, dtype, shape, stride, offset, storage
record, saved location (via a map_location callable), nbytes and requires_grad.

    PTVIEW=.build/debug/ptview $VENV/bin/python -m pytest Tests/Interop/test_ls.py
"""
from __future__ import annotations

import collections
import glob
import os
import tempfile

import pytest

from interop_support import FIXTURES, fake_location_save, ls_json, ptview, torch
import torch_facts

FIELDS = ["dtype", "shape", "stride", "offset", "device", "storage", "nbytes", "requires_grad"]


def diff(expected: list[dict], actual: list[dict]) -> list[str]:
    """Differences between torch's facts and ptview's listing, keyed by path."""
    problems = []
    got = {}
    for a in actual:
        got.setdefault(a["key"], a)
    for e in expected:
        a = got.pop(e["key"], None)
        if a is None:
            if not e.get("optional"):
                problems.append(f"{e['key']}: torch loads it, ptview does not list it")
            continue
        if a["path"] != e["path"]:
            problems.append(f"{e['key']}: path {a['path']} != torch {e['path']}")
        for field in FIELDS:
            if e.get(field) != a.get(field):
                problems.append(f"{e['key']}: {field}: ptview {a.get(field)!r} != torch {e.get(field)!r}")
        layout = e.get("layout")
        if layout not in (None, "strided") and a.get("layout") != layout:
            problems.append(f"{e['key']}: layout {a.get('layout')!r} != torch {layout!r}")
    for key, a in got.items():
        if a.get("in_state_dict", True):
            problems.append(f"{key}: ptview lists it, torch does not load it")
    return problems


# The tar-era file is recognised and named, not listed: test_unsupported_formats_are_named.
FIXTURE_FILES = sorted(
    p[: -len(".expected.json")]
    for p in glob.glob(os.path.join(FIXTURES, "*.expected.json"))
    if not os.path.basename(p).startswith("tar_era"))


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=os.path.basename)
def test_fixture_listing_matches_torch(path):
    assert diff(torch_facts.facts(path), ls_json(path)) == []


@pytest.mark.parametrize("name,words", [
    ("tar_era.pt", "tar-format"),
    ("export_tiny.pt2", "torch.export"),
    ("dcp_ckpt", "distributed checkpoint"),
])
def test_unsupported_formats_are_named(name, words):
    # ls reads DCP folders now (test_dcp.py); the verbs that do not still name them.
    verb = "dis" if name == "dcp_ckpt" else "ls"
    result = ptview(verb, os.path.join(FIXTURES, name), check=False)
    assert result.returncode == 2
    assert words in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_sharded_index_lists_every_shard():
    """An index given as the file opens its folder (issue 12; test_folders.py has the rest)."""
    folder = os.path.join(FIXTURES, "sharded")
    rows = ls_json(os.path.join(folder, "pytorch_model.bin.index.json"))
    want = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".bin"):
            for key, t in torch.load(os.path.join(folder, name), map_location="cpu").items():
                want[(name, key)] = list(t.shape)
    assert {(r["file"], r["key"]): r["shape"] for r in rows} == want


def fresh_cases(folder: str) -> list[str]:
    """Files written right now by real torch, different from the committed fixtures."""
    torch.manual_seed(1234)
    paths = []

    def save(name, obj, location=None, **kw):
        path = os.path.join(folder, name)
        if location is None:
            torch.save(obj, path, **kw)
        else:
            fake_location_save(obj, path, location, **kw)
        paths.append(path)

    dtypes = [torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.int32,
              torch.int16, torch.int8, torch.uint8, torch.bool, torch.complex64, torch.complex128,
              torch.float8_e4m3fn, torch.float8_e5m2, torch.uint16, torch.uint32, torch.uint64]
    sd = collections.OrderedDict()
    for i, dt in enumerate(dtypes):
        base = torch.randn(3, 5, 7)
        t = (base * 10).to(dt) if dt != torch.bool else base > 0
        sd[f"block.{i}.weight"] = t
        sd[f"block.{i}.view"] = t[1:, ::2, 3]  # a strided view of the same storage
        sd[f"block.{i}.t"] = t.transpose(0, 2)
    sd["scalar"] = torch.tensor(2.5)
    sd["empty"] = torch.zeros(0, 4)
    sd["param"] = torch.nn.Parameter(torch.randn(4, 4))
    save("fresh_cpu.pt", sd)
    save("fresh_cuda1.pt", sd, "cuda:1")
    save("fresh_xpu.pt", sd, "xpu:0")
    save("fresh_proto4.pt", sd, "cuda:0", pickle_protocol=4)
    legacy = {k: v for k, v in sd.items() if v.dtype not in (torch.float8_e4m3fn, torch.float8_e5m2,
                                                              torch.uint16, torch.uint32, torch.uint64)}
    save("fresh_legacy.pt", legacy, "cuda:0", _use_new_zipfile_serialization=False)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                                torch.nn.LazyLinear(2))
    model(torch.randn(1, 3, 8, 8))
    opt = torch.optim.AdamW(model.parameters())
    model(torch.randn(2, 3, 8, 8)).sum().backward()
    opt.step()
    save("fresh_training.pt", {"model": model.state_dict(), "opt": opt.state_dict(), "step": 3}, "cuda:0")
    tied = torch.nn.Linear(4, 4)
    save("fresh_tied.pt", {"a": tied.weight, "b": tied.weight, "nested": [tied.bias, (tied.bias,)]})
    return paths


def test_freshly_generated_files_match_torch():
    with tempfile.TemporaryDirectory() as folder:
        for path in fresh_cases(folder):
            problems = diff(torch_facts.facts(path), ls_json(path))
            assert problems == [], f"{os.path.basename(path)}: {problems[:5]}"


SAFETENSORS = os.path.join(os.path.dirname(FIXTURES), "safetensors")


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(SAFETENSORS) if f.endswith(".safetensors")))
def test_safetensors_rows_equal_load_file(name):
    """Each tensor as safetensors.torch.load_file returns it: dtype, shape, stride (torch's,
    float4_e2m1fn_x2 included), offset 0, nbytes, cpu, and no storage record."""
    from safetensors.torch import load_file

    path = os.path.join(SAFETENSORS, name)
    tensors = load_file(path)
    rows = ls_json(path)
    assert sorted(r["key"] for r in rows) == sorted(tensors)
    for r in rows:
        t = tensors[r["key"]]
        assert (r["dtype"], r["shape"], r["stride"], r["offset"], r["nbytes"]) == (
            str(t.dtype).removeprefix("torch."), list(t.shape), list(t.stride()),
            t.storage_offset(), t.nbytes), r
        assert r["device"] == "cpu" and r["storage"] is None and r["requires_grad"] is False
