#!/usr/bin/env python
"""Make the sharded-folder benchmark inputs in BENCH_DIR (not committed):

    ~/.cache/ptview/venv/bin/python Scripts/make_sharded_bench.py ~/.cache/ptview/bench

* sharded_cuda0/: about 1 GB of float32 (200 tensors of 1280x1024) in 5 Hugging Face `.bin`
  shards split by huggingface_hub.split_torch_state_dict_into_shards (what transformers 4's
  save_pretrained used), storages tagged cuda:0 (fixture_support.save_as), with
  pytorch_model.bin.index.json and a config.json;
* sharded_one_cuda0.pt: the same tensors in one torch.save file, for listing speed per file;
* sharded_many_cuda0/ and sharded_many_one_cuda0.pt: the same pair for 20,000 small tensors
  (256 float32 each, 5 shards), where listing is all pickle work and no byte of a tensor
  matters: the folder's per-file overheads show there.
"""
from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import torch  # noqa: E402
from huggingface_hub import split_torch_state_dict_into_shards  # noqa: E402

import fixture_support as fs  # noqa: E402


def sharded(bench: str, name: str, one: str, sd: dict, max_shard_size: str) -> None:
    folder = os.path.join(bench, name)
    os.makedirs(folder, exist_ok=True)
    split = split_torch_state_dict_into_shards(
        sd, filename_pattern="pytorch_model{suffix}.bin", max_shard_size=max_shard_size)
    for shard, keys in split.filename_to_tensors.items():
        fs.save_as({k: sd[k] for k in keys}, os.path.join(folder, shard), "cuda:0")
    with open(os.path.join(folder, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": split.metadata, "weight_map": split.tensor_to_filename}, f, indent=2)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"model_type": "bench"}, f)
    fs.save_as(sd, os.path.join(bench, one), "cuda:0")


def main(bench: str) -> None:
    torch.manual_seed(0)
    big = {f"model.layers.{i}.weight": torch.randn(1280, 1024) for i in range(200)}
    sharded(bench, "sharded_cuda0", "sharded_one_cuda0.pt", big, "210MB")
    many = {f"model.layers.{i // 4}.part{i % 4}.weight": torch.randn(256) for i in range(20_000)}
    sharded(bench, "sharded_many_cuda0", "sharded_many_one_cuda0.pt", many, "4200KB")


if __name__ == "__main__":
    main(sys.argv[1])
