"""torch.distributed.checkpoint folders in stats, cat, diff, doctor, scan and remap, judged by
torch: values against what dcp_to_torch_save writes (read back with torch.load), verdicts
against the fixtures' known damage (Scripts/make_dcp_fixtures.py writes them all with real
dcp.save; the hostile ones are damaged copies or pickles that name os.system)."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from interop_support import REPO, dotted_tensors, ptview, torch
from test_stats import FIELDS, check

import torch.distributed.checkpoint as dcp  # noqa: E402
from torch.distributed.checkpoint.format_utils import dcp_to_torch_save  # noqa: E402

DCP = os.path.join(REPO, "Tests", "Fixtures", "dcp")
HOSTILE = os.path.join(REPO, "Tests", "Fixtures", "dcp_hostile")
# tensor_values: tensors inside pickled tuples, named as in a single file (opt.0.buf).
FOLDERS = ["plain", "nested", "values", "sharded", "tensor_values", "../torch/dcp_ckpt"]
DEEPSPEED = os.path.join(REPO, "Tests", "Fixtures", "folders", "deepspeed")


def torch_save_of(name, tmp_path):
    out = tmp_path / (os.path.basename(name) + ".pt")
    dcp_to_torch_save(os.path.join(DCP, name), str(out))
    return str(out)


@pytest.mark.parametrize("name", FOLDERS)
def test_stats_equal_torch_on_dcp_to_torch_save(name, tmp_path):
    saved = torch_save_of(name, tmp_path)
    rows = json.loads(ptview("stats", "--json", os.path.join(DCP, name)).stdout)
    assert rows and all(list(r) == FIELDS for r in rows)
    # Every tensor torch's file holds is a row, and every row agrees with torch.
    from interop_support import dotted_tensors, load_on_cpu

    assert sorted(r["key"] for r in rows) == sorted(dotted_tensors(load_on_cpu(saved)))
    assert check(saved, rows) == len(rows)


@pytest.mark.parametrize("name", FOLDERS)
def test_cat_equals_str_of_every_tensor(name, tmp_path):
    from interop_support import dotted_tensors, load_on_cpu

    saved = torch_save_of(name, tmp_path)
    tensors = dotted_tensors(load_on_cpu(saved))
    for key, t in tensors.items():
        result = ptview("cat", os.path.join(DCP, name), key, check=False)
        assert result.returncode == 0, (key, result.stderr)
        assert result.stdout == str(t) + "\n", key


@pytest.mark.parametrize("name", FOLDERS)
def test_diff_against_its_own_torch_save_is_identical(name, tmp_path):
    saved = torch_save_of(name, tmp_path)
    folder = os.path.join(DCP, name)
    for a, b in ((folder, saved), (saved, folder), (folder, folder)):
        result = ptview("diff", "--json", a, b, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        report = json.loads(result.stdout)
        assert report["only_a"] == [] and report["only_b"] == [] and report["changed"] == []


def test_diff_names_the_keys_a_modified_save_changed(tmp_path):
    # Load the sharded fixture with torch, change two tensors, save it as DCP again.
    saved = torch_save_of("sharded", tmp_path)
    sd = torch.load(saved, weights_only=False)
    sd["w"][2, 1] += 1.0
    sd["ints"] = sd["ints"] * 2
    del sd["rep"]
    changed = tmp_path / "changed"
    dcp.save(sd, checkpoint_id=str(changed), no_dist=True)
    result = ptview("diff", "--json", os.path.join(DCP, "sharded"), str(changed), check=False)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["only_a"] == ["rep"] and report["only_b"] == []
    assert sorted(c["key"] for c in report["changed"]) == ["ints", "w"]
    by_key = {c["key"]: c for c in report["changed"]}
    want = float((sd["w"].double() - torch.load(saved)["w"].double()).abs().max())
    assert by_key["w"]["max_abs_diff"] == want


@pytest.mark.parametrize("name", FOLDERS)
def test_doctor_passes_real_folders(name):
    result = ptview("doctor", "--json", os.path.join(DCP, name), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["format"] == "dcp" and report["problems"] == []


@pytest.mark.parametrize(
    "name,file,words",
    [
        ("missing_file", ".metadata", "__1_0.distcp, which is not in the folder"),
        ("truncated", ".metadata", "outside __1_0.distcp"),
        ("overlap", ".metadata", "overlap"),
        ("wrong_dtype", "__", "not a contiguous int64 tensor"),
        ("zeroed_value", "__0_0.distcp", "note"),
    ],
)
def test_doctor_names_damage_with_file_and_offset(name, file, words):
    result = ptview("doctor", "--json", os.path.join(HOSTILE, name), check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    problems = json.loads(result.stdout)["problems"]
    assert problems, result.stdout
    for p in problems:
        assert "\n" not in p["message"] and "byte" in p["message"], p
    assert any(p["file"].startswith(file) and words in p["message"] for p in problems), problems
    # The text form: one line per problem, the verdict last.
    text = ptview("doctor", os.path.join(HOSTILE, name), check=False)
    assert text.returncode == 2 and text.stdout.splitlines()[-1].startswith("unreadable")


def test_doctor_lists_every_broken_key_not_only_the_first(tmp_path):
    folder = tmp_path / "two"
    shutil.copytree(os.path.join(DCP, "nested"), folder)
    import pickle

    meta = pickle.loads((folder / ".metadata").read_bytes())
    infos = [info for index, info in meta.storage_data.items() if index.fqn in ("note", "epoch")]
    path = folder / infos[0].relative_path
    data = bytearray(path.read_bytes())
    for info in infos:
        data[info.offset:info.offset + info.length] = b"\0" * info.length
    path.write_bytes(bytes(data))
    problems = json.loads(ptview("doctor", "--json", str(folder), check=False).stdout)["problems"]
    assert sorted(p["message"].split(":")[0] for p in problems) == ["epoch", "note"]


def scan(path):
    result = ptview("scan", "--json", path, check=False)
    return result.returncode, json.loads(result.stdout)


@pytest.mark.parametrize("name", ["plain", "nested", "values", "sharded"])
def test_scan_judges_every_distcp_archive(name):
    code, report = scan(os.path.join(DCP, name))
    by_name = {os.path.basename(f["path"]): f for f in report["files"]}
    distcp = [n for n in by_name if n.endswith(".distcp")]
    assert distcp and ".metadata" in by_name
    for n in distcp:
        assert by_name[n]["format"] == "DCP .distcp file"
        assert by_name[n]["verdict"] == "safe", by_name[n]
    assert report["exit_code"] == code
    # .metadata names only DCP's dataclasses (dcp.load uses pickle.load): safe by content,
    # with a note saying so.
    meta = by_name[".metadata"]
    assert meta["verdict"] == "safe" and any("DCP's own metadata types" in n for n in meta["notes"])


def test_scan_keeps_a_metadata_with_another_class_suspicious(tmp_path):
    # Only DCP's own types make a .metadata safe: one more class (harmless here, but not
    # what torch writes) keeps the verdict suspicious, with no DCP note.
    import fractions
    import pickle
    import shutil

    folder = tmp_path / "dcp"
    shutil.copytree(os.path.join(DCP, "plain"), folder)
    with open(folder / ".metadata", "rb") as f:
        metadata = pickle.load(f)  # a fixture torch wrote
    metadata.planner_data = {"ratio": fractions.Fraction(1, 3)}
    with open(folder / ".metadata", "wb") as f:
        pickle.dump(metadata, f)
    code, report = scan(str(folder))
    meta = [f for f in report["files"] if f["path"].endswith(".metadata")][0]
    assert code == 3 and meta["verdict"] == "suspicious", meta
    assert any(f.get("global") == "fractions.Fraction" for f in meta["findings"])
    assert not any("DCP's own metadata types" in n for n in meta["notes"])


def test_scan_flags_a_pickled_value_that_calls_os_system():
    code, report = scan(os.path.join(HOSTILE, "evil_value"))
    assert code == 4 and report["verdict"] == "dangerous"
    distcp = [f for f in report["files"] if f["path"].endswith(".distcp")][0]
    assert distcp["verdict"] == "dangerous"
    hits = [f for f in distcp["findings"] if f.get("global") == "posix.system" or "system" in json.dumps(f)]
    assert hits and all(h["location"].startswith("hook @ byte ") for h in hits)


def test_scan_flags_a_metadata_that_calls_os_system():
    code, report = scan(os.path.join(HOSTILE, "evil_metadata"))
    assert code == 4
    meta = [f for f in report["files"] if f["path"].endswith(".metadata")][0]
    assert meta["verdict"] == "dangerous" and not any("DCP" in n for n in meta["notes"])


def test_scan_of_a_deepspeed_folder_is_clean_and_notes_text_files():
    code, report = scan(DEEPSPEED)
    assert code == 0, report
    by_name = {os.path.basename(f["path"]): f for f in report["files"]}
    assert by_name["latest"]["verdict"] == "safe" and by_name["latest"]["notes"]
    assert by_name["zero_to_fp32.py"]["format"].startswith("Python script")
    assert "latest" in by_name and by_name["latest"]["format"].startswith("text file")


def test_scan_still_flags_a_malicious_deepspeed_model_states(tmp_path):
    import pickle

    folder = tmp_path / "ds"
    shutil.copytree(DEEPSPEED, folder)

    class CallsSystem:
        def __reduce__(self):
            return (os.system, ("echo scanned fixture was unpickled",))

    target = folder / "global_step2" / "mp_rank_00_model_states.pt"
    target.write_bytes(pickle.dumps({"module": CallsSystem()}, protocol=2))
    code, report = scan(str(folder))
    assert code == 4
    by_name = {os.path.basename(f["path"]): f for f in report["files"]}
    assert by_name["mp_rank_00_model_states.pt"]["verdict"] == "dangerous"
    assert by_name["latest"]["verdict"] == "safe"


def test_a_protocol_0_pickle_is_not_mistaken_for_text(tmp_path):
    path = tmp_path / "latest"
    path.write_bytes(b"cos\nsystem\n(S'echo x'\ntR.")
    code, report = scan(str(path))
    assert code == 4 and report["files"][0]["verdict"] == "dangerous"


def test_remap_of_a_folder_without_devices_has_nothing_to_do(tmp_path):
    out = tmp_path / "out"
    result = ptview("remap", os.path.join(DCP, "sharded"), "--to", "cpu", "-o", str(out), check=False)
    assert result.returncode == 0, result.stderr
    assert "nothing to remap" in result.stdout and len(result.stdout.splitlines()) == 1
    assert not out.exists()


def source_on_cpu(folder):
    """The source folder's state dict as torch reads it with map_location="cpu": tensors
    through dcp.load, pickled values through torch.load of their byte range (dcp.load itself
    cannot: it restores them on the GPU they name)."""
    import io

    meta = dcp.FileSystemReader(folder).read_metadata()
    from torch.distributed.checkpoint.metadata import TensorStorageMetadata

    tensors = {
        k: torch.empty(v.size, dtype=v.properties.dtype)
        for k, v in meta.state_dict_metadata.items()
        if isinstance(v, TensorStorageMetadata)
    }
    dcp.load(tensors, checkpoint_id=folder)
    out = {}
    for key in meta.state_dict_metadata:
        if key in tensors:
            out[key] = tensors[key]
            continue
        info = [v for k, v in meta.storage_data.items() if k.fqn == key][0]
        with open(os.path.join(folder, info.relative_path), "rb") as f:
            f.seek(info.offset)
            out[key] = torch.load(io.BytesIO(f.read(info.length)), map_location="cpu", weights_only=False)
    return out


def folder_digest(folder):
    import hashlib

    return {n: hashlib.sha256(open(os.path.join(folder, n), "rb").read()).hexdigest() for n in sorted(os.listdir(folder))}


def check_remapped(source, out, tmp_path):
    """OUT loads with real torch on a CPU-only machine and equals the source on the CPU."""
    from test_dcp import same

    expected = source_on_cpu(source)
    # dcp_to_torch_save, then a plain torch.load (weights_only=True, no map_location).
    saved = tmp_path / "x.pt"
    dcp_to_torch_save(str(out), str(saved))
    same(expected, torch.load(str(saved)))
    # dcp.load into a state dict on the CPU.
    meta = dcp.FileSystemReader(str(out)).read_metadata()
    sd = {k: (torch.empty_like(v) if isinstance(v, torch.Tensor) else None) for k, v in expected.items()}
    dcp.load(sd, checkpoint_id=str(out))
    same(expected, sd)
    for t in dotted_tensors(sd).values():
        assert t.device.type == "cpu"
    # .metadata: the same pickle, only storage_data offsets and lengths may differ.
    before = dcp.FileSystemReader(source).read_metadata()
    assert meta.state_dict_metadata == before.state_dict_metadata
    assert meta.planner_data == before.planner_data
    assert list(meta.storage_data) == list(before.storage_data)
    assert [v.relative_path for v in meta.storage_data.values()] == [v.relative_path for v in before.storage_data.values()]
    return meta, before


@pytest.mark.parametrize("name", ["cuda_value", "cuda_values"])
def test_remap_rewrites_pickled_gpu_values_and_torch_loads_them_on_cpu(name, tmp_path):
    folder = os.path.join(HOSTILE, name)
    digest = folder_digest(folder)
    out = tmp_path / "out"
    result = ptview("remap", folder, "--to", "cpu", "-o", str(out), check=False)
    assert result.returncode == 0, result.stderr
    assert folder_digest(folder) == digest  # the input is never modified
    meta, before = check_remapped(folder, out, tmp_path)
    if name == "cuda_values":
        # "many" (24 storages on cuda:1) got shorter: every later range in the file moved.
        old = {k.fqn: v for k, v in before.storage_data.items()}
        new = {k.fqn: v for k, v in meta.storage_data.items()}
        assert new["many"].length < old["many"].length
        shrink = old["many"].length - new["many"].length
        assert new["w"].offset == old["w"].offset - shrink and new["b"].offset == old["b"].offset - shrink
        assert os.path.getsize(out / "__0_0.distcp") == os.path.getsize(os.path.join(folder, "__0_0.distcp")) - shrink


def test_remap_dcp_json_names_every_moved_value(tmp_path):
    out = tmp_path / "out"
    result = ptview("remap", "--json", os.path.join(HOSTILE, "cuda_values"), "--to", "cpu", "-o", str(out))
    report = json.loads(result.stdout)
    assert report["written"] is True
    assert [v["key"] for v in report["values"]] == ["pair", "many"]
    assert {m["from"] for m in report["values"][1]["moves"]} == {"cuda:1"}
    assert report["rewritten_files"] == ["__0_0.distcp"]


def test_remap_dcp_only_moves_the_selected_value(tmp_path):
    folder = os.path.join(HOSTILE, "cuda_values")
    out = tmp_path / "out"
    ptview("remap", folder, "--to", "cpu", "--only", "pair.*", "-o", str(out))
    meta = dcp.FileSystemReader(str(out)).read_metadata()
    info = {k.fqn: v for k, v in meta.storage_data.items()}
    with open(out / info["many"].relative_path, "rb") as f:
        f.seek(info["many"].offset)
        assert b"cuda:1" in f.read(info["many"].length)
    sd = {"pair": None}
    dcp.load(sd, checkpoint_id=str(out))
    assert sd["pair"][0].device.type == "cpu" and sd["pair"][0].tolist() == [0.0, 1.0, 2.0]


def test_remap_dcp_patches_an_integer_whose_encoding_changes_width(tmp_path):
    # The same checkpoint with 56800 bytes of padding at the start of its file: w sits at
    # 65700 (a 4-byte BININT in .metadata) and moves below 65536 (a 2-byte BININT2), so the
    # pickle's FRAME must shrink with it.
    import pickle

    folder = tmp_path / "padded"
    shutil.copytree(os.path.join(HOSTILE, "cuda_values"), folder)
    pad = 56800
    data = (folder / "__0_0.distcp").read_bytes()
    (folder / "__0_0.distcp").write_bytes(b"\0" * pad + data)
    with open(folder / ".metadata", "rb") as f:
        meta = pickle.load(f)  # our own fixture's metadata
    for info in meta.storage_data.values():
        info.offset += pad
    with open(folder / ".metadata", "wb") as f:
        pickle.dump(meta, f)
    out = tmp_path / "out"
    ptview("remap", str(folder), "--to", "cpu", "-o", str(out))
    meta, before = check_remapped(str(folder), out, tmp_path)
    old = {k.fqn: v.offset for k, v in before.storage_data.items()}
    new = {k.fqn: v.offset for k, v in meta.storage_data.items()}
    assert old["w"] >= 65536 > new["w"]
    assert os.path.getsize(out / ".metadata") == os.path.getsize(folder / ".metadata") - 2


def test_remap_dcp_refuses_ranges_that_overlap_the_value(tmp_path):
    import pickle

    folder = tmp_path / "overlap"
    shutil.copytree(os.path.join(HOSTILE, "cuda_values"), folder)
    with open(folder / ".metadata", "rb") as f:
        meta = pickle.load(f)
    info = {k.fqn: v for k, v in meta.storage_data.items()}
    info["w"].offset = info["many"].offset + 100  # w now claims bytes inside "many"
    with open(folder / ".metadata", "wb") as f:
        pickle.dump(meta, f)
    out = tmp_path / "out"
    result = ptview("remap", str(folder), "--to", "cpu", "-o", str(out), check=False)
    line = result.stderr.strip()
    assert result.returncode == 2 and "\n" not in line
    assert "__0_0.distcp" in line and f"byte {info['many'].offset}" in line and "overlaps" in line
    assert not out.exists() and not [n for n in os.listdir(tmp_path) if n.startswith(".out")]


def test_remap_dcp_keeps_an_existing_output_without_force(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep").write_text("x")
    folder = os.path.join(HOSTILE, "cuda_value")
    result = ptview("remap", folder, "--to", "cpu", "-o", str(out), check=False)
    assert result.returncode == 1 and "already exists" in result.stderr
    assert os.listdir(out) == ["keep"]
    result = ptview("remap", folder, "--to", "cpu", "-o", str(out), "--force", check=False)
    assert result.returncode == 0 and sorted(os.listdir(out)) == sorted(os.listdir(folder))


def test_remap_dcp_leaves_values_the_rules_do_not_move(tmp_path):
    folder = os.path.join(HOSTILE, "cuda_value")
    # Rules that leave cuda:0 where it is have nothing to do.
    result = ptview("remap", folder, "--map", "cpu=cpu", "-o", str(tmp_path / "o"), check=False)
    assert result.returncode == 0 and "nothing to remap" in result.stdout
    assert not (tmp_path / "o").exists()


def test_remap_dcp_hostile_ranges_give_one_line_with_file_and_offset(tmp_path):
    # A range past the end of its file (the file cut short): .metadata's own offset.
    folder = tmp_path / "cut"
    shutil.copytree(os.path.join(HOSTILE, "cuda_values"), folder)
    os.truncate(folder / "__0_0.distcp", 9000)
    out = tmp_path / "out"
    result = ptview("remap", str(folder), "--to", "cpu", "-o", str(out), check=False)
    line = result.stderr.strip()
    assert result.returncode == 2 and "\n" not in line
    assert ".metadata" in line and "byte" in line and "__0_0.distcp" in line
    # A value whose bytes are not an archive: its file and the range's offset.
    result = ptview("remap", os.path.join(HOSTILE, "zeroed_value"), "--to", "cpu", "-o", str(out), check=False)
    info = [v for k, v in dcp.FileSystemReader(os.path.join(HOSTILE, "zeroed_value")).read_metadata().storage_data.items() if k.fqn == "note"][0]
    line = result.stderr.strip()
    assert result.returncode == 2 and "\n" not in line
    assert "__0_0.distcp" in line and f"byte {info.offset}" in line
    assert not out.exists()
