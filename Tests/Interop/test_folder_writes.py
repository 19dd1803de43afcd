"""Writing checkpoint folders (issue 12): edit of safetensors shards and selections by key on
any folder, export of a folder to shards of the other format or to one file, and Ctrl-C.

Judged by safetensors (load_file, safe_open), torch.load, transformers' from_pretrained and
huggingface_hub's own shard splitter, against the same edit done in Python on the original.
Fixtures: Tests/Fixtures/folders (Scripts/make_folder_fixtures.py); the interrupt tests build
a bigger folder with torch.save in a temporary directory.
"""
from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from folder_support import (
    FOLDERS, HF, HF_ST, bits_equal, index_of, no_leftovers, others_copied, torch_load, weights_of)
from interop_support import PTVIEW, ptview, torch

HF_VIEWS = os.path.join(FOLDERS, "hf_bin_views")

try:
    import huggingface_hub
    import safetensors  # noqa: F401
    import transformers  # noqa: F401
except ImportError as error:  # pragma: no cover
    if os.environ.get("CI") == "true":
        raise SystemExit(f"transformers and safetensors are required under CI: {error}")
    pytest.skip("transformers or safetensors is not installed", allow_module_level=True)

from safetensors import safe_open  # noqa: E402
from safetensors.torch import load_file  # noqa: E402


# --- edit --------------------------------------------------------------------------------


def test_edit_of_safetensors_shards_renames_casts_and_drops(tmp_path):
    out = str(tmp_path / "out")
    result = ptview("edit", HF_ST, "--rename", "transformer.=model.", "--cast", "bf16",
                    "--drop", "model.h.1.mlp.*", "-o", out, "--no-progress")
    assert "rewritten" in result.stdout
    original = weights_of(HF_ST, "model.safetensors.index.json", load_file)
    want = {}
    for key, (name, t) in original.items():
        new = "model." + key[len("transformer."):] if key.startswith("transformer.") else key
        if new.startswith("model.h.1.mlp."):
            continue
        want[new] = (name, t.to(torch.bfloat16) if t.is_floating_point() else t)
    index = index_of(out, "model.safetensors.index.json")
    got = weights_of(out, "model.safetensors.index.json", load_file)
    assert set(got) == set(want)
    for key, (name, t) in want.items():
        assert got[key][0] == name and bits_equal(got[key][1], t), key
    assert index["weight_map"] == {k: v[0] for k, v in want.items()}
    assert index["metadata"]["total_size"] == sum(t.numel() * t.element_size() for _, t in want.values())
    # each shard keeps its metadata (format: pt) and is read by safe_open
    for name in set(index["weight_map"].values()):
        with safe_open(os.path.join(out, name), "pt") as a, safe_open(os.path.join(HF_ST, name), "pt") as b:
            assert a.metadata() == b.metadata() and a.metadata()["format"] == "pt"
    others_copied(HF_ST, out, lambda n: n.endswith(".safetensors") or n.endswith(".index.json"))
    assert sorted(os.listdir(out)) == sorted(os.listdir(HF_ST))
    assert no_leftovers(tmp_path)
    assert json.loads(ptview("info", "--json", out).stdout)["index"]["findings"] == []


def test_cast_of_safetensors_folder_loads_as_transformers_casts_it(tmp_path):
    from transformers import AutoModelForCausalLM

    out = str(tmp_path / "bf16")
    report = json.loads(ptview("edit", HF_ST, "--cast", "bf16", "-o", out, "--json").stdout)
    actions = {f["file"]: f["action"] for f in report["files"]}
    assert all(actions[n] == "rewritten" for n in actions if n.endswith(".safetensors"))
    want = AutoModelForCausalLM.from_pretrained(HF_ST, torch_dtype=torch.bfloat16).state_dict()
    got = AutoModelForCausalLM.from_pretrained(out, torch_dtype=torch.bfloat16).state_dict()
    assert set(got) == set(want)
    for key in want:
        assert bits_equal(got[key], want[key]), key


def test_strip_prefix_on_safetensors_folder(tmp_path):
    out = str(tmp_path / "plain")
    ptview("edit", HF_ST, "--strip-prefix", "transformer", "-o", out, "--no-progress")
    original = weights_of(HF_ST, "model.safetensors.index.json", load_file)
    got = weights_of(out, "model.safetensors.index.json", load_file)
    want = {k[len("transformer."):] if k.startswith("transformer.") else k: v for k, v in original.items()}
    assert set(got) == set(want)
    for key, (name, t) in want.items():
        assert got[key][0] == name and bits_equal(got[key][1], t), key


def test_drop_and_keep_on_a_bin_folder_are_planned_over_the_model(tmp_path):
    from transformers import AutoModelForCausalLM

    out = str(tmp_path / "dropped")
    ptview("edit", HF, "--drop", "lm_head.weight", "-o", out, "--no-progress")
    original = weights_of(HF, "pytorch_model.bin.index.json", torch_load)
    got = weights_of(out, "pytorch_model.bin.index.json", torch_load)
    assert "lm_head.weight" in original and set(got) == set(original) - {"lm_head.weight"}
    for key in got:
        assert got[key][0] == original[key][0] and bits_equal(got[key][1], original[key][1]), key
    # the tied head comes back from the embeddings, as transformers ties it
    want = AutoModelForCausalLM.from_pretrained(HF).state_dict()
    loaded = AutoModelForCausalLM.from_pretrained(out).state_dict()
    for key in want:
        assert bits_equal(loaded[key], want[key]), key
    # --keep: shards none of whose keys match lose every entry; the index names the rest
    kept = str(tmp_path / "kept")
    ptview("edit", HF, "--keep", "transformer.h.0.*", "-o", kept, "--no-progress")
    got = weights_of(kept, "pytorch_model.bin.index.json", torch_load)
    assert set(got) == {k for k in original if k.startswith("transformer.h.0.")}
    for name in os.listdir(kept):
        if name.endswith(".bin"):
            assert set(torch_load(os.path.join(kept, name))) <= set(got)


def test_folder_key_edits_refuse_in_one_line_and_leave_nothing(tmp_path):
    for folder in (HF, HF_ST):
        for args, words in [
            (["--drop", "nothing.*"], "no key matches"),
            (["--rename", "nothing.=x."], "no key starts with it"),
            (["--extract", "model"], "not yet on folders"),
            (["--rename", "transformer.h.0.=transformer.h.1."], "would both become"),
        ]:
            out = tmp_path / "x"
            result = ptview("edit", folder, *args, "-o", str(out), check=False)
            assert result.returncode == 1, (args, result.stderr)
            assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
            assert not out.exists() and no_leftovers(tmp_path)


# --- export ------------------------------------------------------------------------------


def test_export_of_bin_folder_writes_what_save_pretrained_writes(tmp_path):
    from transformers import AutoModelForCausalLM

    out = str(tmp_path / "st")
    ptview("export", HF, "-o", out, "--no-progress")
    # a small model: one model.safetensors, no index (save_pretrained's 5GB default)
    assert sorted(os.listdir(out)) == sorted(
        ["model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json"])
    others_copied(HF, out, lambda n: n.endswith(".bin") or n.endswith(".index.json"))
    original = weights_of(HF, "pytorch_model.bin.index.json", torch_load)
    got = load_file(os.path.join(out, "model.safetensors"))
    assert set(got) == set(original)
    for key, (_, t) in original.items():
        assert bits_equal(got[key], t), key
    with safe_open(os.path.join(out, "model.safetensors"), "pt") as f:
        assert f.metadata() == {"format": "pt"}
    want = AutoModelForCausalLM.from_pretrained(HF).state_dict()
    loaded = AutoModelForCausalLM.from_pretrained(out, use_safetensors=True).state_dict()
    for key in want:
        assert bits_equal(loaded[key], want[key]), key
    assert no_leftovers(tmp_path)


def test_export_max_shard_size_splits_as_huggingface_hub_does(tmp_path):
    from huggingface_hub import split_torch_state_dict_into_shards
    from transformers import AutoModelForCausalLM

    out = str(tmp_path / "shards")
    ptview("export", HF, "-o", out, "--max-shard-size", "10KB", "--no-progress")
    original = weights_of(HF, "pytorch_model.bin.index.json", torch_load)
    # every key its own bytes, in the folder's order (file by file)
    state = {}
    for name in sorted(set(index_of(HF, "pytorch_model.bin.index.json")["weight_map"].values())):
        for key, t in torch_load(os.path.join(HF, name)).items():
            state[key] = t.clone()
    split = split_torch_state_dict_into_shards(
        state, filename_pattern="model{suffix}.safetensors", max_shard_size=10_000)
    assert split.is_sharded
    index = index_of(out, "model.safetensors.index.json")
    assert index["weight_map"] == split.tensor_to_filename
    assert index["metadata"]["total_size"] == split.metadata["total_size"]
    for name, keys in split.filename_to_tensors.items():
        got = load_file(os.path.join(out, name))
        assert sorted(got) == sorted(keys)
        for key in keys:
            assert bits_equal(got[key], original[key][1]), key
    want = AutoModelForCausalLM.from_pretrained(HF).state_dict()
    loaded = AutoModelForCausalLM.from_pretrained(out).state_dict()
    for key in want:
        assert bits_equal(loaded[key], want[key]), key


def test_export_of_safetensors_folder_writes_bin_shards(tmp_path):
    from transformers import AutoModelForCausalLM

    original = weights_of(HF_ST, "model.safetensors.index.json", load_file)
    want = AutoModelForCausalLM.from_pretrained(HF_ST).state_dict()
    one = str(tmp_path / "one")
    ptview("export", HF_ST, "-o", one, "--no-progress")
    assert "pytorch_model.bin" in os.listdir(one) and not any(
        n.endswith(".safetensors") or n.endswith(".index.json") for n in os.listdir(one))
    sd = torch.load(os.path.join(one, "pytorch_model.bin"))  # torch's defaults
    assert set(sd) == set(original)
    for key, (_, t) in original.items():
        assert bits_equal(sd[key], t), key
    many = str(tmp_path / "many")
    ptview("export", HF_ST, "-o", many, "--max-shard-size", "12KB", "--no-progress")
    index = index_of(many, "pytorch_model.bin.index.json")
    names = sorted(set(index["weight_map"].values()))
    assert len(names) > 1
    assert names == [f"pytorch_model-{i:05d}-of-{len(names):05d}.bin" for i in range(1, len(names) + 1)]
    got = weights_of(many, "pytorch_model.bin.index.json", torch.load)
    assert set(got) == set(original)
    for key, (name, t) in got.items():
        assert index["weight_map"][key] == name and bits_equal(t, original[key][1]), key
    others_copied(HF_ST, many, lambda n: n.endswith(".safetensors") or n.endswith(".index.json"))
    for folder in (one, many):
        loaded = AutoModelForCausalLM.from_pretrained(folder, use_safetensors=False).state_dict()
        for key in want:
            assert bits_equal(loaded[key], want[key]), key


@pytest.mark.parametrize("folder,index,loader", [
    (HF, "pytorch_model.bin.index.json", torch_load),
    (HF_ST, "model.safetensors.index.json", load_file),
])
def test_export_of_folder_to_one_file(tmp_path, folder, index, loader):
    original = weights_of(folder, index, loader)
    st = str(tmp_path / "model.safetensors")
    pt = str(tmp_path / "model.pt")
    ptview("export", folder, "-o", st, "--no-progress")
    ptview("export", folder, "-o", pt, "--no-progress")
    for got in (load_file(st), torch.load(pt)):
        assert set(got) == set(original)
        for key, (_, t) in original.items():
            assert bits_equal(got[key], t), key
    report = json.loads(ptview("export", folder, "-o", st, "--force", "--json").stdout)
    assert report["tensors"] == len(original) and report["verified"]
    # --only selects keys of the whole model
    only = str(tmp_path / "only.safetensors")
    ptview("export", folder, "-o", only, "--only", "transformer.h.1.*", "--no-progress")
    assert set(load_file(only)) == {k for k in original if k.startswith("transformer.h.1.")}


def test_export_of_folder_with_views_to_one_torch_file(tmp_path):
    """Shards holding strided views of one storage (a fused projection split in three, a
    column-major weight) become one torch file where they are still views of one storage,
    with torch's own offsets and strides; tied weights stay tied."""
    original = weights_of(HF_VIEWS, "pytorch_model.bin.index.json", torch_load)
    pt = str(tmp_path / "model.pt")
    ptview("export", HF_VIEWS, "-o", pt, "--no-progress")
    got = torch_load(pt)
    assert set(got) == set(original)
    for key, (_, t) in original.items():
        assert bits_equal(got[key], t), key
        assert (got[key].stride(), got[key].storage_offset()) == (t.stride(), t.storage_offset()), key
    attn = "transformer.h.0.attn."
    fused = got[attn + "c_attn.weight"].untyped_storage().data_ptr()
    for name in ("q_proj", "k_proj", "v_proj"):
        assert got[attn + name + ".weight"].untyped_storage().data_ptr() == fused, name
    assert not got["transformer.h.1.attn.c_attn.weight"].is_contiguous()
    tied = [got[k].untyped_storage().data_ptr() for k in ("lm_head.weight", "transformer.wte.weight")]
    assert tied[0] == tied[1]
    # Written once: the file holds each storage's bytes once, not once per view.
    stored = sum(t.untyped_storage().nbytes() for t in {
        t.untyped_storage().data_ptr(): t for t in got.values()}.values())
    assert os.path.getsize(pt) < stored + 64 * 1024


def test_export_of_folder_refuses_existing_output(tmp_path):
    out = tmp_path / "exists"
    out.mkdir()
    result = ptview("export", HF, "-o", str(out), check=False)
    assert result.returncode == 1 and "--force" in result.stderr
    assert os.listdir(out) == []
    ptview("export", HF, "-o", str(out), "--force", "--no-progress")
    assert "model.safetensors" in os.listdir(out) and no_leftovers(tmp_path)


# --- Ctrl-C ------------------------------------------------------------------------------


def big_folder(path, shards=6, mb=40):
    """A .bin shard folder of `shards` files of `mb` MB each, with its index."""
    os.makedirs(path)
    weight_map = {}
    generator = torch.Generator().manual_seed(0)
    for i in range(shards):
        name = f"pytorch_model-{i + 1:05d}-of-{shards:05d}.bin"
        sd = {f"layer.{i}.{j}.weight": torch.randn(mb * 1024 * 256 // 8, generator=generator)
              for j in range(8)}
        torch.save(sd, os.path.join(path, name))
        weight_map.update({k: name for k in sd})
    with open(os.path.join(path, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": shards * mb << 20}, "weight_map": weight_map}, f)
    return {n: os.stat(os.path.join(path, n)).st_mtime_ns for n in os.listdir(path)}


def interrupt_when_writing(args, parent, temp_glob, sig):
    process = subprocess.Popen([PTVIEW, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    started = False
    while time.monotonic() < deadline and process.poll() is None:
        try:
            found = glob.glob(os.path.join(parent, temp_glob))
            if found and (not os.path.isdir(found[0]) or os.listdir(found[0])):
                started = True
                break
        except FileNotFoundError:
            pass
        time.sleep(0.005)
    assert started, "the write never started (or ended before it could be interrupted)"
    process.send_signal(sig)
    process.wait(timeout=60)
    return process.returncode


@pytest.mark.parametrize("verb,sig,code", [
    ("remap", signal.SIGINT, 130), ("export", signal.SIGTERM, 143), ("edit", signal.SIGINT, 130)])
def test_interrupted_folder_write_leaves_nothing(tmp_path, verb, sig, code):
    source = str(tmp_path / "in")
    before = big_folder(source)
    out = str(tmp_path / "out")
    args = {"remap": ["remap", source, "--to", "cpu", "-o", out],
            "export": ["export", source, "-o", out],
            "edit": ["edit", source, "--cast", "bf16", "-o", out]}[verb]
    assert interrupt_when_writing([*args, "--no-progress"], str(tmp_path), ".out.ptview-*", sig) == code
    assert sorted(os.listdir(tmp_path)) == ["in"]
    assert {n: os.stat(os.path.join(source, n)).st_mtime_ns for n in os.listdir(source)} == before


def test_interrupted_replacement_keeps_the_old_output(tmp_path):
    source = str(tmp_path / "in")
    big_folder(source, shards=4)
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    args = ["remap", source, "--to", "cpu", "-o", str(out), "--force", "--no-progress"]
    assert interrupt_when_writing(args, str(tmp_path), ".out.ptview-*", signal.SIGINT) == 130
    assert sorted(os.listdir(tmp_path)) == ["in", "out"] and os.listdir(out) == ["old.txt"]


def test_interrupted_single_file_write_leaves_nothing(tmp_path):
    source = str(tmp_path / "in")
    big_folder(source, shards=1, mb=200)
    one = os.path.join(source, "pytorch_model.bin")
    os.rename(os.path.join(source, "pytorch_model-00001-of-00001.bin"), one)
    out = str(tmp_path / "out.safetensors")
    args = ["export", one, "-o", out, "--no-progress"]
    assert interrupt_when_writing(args, str(tmp_path), ".out.safetensors.ptview-*", signal.SIGINT) == 130
    assert sorted(os.listdir(tmp_path)) == ["in"]


# --- memory ------------------------------------------------------------------------------


def many_tensor_folder(path, shards, per=5000):
    """Shards of `per` tiny tensors each: memory goes to the pickles, not the data."""
    os.makedirs(path)
    weight_map = {}
    for i in range(shards):
        name = f"pytorch_model-{i + 1:05d}-of-{shards:05d}.bin"
        sd = {f"model.layers.{i}.block.{j}.weight": torch.full((4,), float(j)) for j in range(per)}
        torch.save(sd, os.path.join(path, name))
        weight_map.update({k: name for k in sd})
    with open(os.path.join(path, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": shards * per * 16}, "weight_map": weight_map}, f)


# Measured by a small Python parent: a child forked from this process (torch loaded) would
# inherit its peak, which Linux carries across exec.
PEAK = """
import os, sys
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def peak_kb(args):
    """The peak resident size of one ptview run, in KiB."""
    result = subprocess.run([sys.executable, "-c", PEAK, PTVIEW, *args],
                            capture_output=True, text=True, check=True)
    peak, code = map(int, result.stdout.split())
    assert code == 0, result.stderr
    return peak


def least_peak_kb(args, out, runs=2):
    """The least peak of `runs` runs: two workers' peaks meet in some runs and not in others,
    which moves one run's peak by a few MB; the least is the steady part."""
    peaks = []
    for _ in range(runs):
        peaks.append(peak_kb([*args, "-o", out, "--no-progress"]))
        subprocess.run(["rm", "-rf", out], check=True)
    return min(peaks)


def test_folder_writes_hold_two_files_pickles_not_the_folders(tmp_path):
    few, many = str(tmp_path / "few"), str(tmp_path / "many")
    many_tensor_folder(few, 2)
    many_tensor_folder(many, 8)
    out = str(tmp_path / "out")
    # What six more shards' pickles cost when all are held: `ls` merges every file.
    held = peak_kb(["ls", many]) - peak_kb(["ls", few])
    assert held > 20_000, held

    def grew(*args):
        # The many-shard run meets both workers' peaks every time; the two-shard one not always.
        return least_peak_kb([args[0], many, *args[1:]], out, runs=1) - least_peak_kb(
            [args[0], few, *args[1:]], out)

    # remap holds two files' pickles at a time and nothing per shard: the index's weight map
    # (a string pair per tensor of the folder) grew it by about a quarter of `held` before.
    remap = grew("remap", "--to", "cpu")
    assert remap < 0.18 * held, (remap, held)
    # export to shards holds the plan of the shard being filled and a packed key per tensor
    # for the index; all shards' plans at once grew it by over half of `held` before.
    export = grew("export", "--max-shard-size", "100KB")
    assert export < 0.4 * held, (export, held)
