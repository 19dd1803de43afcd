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
import zipfile

import pytest

from folder_support import (
    BIN_INDEX, FOLDERS, HF, HF_CUDA, HF_ST, ST_INDEX, bits_equal, no_leftovers, others_copied,
    shard_names, torch_load, weights_of)
from interop_support import ptview, torch

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


shards = shard_names


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
    index = os.path.join(HF_CUDA, "pytorch_model.bin.index.json")
    assert ptview("doctor", index, check=False).returncode == 3


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


def test_remap_of_cuda_folder_loads_with_from_pretrained(tmp_path):
    from transformers import AutoModelForCausalLM

    out = str(tmp_path / "cpu")
    ptview("remap", HF_CUDA, "--to", "cpu", "-o", out, "--no-progress")
    # every shard now loads with torch's defaults (no map_location) on a CPU-only machine
    for name in shards(out):
        sd = torch.load(os.path.join(out, name))
        assert all(t.device.type == "cpu" for t in sd.values())
        torch.load(os.path.join(out, name), mmap=True)
    # the other files are copied byte for byte
    others_copied(HF_CUDA, out, lambda n: n.endswith(".bin"))
    assert sorted(os.listdir(out)) == sorted(os.listdir(HF_CUDA))
    # transformers loads the folder, and its weights are the original model's, bit for bit
    original = AutoModelForCausalLM.from_pretrained(HF).state_dict()
    loaded = AutoModelForCausalLM.from_pretrained(out).state_dict()
    assert set(loaded) == set(original)
    for key in original:
        assert bits_equal(loaded[key], original[key]), key
    # and each shard's tensors equal the input's (read by torch with map_location='cpu')
    for name in shards(out):
        a = torch.load(os.path.join(HF_CUDA, name), map_location="cpu")
        b = torch.load(os.path.join(out, name))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_remap_refuses_existing_output_and_leaves_nothing(tmp_path):
    out = tmp_path / "exists"
    out.mkdir()
    result = ptview("remap", HF_CUDA, "--to", "cpu", "-o", str(out), check=False)
    assert result.returncode == 1 and "--force" in result.stderr
    assert os.listdir(out) == []
    ptview("remap", HF_CUDA, "--to", "cpu", "-o", str(out), "--force", "--no-progress")
    assert sorted(os.listdir(out)) == sorted(os.listdir(HF_CUDA))
    assert no_leftovers(tmp_path)


def test_deepspeed_folder_is_recognised():
    folder = os.path.join(FOLDERS, "deepspeed")
    info = json.loads(ptview("info", "--json", folder).stdout)
    assert any("DeepSpeed" in k and "ZeRO" in k for k in info["kinds"])
    assert "zero_to_fp32" in info["converter"]
    assert "get_fp32_state_dict_from_zero_checkpoint" in info["converter"]
    roles = {f["name"]: f for f in info["files"]}
    tag = "global_step2"
    for rank in (0, 1):
        name = f"{tag}/zero_pp_rank_{rank}_mp_rank_00_optim_states.pt"
        assert "ZeRO optimizer partition" in roles[name]["role"]
    rows = json.loads(ptview("ls", "--json", folder).stdout)
    states = torch.load(os.path.join(folder, tag, "mp_rank_00_model_states.pt"), map_location="cpu", weights_only=False)
    module_rows = {r["key"]: r for r in rows if r["file"] == f"{tag}/mp_rank_00_model_states.pt"}
    for key, t in states["module"].items():
        assert module_rows["module." + key]["dtype"] == DTYPES[t.dtype]
        assert module_rows["module." + key]["shape"] == list(t.shape)


def test_accelerate_and_trainer_folders_are_recognised():
    acc = json.loads(ptview("info", "--json", os.path.join(FOLDERS, "accelerate")).stdout)
    assert any("accelerate" in k for k in acc["kinds"])
    files = {f["name"]: f for f in acc["files"]}
    for name in ("pytorch_model.bin", "optimizer.bin", "scheduler.bin", "random_states_0.pkl"):
        obj = torch.load(os.path.join(FOLDERS, "accelerate", name), map_location="cpu", weights_only=False)
        assert files[name]["format"] == "zip", name
    sd = torch.load(os.path.join(FOLDERS, "accelerate", "pytorch_model.bin"), map_location="cpu")
    assert files["pytorch_model.bin"]["tensors"] == len(sd)
    assert obj is not None
    trainer = json.loads(ptview("info", "--json", os.path.join(FOLDERS, "trainer", "checkpoint-2")).stdout)
    assert any("Trainer" in k for k in trainer["kinds"])
    tfiles = {f["name"]: f for f in trainer["files"]}
    from safetensors.torch import load_file

    weights = load_file(os.path.join(FOLDERS, "trainer", "checkpoint-2", "model.safetensors"))
    assert tfiles["model.safetensors"]["tensors"] == len(weights)
    assert tfiles["model.safetensors"].get("problem") is None
    assert tfiles["optimizer.pt"]["role"] == "optimizer state"
    opt = torch.load(os.path.join(FOLDERS, "trainer", "checkpoint-2", "optimizer.pt"), map_location="cpu")
    n = sum(1 for s in opt["state"].values() for v in s.values() if isinstance(v, torch.Tensor))
    assert tfiles["optimizer.pt"]["tensors"] == n


def test_hostile_folders_fail_in_one_line(tmp_path):
    folder = broken_copy(tmp_path, lambda m: None)
    # a FIFO where a shard should be is never opened (opening one blocks)
    shard = os.path.join(folder, "pytorch_model-00002-of-00003.bin")
    os.remove(shard)
    os.mkfifo(shard)
    info = json.loads(ptview("info", "--json", folder).stdout)
    assert [f["kind"] for f in info["index"]["findings"]] == ["missing_shard"]
    os.remove(shard)
    # a truncated shard: the one-line error of a single file, naming the shard
    with open(os.path.join(HF, "pytorch_model-00002-of-00003.bin"), "rb") as f:
        data = f.read()
    with open(shard, "wb") as f:
        f.write(data[: len(data) // 2])
    result = ptview("ls", folder, check=False)
    assert result.returncode == 2
    assert "pytorch_model-00002-of-00003.bin" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    # an index that is not JSON
    with open(os.path.join(folder, "pytorch_model.bin.index.json"), "w") as f:
        f.write('{"weight_map": {"a": ')
    result = ptview("ls", folder, check=False)
    assert result.returncode == 2 and "pytorch_model.bin.index.json" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def without_a_storage_record(source, dest):
    """A copy of a torch zip without its first storage record: the pickle still reads."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(dest, "w") as out:
        names = [i.filename for i in src.infolist()]
        dropped = next(n for n in names if "/data/" in n)
        for info in src.infolist():
            if info.filename != dropped:
                out.writestr(info, src.read(info))


def test_a_shard_torch_refuses_fails_as_that_file_alone_would(tmp_path):
    # The shards are read before the index says which files are weights: a weights file's
    # problem must still be the error `ls` of that one file gives.
    folder = broken_copy(tmp_path, lambda m: None)
    name = "pytorch_model-00002-of-00003.bin"
    shard = os.path.join(folder, name)
    os.remove(shard)
    without_a_storage_record(os.path.join(HF, name), shard)
    with pytest.raises(Exception):
        torch.load(shard, map_location="cpu", weights_only=True)
    alone = ptview("ls", shard, check=False)
    assert alone.returncode == 2
    result = ptview("ls", "--json", folder, check=False)
    assert result.returncode == 2
    assert result.stderr == alone.stderr
    # The same damage in a file that holds no weights is no error: the shards are listed.
    os.remove(shard)
    shutil.copy(os.path.join(HF, name), shard)
    without_a_storage_record(os.path.join(HF, name), os.path.join(folder, "optimizer.pt"))
    rows = json.loads(ptview("ls", "--json", folder).stdout)
    weights = {(r["file"], r["key"]) for r in rows if r["file"] != "optimizer.pt"}
    assert weights == set(union_of_shards(HF))


def test_remap_json_report_names_every_file(tmp_path):
    out = str(tmp_path / "o")
    report = json.loads(ptview("remap", HF_CUDA, "--to", "cpu", "-o", out, "--json").stdout)
    actions = {f["file"]: f["action"] for f in report["files"]}
    assert actions == {n: ("rewritten" if n.endswith(".bin") else "copied") for n in os.listdir(HF_CUDA)}


def test_edit_that_renames_and_casts_writes_a_fresh_index(tmp_path):
    out = str(tmp_path / "renamed")
    ptview("edit", HF, "--rename", "transformer.=model.", "--cast", "bfloat16",
           "-o", out, "--no-progress")
    with open(os.path.join(out, "pytorch_model.bin.index.json")) as f:
        index = json.load(f)
    want = {}
    total = 0
    for name in shards(out):
        sd = torch.load(os.path.join(out, name))
        seen = set()
        for key, t in sd.items():
            want[key] = name
            assert t.dtype == torch.bfloat16 and (key.startswith("model.") or key == "lm_head.weight")
            storage = t.untyped_storage()
            if storage.data_ptr() not in seen:
                seen.add(storage.data_ptr())
                total += storage.nbytes()
    assert index["weight_map"] == want
    assert index["metadata"]["total_size"] == total
    assert len(want) == len(union_of_shards(HF))
    # choosing a new root is per file: refused on folders for now, leaving nothing behind
    refused = ptview("edit", HF, "--extract", "model", "-o", str(tmp_path / "d"), check=False)
    assert refused.returncode == 1 and "not yet on folders" in refused.stderr
    assert not os.path.exists(tmp_path / "d")
    info = json.loads(ptview("info", "--json", out).stdout)
    assert info["index"]["findings"] == []
    # a device move keeps the index byte for byte
    moved = str(tmp_path / "moved")
    ptview("remap", HF, "--to", "cpu", "-o", moved, "--no-progress")
    assert filecmp.cmp(os.path.join(HF, "pytorch_model.bin.index.json"),
                       os.path.join(moved, "pytorch_model.bin.index.json"), shallow=False)


def safetensors_shards(folder):
    return shard_names(folder, ST_INDEX)


def union_of_safetensors_shards(folder):
    """{(file, key): tensor} from safetensors.torch.load_file of every shard."""
    from safetensors.torch import load_file

    return {(name, key): t for key, (name, t) in weights_of(folder, ST_INDEX, load_file).items()}


def test_safetensors_folder_lists_the_union_of_its_shards():
    want = union_of_safetensors_shards(HF_ST)
    got, rows = listed(HF_ST)
    assert got == {k: (DTYPES[t.dtype], list(t.shape)) for k, t in want.items()}
    assert len(rows) == len(want) and all(r["device"] == "cpu" for r in rows)
    # the index file names the same folder
    assert listed(os.path.join(HF_ST, "model.safetensors.index.json"))[0] == got
    info = json.loads(ptview("info", "--json", HF_ST).stdout)
    assert info["index"]["findings"] == []
    files = {f["name"]: f for f in info["files"]}
    for name in safetensors_shards(HF_ST):
        assert files[name]["tensors"] == sum(1 for (f, _) in want if f == name)
        assert files[name].get("problem") is None
    # tree shows object graphs: each shard as a single safetensors file (which has none)
    tree = ptview("tree", HF_ST).stdout
    for name in safetensors_shards(HF_ST):
        assert f"== {name} (weights shard)" in tree
    assert tree.count("no pickle: safetensors") == len(safetensors_shards(HF_ST))


def test_safetensors_folder_stats_equal_load_file():
    want = {key: t for (_, key), t in union_of_safetensors_shards(HF_ST).items()}
    rows = json.loads(ptview("stats", "--json", HF_ST).stdout)
    assert sorted(r["key"] for r in rows) == sorted(want)
    for row in rows:
        v = want[row["key"]].reshape(-1).to(torch.float64)
        assert row["count"] == v.numel() and row["zeros"] == int((v == 0).sum())
        assert row["min"] == v.min().item() and row["max"] == v.max().item(), row
        assert abs(row["mean"] - v.mean().item()) <= 1e-12 * max(1.0, abs(v.mean().item()))


def test_safetensors_folder_scans_safe_and_doctor_says_it_loads():
    scan = ptview("scan", HF_ST, check=False)
    assert scan.returncode == 0, scan.stdout + scan.stderr
    doctor = json.loads(ptview("doctor", "--json", HF_ST, check=False).stdout)
    assert doctor["not_read"] == [] and doctor["index_findings"] == []
    assert doctor["verdict"] == "loads" and len(doctor["files"]) == len(safetensors_shards(HF_ST))


def test_safetensors_index_checks_as_for_bin(tmp_path):
    folder = str(tmp_path / "f")
    shutil.copytree(HF_ST, folder)
    os.remove(os.path.join(folder, safetensors_shards(folder)[1]))
    info = json.loads(ptview("info", "--json", folder).stdout)
    assert [f["kind"] for f in info["index"]["findings"]] == ["missing_shard"]
    # a shard whose header lies: the one-line error of a single file, naming the shard
    shutil.copytree(HF_ST, str(tmp_path / "g"))
    shard = os.path.join(str(tmp_path / "g"), safetensors_shards(HF_ST)[0])
    with open(shard, "r+b") as f:
        f.truncate(os.path.getsize(shard) - 4)
    result = ptview("ls", str(tmp_path / "g"), check=False)
    assert result.returncode == 2 and os.path.basename(shard) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_safetensors_folder_remap_copies_shards_and_loads(tmp_path):
    from transformers import AutoModelForCausalLM

    out = str(tmp_path / "cpu")
    report = json.loads(ptview("remap", HF_ST, "--to", "cpu", "-o", out, "--json").stdout)
    by_file = {f["file"]: f for f in report["files"]}
    assert set(by_file) == set(os.listdir(HF_ST))
    for name in os.listdir(HF_ST):
        assert by_file[name]["action"] == "copied"
    others_copied(HF_ST, out, lambda n: False)
    for name in safetensors_shards(HF_ST):
        assert by_file[name]["reason"] == "safetensors stores no devices"
    text = ptview("remap", HF_ST, "--to", "cpu", "-o", str(tmp_path / "t"), "--no-progress").stdout
    assert "copied unchanged (safetensors stores no devices)" in text
    model = AutoModelForCausalLM.from_pretrained(out)
    got = model.state_dict()
    for (_, key), t in union_of_safetensors_shards(HF_ST).items():
        assert torch.equal(got[key], t), key
    # edits other than a device move rewrite the shards (test_folder_writes.py judges them)


# MARK: - cat and diff of a folder or its index file


def st_load(path):
    from safetensors.torch import load_file
    return load_file(path)


def cat_expected(folder, index, loader, keys):
    """What cat prints for `keys` (several: each after a `KEY:` line), from the shards the
    index names as torch.load / safetensors' load_file read them."""
    weights = weights_of(folder, index, loader)
    if len(keys) == 1:
        return str(weights[keys[0]][1]) + "\n"
    return "\n".join(f"{k}:\n{weights[k][1]}\n" for k in keys)


@pytest.mark.parametrize("folder, index, loader", [(HF, BIN_INDEX, torch_load),
                                                   (HF_ST, ST_INDEX, st_load)])
def test_cat_of_a_folder_and_of_its_index_file_is_print_of_the_shard_tensor(folder, index, loader):
    weights = weights_of(folder, index, loader)
    names = shard_names(folder, index)
    # A key from the first and one from the last shard, and the largest tensor (a summary).
    first = next(k for k, (f, _) in weights.items() if f == names[0])
    last = next(k for k, (f, _) in weights.items() if f == names[-1])
    big = max(weights, key=lambda k: weights[k][1].numel())
    for path in (folder, os.path.join(folder, index), folder + "/"):
        for keys in ([last], [first, last, big]):
            result = ptview("cat", path, *keys)
            assert result.stderr == "" and result.stdout == cat_expected(folder, index, loader, keys)
    # --only over the index's keys, in the index's order.
    with open(os.path.join(folder, index)) as f:
        order = list(dict.fromkeys(json.load(f)["weight_map"]))
    matched = [k for k in order if k.endswith(".bias")]
    assert matched
    out = ptview("cat", os.path.join(folder, index), "--only", "*.bias").stdout
    assert out == cat_expected(folder, index, loader, matched)


def test_cat_of_an_index_names_a_missing_key_and_a_container(tmp_path):
    path = os.path.join(HF_ST, ST_INDEX)
    result = ptview("cat", path, "nope", check=False)
    assert result.returncode == 1 and result.stdout == "" and result.stderr.count("\n") == 1
    assert "no tensor has the key nope" in result.stderr
    result = ptview("cat", path, "transformer.h.0", check=False)
    assert result.returncode == 1 and "not one; --only 'transformer.h.0.*'" in result.stderr


def test_cat_of_an_index_whose_shard_lacks_the_key_says_so(tmp_path):
    copy = tmp_path / "m"
    shutil.copytree(HF_ST, copy)
    with open(copy / ST_INDEX) as f:
        index = json.load(f)
    names = shard_names(HF_ST, ST_INDEX)
    key = next(k for k, v in index["weight_map"].items() if v == names[0])
    index["weight_map"][key] = names[1]
    with open(copy / ST_INDEX, "w") as f:
        json.dump(index, f)
    result = ptview("cat", str(copy / ST_INDEX), key, check=False)
    assert result.returncode == 1 and result.stdout == "" and result.stderr.count("\n") == 1
    assert f"puts {key} in {names[1]}, which does not hold it" in result.stderr


def test_diff_of_a_folder_or_index_says_not_yet_in_one_line():
    for a, b in ((HF, HF_CUDA), (os.path.join(HF, BIN_INDEX), HF),
                 (os.path.join(HF, shard_names(HF)[0]), os.path.join(HF_CUDA, BIN_INDEX))):
        result = ptview("diff", a, b, check=False)
        assert result.returncode == 1 and result.stdout == "", (a, b)
        assert result.stderr.count("\n") == 1 and "not yet" in result.stderr, result.stderr
        assert "run ptview on its folder" not in result.stderr
