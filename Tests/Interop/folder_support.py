"""What the folder interop files (test_folders.py, test_folder_writes.py) share: the fixture
folders, reading a folder's shards through its index with torch or safetensors, bit-exact
comparison, and the checks that a folder write left nothing behind and copied the rest.
"""
from __future__ import annotations

import filecmp
import json
import os

from interop_support import REPO, torch

FOLDERS = os.path.join(REPO, "Tests", "Fixtures", "folders")
HF = os.path.join(FOLDERS, "hf_bin")
HF_CUDA = os.path.join(FOLDERS, "hf_bin_cuda")
HF_ST = os.path.join(FOLDERS, "hf_safetensors")
BIN_INDEX = "pytorch_model.bin.index.json"
ST_INDEX = "model.safetensors.index.json"


def index_of(folder, name=BIN_INDEX):
    with open(os.path.join(folder, name)) as f:
        return json.load(f)


def shard_names(folder, index=BIN_INDEX):
    """The shard files the index names, sorted."""
    return sorted(set(index_of(folder, index)["weight_map"].values()))


def torch_load(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def weights_of(folder, index, loader):
    """{key: (file, tensor)} over the shards the index names, each read by `loader`."""
    out = {}
    for name in shard_names(folder, index):
        for key, t in loader(os.path.join(folder, name)).items():
            out[key] = (name, t)
    return out


def bits_equal(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(
        a.contiguous().view(torch.uint8), b.contiguous().view(torch.uint8))


def no_leftovers(parent):
    """No temporary folder or file of a ptview write is left in `parent`."""
    return [n for n in os.listdir(parent) if "ptview" in n] == []


def others_copied(source, out, skip):
    """Every file of `source` that `skip` does not name is in `out`, byte for byte."""
    for name in os.listdir(source):
        if not skip(name):
            assert filecmp.cmp(os.path.join(source, name), os.path.join(out, name), shallow=False), name
