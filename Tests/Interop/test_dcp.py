"""torch.distributed.checkpoint folders: `ls --json` against the Metadata torch itself loads,
and (where export is done) `ptview export` against dcp_to_torch_save.

Fixtures come from Scripts/make_dcp_fixtures.py (real dcp.save, two gloo ranks for the
sharded one). Expected values are read with torch's own DCP reader, never from ptview.
"""
from __future__ import annotations

import json
import os
import shutil
import struct

import pytest

from interop_support import REPO, ptview, torch

import torch.distributed.checkpoint as dcp  # noqa: E402
from torch.distributed.checkpoint import FileSystemReader  # noqa: E402
from torch.distributed.checkpoint.metadata import BytesStorageMetadata, TensorStorageMetadata  # noqa: E402

DCP = os.path.join(REPO, "Tests", "Fixtures", "dcp")
# dcp_ckpt is Scripts/make_fixtures.py's older single-process DCP folder.
# tensor_values holds tuples DCP pickled whole, tensors inside.
FOLDERS = ["plain", "nested", "values", "sharded", "tensor_values", "../torch/dcp_ckpt"]


def torch_listing(folder):
    """What torch's FileSystemReader reads from .metadata, in ls --json's terms."""
    reader = FileSystemReader(folder)
    meta = reader.read_metadata()
    out = []
    for key, value in meta.state_dict_metadata.items():
        path = [str(p) for p in (meta.planner_data or {}).get(key, (key,))]
        if isinstance(value, TensorStorageMetadata):
            files = sorted(
                {
                    meta.storage_data[idx].relative_path
                    for idx in meta.storage_data
                    if idx.fqn == key
                }
            )
            item = {
                "path": path,
                "key": key,
                "kind": "tensor",
                "dtype": str(value.properties.dtype).removeprefix("torch."),
                "shape": list(value.size),
                "chunks": len(value.chunks),
                "files": files,
                "nbytes": value.size.numel() * torch.empty((), dtype=value.properties.dtype).element_size(),
            }
        else:
            assert isinstance(value, BytesStorageMetadata)
            idx = [i for i in meta.storage_data if i.fqn == key]
            item = {
                "path": path,
                "key": key,
                "kind": "bytes",
                "files": [meta.storage_data[idx[0]].relative_path],
                "stored_bytes": meta.storage_data[idx[0]].length,
            }
        out.append(item)
    return out


@pytest.mark.parametrize("name", FOLDERS)
def test_ls_json_matches_torch_metadata(name):
    folder = os.path.join(DCP, name)
    got = json.loads(ptview("ls", folder, "--json").stdout)
    expected = torch_listing(folder)
    assert [g["key"] for g in got] == [e["key"] for e in expected]
    for g, e in zip(got, expected):
        for field, value in e.items():
            assert g[field] == value, (name, e["key"], field)
        assert g["file"] == (g["files"][0] if len(g["files"]) == 1 else None)


def test_sharded_fixture_really_has_chunks_in_two_files():
    got = json.loads(ptview("ls", os.path.join(DCP, "sharded"), "--json").stdout)
    by_key = {g["key"]: g for g in got}
    assert by_key["w"]["chunks"] == 2 and len(by_key["w"]["files"]) == 2
    assert by_key["cols"]["chunks"] == 2


def test_ls_table_names_every_key():
    out = ptview("ls", os.path.join(DCP, "nested")).stdout
    for key in ["model.fc.weight", "optim.param_groups.0.lr", "note", "half"]:
        assert key in out


def copy_folder(name, tmp_path):
    dest = tmp_path / name
    shutil.copytree(os.path.join(DCP, name), dest)
    return dest


def test_hostile_metadata_one_line_errors(tmp_path):
    # Truncated pickle.
    folder = copy_folder("plain", tmp_path)
    data = (folder / ".metadata").read_bytes()
    (folder / ".metadata").write_bytes(data[: len(data) // 2])
    result = ptview("ls", str(folder), check=False)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "byte" in result.stderr
    # A .distcp file cut short: chunks now lie past its end.
    folder = copy_folder("sharded", tmp_path / "b")
    distcp = folder / "__1_0.distcp"
    distcp.write_bytes(distcp.read_bytes()[:100])
    result = ptview("ls", str(folder), check=False)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "outside __1_0.distcp" in result.stderr and "byte" in result.stderr
    # Not a Metadata at all.
    folder = copy_folder("plain", tmp_path / "c")
    (folder / ".metadata").write_bytes(b"\x80\x04K\x05.")
    result = ptview("ls", str(folder), check=False)
    assert result.returncode == 2 and "Metadata" in result.stderr


def same(a, b):
    """Same structure and values, tensors bit for bit (dtype, shape, bytes)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.reshape(-1).contiguous().view(torch.uint8).tolist() == b.reshape(-1).contiguous().view(torch.uint8).tolist()
        return
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a.keys()) == list(b.keys())
        for k in a:
            same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    else:
        assert a == b


@pytest.mark.parametrize("name", FOLDERS)
def test_export_equals_dcp_to_torch_save(name, tmp_path):
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    folder = os.path.join(DCP, name)
    theirs = tmp_path / "theirs.pt"
    dcp_to_torch_save(folder, str(theirs))
    ours = tmp_path / "ours.pt"
    ptview("export", folder, "-o", str(ours))
    expected = torch.load(str(theirs), map_location="cpu", weights_only=False)
    got = torch.load(str(ours))  # torch's defaults: weights_only=True
    same(expected, got)


def test_export_keeps_views_of_a_pickled_value_on_one_storage(tmp_path):
    # views = (base, base[2:5]) was pickled whole: torch loads the view on its base's storage,
    # at offset 2, and saves that storage once. The export must say the same.
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    folder = os.path.join(DCP, "tensor_values")
    theirs = tmp_path / "theirs.pt"
    dcp_to_torch_save(folder, str(theirs))
    ours = tmp_path / "ours.pt"
    ptview("export", folder, "-o", str(ours))
    for loaded in (torch.load(str(theirs)), torch.load(str(ours))):
        base, view = loaded["views"]
        assert view.untyped_storage().data_ptr() == base.untyped_storage().data_ptr()
        assert (view.storage_offset(), view.stride(), list(view.shape)) == (2, (1,), [3])


def test_export_refuses_existing_output(tmp_path):
    out = tmp_path / "x.pt"
    out.write_bytes(b"keep")
    result = ptview("export", os.path.join(DCP, "plain"), "-o", str(out), check=False)
    assert result.returncode == 1 and out.read_bytes() == b"keep"


def rewrite_metadata(folder, change):
    """Loads .metadata with torch, lets `change` damage it, pickles it back."""
    import pickle

    path = folder / ".metadata"
    meta = pickle.loads(path.read_bytes())
    change(meta)
    path.write_bytes(pickle.dumps(meta))


def _overlap(meta):
    import dataclasses

    chunks = meta.state_dict_metadata["w"].chunks
    moved = chunks[1].offsets
    chunks[1].offsets = torch.Size([2, 0])
    meta.storage_data = {
        (dataclasses.replace(k, offset=torch.Size([2, 0])) if k.fqn == "w" and k.offset == moved else k): v
        for k, v in meta.storage_data.items()
    }


def _huge_shape(meta):
    meta.state_dict_metadata["w"].size = torch.Size([2**40, 2**40])


def _chunk_outside(meta):
    meta.state_dict_metadata["w"].chunks[0].sizes = torch.Size([3, 10**12])


def _offset_past_end(meta):
    for index, info in meta.storage_data.items():
        if index.fqn == "ints":
            info.offset = 10**9


def _wrong_type(meta):
    meta.state_dict_metadata = [1, 2]


def _missing_storage(meta):
    meta.storage_data = {k: v for k, v in meta.storage_data.items() if k.fqn != "rep"}


@pytest.mark.parametrize(
    "change,words",
    [
        (_overlap, "overlap"),
        (_huge_shape, "too large"),
        (_chunk_outside, "outside"),
        (_offset_past_end, "outside __"),
        (_wrong_type, "not a dict"),
        (_missing_storage, "no storage entry"),
    ],
)
def test_hostile_metadata_is_refused_by_ls_and_export(change, words, tmp_path):
    folder = copy_folder("sharded", tmp_path)
    rewrite_metadata(folder, change)
    for args in (["ls", str(folder)], ["export", str(folder), "-o", str(tmp_path / "out.pt")]):
        result = ptview(*args, check=False)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and "byte" in lines[0], lines
    assert not (tmp_path / "out.pt").exists()


def test_distcp_damaged_inside_a_chunk(tmp_path):
    # The metadata is intact, but a chunk's archive is garbage: export names the file.
    folder = copy_folder("plain", tmp_path)
    distcp = folder / "__0_0.distcp"
    data = bytearray(distcp.read_bytes())
    data[:] = b"\0" * len(data)
    distcp.write_bytes(bytes(data))
    result = ptview("export", str(folder), "-o", str(tmp_path / "out.pt"), check=False)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "__0_0.distcp" in result.stderr
    assert not (tmp_path / "out.pt").exists()


@pytest.mark.parametrize("name", FOLDERS)
def test_info_json_totals_match_torch_metadata(name):
    folder = os.path.join(DCP, name)
    meta = FileSystemReader(folder).read_metadata()
    got = json.loads(ptview("info", folder, "--json").stdout)
    tensors = {k: v for k, v in meta.state_dict_metadata.items() if isinstance(v, TensorStorageMetadata)}
    assert got["format"] == "dcp"
    assert got["keys"] == len(meta.state_dict_metadata)
    assert got["tensors"] == len(tensors)
    assert got["values"] == len(meta.state_dict_metadata) - len(tensors)
    assert got["chunks"] == sum(len(v.chunks) for v in tensors.values())
    assert got["files"] == sorted({info.relative_path for info in meta.storage_data.values()})
    assert got["stored_bytes"] == sum(info.length for info in meta.storage_data.values())


def test_tree_shows_the_nested_dict_torch_rebuilds(tmp_path):
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    folder = os.path.join(DCP, "nested")
    dcp_to_torch_save(folder, str(tmp_path / "t.pt"))
    sd = torch.load(str(tmp_path / "t.pt"), weights_only=False)
    lines = ptview("tree", folder, "--depth", "1").stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == list(sd.keys())


def test_export_refuses_a_value_it_cannot_recreate(tmp_path):
    out = tmp_path / "r.pt"
    result = ptview("export", os.path.join(DCP, "refused"), "-o", str(out), check=False)
    assert result.returncode == 1 and "tags" in result.stderr and not out.exists()
    assert len(result.stderr.strip().splitlines()) == 1
