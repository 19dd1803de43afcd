"""Checkpoint folders as one checkpoint (issue 12), judged by torch and transformers.

Fixtures: Tests/Fixtures/folders (Scripts/make_folder_fixtures.py): Hugging Face .bin shards
with their index, the same tagged cuda:0, a real accelerate save_state folder, a real
transformers Trainer checkpoint, and a DeepSpeed ZeRO-2 folder shaped by hand.
"""
from __future__ import annotations

import filecmp
import json
import os
import shutil

import pytest

from interop_support import REPO, ptview, torch

FOLDERS = os.path.join(REPO, "Tests", "Fixtures", "folders")
HF = os.path.join(FOLDERS, "hf_bin")
HF_CUDA = os.path.join(FOLDERS, "hf_bin_cuda")

try:
    import transformers  # noqa: F401
except ImportError as error:  # pragma: no cover
    if os.environ.get("CI") == "true":
        raise SystemExit(f"transformers is required for the interop tests under CI: {error}")
    pytest.skip("transformers is not installed", allow_module_level=True)

DTYPES = {v: k for k, v in {
    "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
    "int64": torch.int64, "uint8": torch.uint8, "float64": torch.float64, "int32": torch.int32,
}.items()}


def shards(folder):
    with open(os.path.join(folder, "pytorch_model.bin.index.json")) as f:
        return sorted(set(json.load(f)["weight_map"].values()))


def union_of_shards(folder):
    """{(file, key): (dtype, shape, device)} from torch.load of every shard."""
    out = {}
    for name in shards(folder):
        sd = torch.load(os.path.join(folder, name), map_location="cpu", weights_only=True)
        for key, t in sd.items():
            out[(name, key)] = (DTYPES[t.dtype], list(t.shape))
    return out


def listed(path):
    rows = json.loads(ptview("ls", "--json", path).stdout)
    return {(r["file"], r["key"]): (r["dtype"], r["shape"]) for r in rows}, rows


@pytest.mark.parametrize("folder", [HF, HF_CUDA])
def test_ls_of_folder_is_the_union_of_the_shards(folder):
    got, rows = listed(folder)
    assert got == union_of_shards(folder)
    assert len(rows) == len(got)


def test_ls_of_the_index_file_is_the_folder():
    by_folder, _ = listed(HF)
    by_index, _ = listed(os.path.join(HF, "pytorch_model.bin.index.json"))
    assert by_index == by_folder


def test_ls_table_has_a_file_column_and_devices():
    out = ptview("ls", HF_CUDA).stdout.splitlines()
    assert out[0].split()[-1] == "FILE"
    assert all(line.split()[-1].startswith("pytorch_model-") for line in out[1:])
    assert all(" cuda:0 " in line for line in out[1:])


def test_info_counts_every_shard_and_checks_the_index():
    info = json.loads(ptview("info", "--json", HF_CUDA).stdout)
    want = union_of_shards(HF_CUDA)
    assert info["tensors"] == len(want)
    assert info["devices"]["cuda:0"]["tensors"] == len(want)
    with open(os.path.join(HF_CUDA, "pytorch_model.bin.index.json")) as f:
        index = json.load(f)
    assert info["index"]["tensors"] == len(index["weight_map"])
    assert info["index"]["total_size"] == index["metadata"]["total_size"]
    assert info["index"]["findings"] == []
    files = {f["name"]: f for f in info["files"]}
    for name in shards(HF_CUDA):
        n = len(torch.load(os.path.join(HF_CUDA, name), map_location="cpu", weights_only=True))
        assert files[name]["tensors"] == n
    assert files["config.json"]["role"] == "model config"


def broken_copy(tmp_path, edit):
    dest = tmp_path / "broken"
    shutil.copytree(HF, dest)
    path = dest / "pytorch_model.bin.index.json"
    index = json.loads(path.read_text())
    edit(index["weight_map"])
    path.write_text(json.dumps(index))
    return str(dest)


def test_index_checks(tmp_path):
    def edit(weight_map):
        keys = sorted(weight_map)
        # a key no shard holds, and a key put in the wrong shard
        weight_map["ghost.weight"] = "pytorch_model-00001-of-00003.bin"
        moved = next(k for k in keys if weight_map[k] != "pytorch_model-00003-of-00003.bin")
        weight_map[moved] = "pytorch_model-00003-of-00003.bin"
        edit.moved = moved

    folder = broken_copy(tmp_path, edit)
    info = json.loads(ptview("info", "--json", folder).stdout)
    kinds = {(f["kind"], f["key"]) for f in info["index"]["findings"]}
    assert ("missing_key", "ghost.weight") in kinds
    assert ("misplaced_key", edit.moved) in kinds
    assert len(kinds) == 2
    doctor = ptview("doctor", folder, check=False)
    assert "ghost.weight" in doctor.stdout and edit.moved in doctor.stdout
    assert doctor.returncode == 0  # the shards still load as they are
    listing = ptview("ls", folder)
    assert "ghost.weight" in listing.stderr


def test_missing_shard_makes_the_folder_unreadable(tmp_path):
    folder = broken_copy(tmp_path, lambda m: None)
    os.remove(os.path.join(folder, "pytorch_model-00002-of-00003.bin"))
    doctor = ptview("doctor", "--json", folder, check=False)
    assert doctor.returncode == 2
    report = json.loads(doctor.stdout)
    assert [f["kind"] for f in report["index_findings"]] == ["missing_shard"]


def test_doctor_of_cuda_folder_says_remap_fixes_it():
    doctor = ptview("doctor", HF_CUDA, check=False)
    assert doctor.returncode == 3
    assert f"ptview remap {HF_CUDA} -o" in doctor.stdout
    # as torch says: each shard fails a plain torch.load on a CPU-only machine
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError):
            torch.load(os.path.join(HF_CUDA, shards(HF_CUDA)[0]))
    assert ptview("doctor", HF).returncode == 0


def test_stats_of_folder_match_torch():
    rows = json.loads(ptview("stats", "--json", HF).stdout)
    got = {r["key"]: r for r in rows}
    for name in shards(HF):
        for key, t in torch.load(os.path.join(HF, name), weights_only=True).items():
            d = t.to(torch.float64)
            assert got[key]["count"] == t.numel()
            assert got[key]["min"] == d.min().item() and got[key]["max"] == d.max().item()


def test_tree_shows_each_file():
    out = ptview("tree", "--depth", "1", HF).stdout
    for name in shards(HF):
        assert f"== {name}" in out


def test_scan_of_folder_is_safe():
    scan = json.loads(ptview("scan", "--json", HF).stdout)
    assert scan["verdict"] == "safe", scan


def test_hostile_index_cannot_name_files_outside(tmp_path):
    folder = broken_copy(tmp_path, lambda m: m.update({"x": "../../etc/passwd"}))
    result = ptview("ls", folder, check=False)
    assert result.returncode == 2
    assert "not a file in this folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
