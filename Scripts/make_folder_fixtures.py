#!/usr/bin/env python
"""Write the checkpoint-folder fixtures under Tests/Fixtures/folders/ (run with the torch venv,
which needs `transformers` and `accelerate`):

    ~/.cache/ptview/venv/bin/python Scripts/make_folder_fixtures.py

* hf_bin/: a tiny GPT-2 (hidden 16, 2 layers, random init, seed 0) saved as Hugging Face
  `.bin` shards with `pytorch_model.bin.index.json`, plus its config and a real GPT-2
  tokenizer's files. transformers 5 writes only safetensors from `save_pretrained`, so the
  shards are split by `huggingface_hub.split_torch_state_dict_into_shards` (what
  transformers 4's `save_pretrained(safe_serialization=False)` called) and written with
  torch.save, and the index is written in transformers 4's layout; `from_pretrained` loads
  the folder (checked here).
* hf_bin_cuda/: the same folder whose storages are tagged cuda:0 (fixture_support.save_as:
  torch-format.md section 7), as a GPU machine writes it. A plain torch.load of a shard
  fails on CPU-only torch. transformers 5's from_pretrained loads it anyway: it passes
  map_location="cpu" (checked here, and by the interop tests).
* hf_safetensors/: the same tiny model (seed 0) written by transformers 5's own
  `save_pretrained(max_shard_size="12KB")`: model-0000N-of-0000M.safetensors shards and
  model.safetensors.index.json, with the tokenizer's files. `--only hf_safetensors` writes
  just this folder (leaving the others as they are).
* hf_bin_views/: the tiny model's state_dict (seed 0) with strided views that share
  storages, as models with a fused attention projection hold them: layer 0's
  `attn.c_attn.weight` split into `attn.q_proj.weight`, `attn.k_proj.weight` and
  `attn.v_proj.weight` views (one storage, storage offsets 0/16/32, strides (48, 1)), and
  layer 1's `attn.c_attn.weight` column-major (`.t().contiguous().t()`). Sharded by
  `split_torch_state_dict_into_shards` (which keeps tensors of one storage in one shard) and
  written by torch.save without `.contiguous()`, so the shards hold the views as torch does.
  `--only hf_bin_views` writes just this folder.
* accelerate/: a real `accelerate.Accelerator().save_state(safe_serialization=False)` of the
  tiny model with an AdamW optimizer after one step and a LambdaLR scheduler (CPU).
* trainer/checkpoint-2/: a real transformers Trainer run of two steps on CPU
  (model.safetensors, optimizer.pt, scheduler.pt, rng_state.pth, trainer_state.json,
  training_args.bin, config files).
* deepspeed/: a DeepSpeed ZeRO-2 folder shaped by hand (DeepSpeed is not installed: it is
  heavy and needs a GPU build to save): `latest`, a stand-in `zero_to_fp32.py`, and
  global_step2/ with mp_rank_00_model_states.pt and zero_pp_rank_{0,1}_mp_rank_00_optim_states.pt,
  torch.save of the dictionaries deepspeed/runtime/engine.py `_save_checkpoint` and
  `_save_zero_checkpoint` write (module, buffer_names, optimizer, param_shapes,
  frozen_param_shapes, shared_params, frozen_param_fragments, lr_scheduler, data_sampler,
  random_ltd, sparse_tensor_module_names, skipped_steps, global_steps, global_samples,
  dp_world_size, mp_world_size, ds_config, ds_version; optimizer_state_dict with
  single_partition_of_fp32_groups, zero_stage, partition_count, base_optimizer_state...).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(REPO, "Tests", "Fixtures", "folders")
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import torch  # noqa: E402

import fixture_support as fs  # noqa: E402


def tiny_model():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(
        n_embd=16, n_layer=2, n_head=2, vocab_size=64, n_positions=16, bos_token_id=0, eos_token_id=0
    )
    return GPT2LMHeadModel(cfg).eval()


def tokenizer_files(out):
    """A real GPT-2 tokenizer over a tiny vocabulary, saved by transformers."""
    from transformers import GPT2Tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
        vocab = {t: i for i, t in enumerate(["<|endoftext|>"] + letters + ["ab", "abc"])}
        with open(os.path.join(tmp, "vocab.json"), "w") as f:
            json.dump(vocab, f)
        with open(os.path.join(tmp, "merges.txt"), "w") as f:
            f.write("#version: 0.2\na b\nab c\n")
        tok = GPT2Tokenizer(os.path.join(tmp, "vocab.json"), os.path.join(tmp, "merges.txt"))
        tok.save_pretrained(out)


def save_bin_shards(model, out, location=None, max_shard_size="12KB"):
    from huggingface_hub import split_torch_state_dict_into_shards

    os.makedirs(out, exist_ok=True)
    model.config.save_pretrained(out)
    sd = model.state_dict()
    split = split_torch_state_dict_into_shards(
        sd, filename_pattern="pytorch_model{suffix}.bin", max_shard_size=max_shard_size
    )
    for name, keys in split.filename_to_tensors.items():
        fs.save_as({k: sd[k].contiguous() for k in keys}, os.path.join(out, name), location)
    index = {"metadata": split.metadata, "weight_map": split.tensor_to_filename}
    with open(os.path.join(out, "pytorch_model.bin.index.json"), "w") as f:
        json.dump(index, f, indent=2, sort_keys=True)
        f.write("\n")
    tokenizer_files(out)


def make_hf_bin_views(model):
    from huggingface_hub import split_torch_state_dict_into_shards

    out = os.path.join(OUT, "hf_bin_views")
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    model.config.save_pretrained(out)
    sd = dict(model.state_dict())
    fused = sd["transformer.h.0.attn.c_attn.weight"]
    for name, part in zip(("q", "k", "v"), fused.split(fused.shape[1] // 3, dim=1)):
        sd[f"transformer.h.0.attn.{name}_proj.weight"] = part
    sd["transformer.h.1.attn.c_attn.weight"] = sd["transformer.h.1.attn.c_attn.weight"].t().contiguous().t()
    assert not sd["transformer.h.0.attn.k_proj.weight"].is_contiguous()
    assert not sd["transformer.h.1.attn.c_attn.weight"].is_contiguous()
    split = split_torch_state_dict_into_shards(
        sd, filename_pattern="pytorch_model{suffix}.bin", max_shard_size="12KB"
    )
    for name, keys in split.filename_to_tensors.items():
        torch.save({k: sd[k] for k in keys}, os.path.join(out, name))
    index = {"metadata": split.metadata, "weight_map": split.tensor_to_filename}
    with open(os.path.join(out, "pytorch_model.bin.index.json"), "w") as f:
        json.dump(index, f, indent=2, sort_keys=True)
        f.write("\n")
    # The views reach the shard as views: one storage, three offsets.
    shard = torch.load(os.path.join(out, index["weight_map"]["transformer.h.0.attn.q_proj.weight"]))
    q, k = shard["transformer.h.0.attn.q_proj.weight"], shard["transformer.h.0.attn.k_proj.weight"]
    assert q.untyped_storage().data_ptr() == k.untyped_storage().data_ptr()
    assert (q.storage_offset(), k.storage_offset(), k.stride()) == (0, 16, (48, 1))


def check_loads(folder, model):
    from transformers import AutoModelForCausalLM

    loaded = AutoModelForCausalLM.from_pretrained(folder)
    want = model.state_dict()
    got = loaded.state_dict()
    assert set(got) == set(want), (folder, set(got) ^ set(want))
    for k in want:
        assert torch.equal(got[k], want[k]), (folder, k)


def make_hf_safetensors(model):
    out = os.path.join(OUT, "hf_safetensors")
    if os.path.isdir(out):
        shutil.rmtree(out)
    model.save_pretrained(out, max_shard_size="12KB")
    assert os.path.exists(os.path.join(out, "model.safetensors.index.json")), os.listdir(out)
    tokenizer_files(out)
    check_loads(out, model)


def make_accelerate(model):
    from accelerate import Accelerator

    out = os.path.join(OUT, "accelerate")
    acc = Accelerator(cpu=True)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    m, opt, sched = acc.prepare(model, opt, sched)
    loss = m(torch.tensor([[1, 2, 3]]), labels=torch.tensor([[1, 2, 3]])).loss
    acc.backward(loss)
    opt.step()
    sched.step()
    acc.save_state(out, safe_serialization=False)


def make_trainer():
    from transformers import Trainer, TrainingArguments

    model = tiny_model()
    data = [{"input_ids": [1, 2, 3, 4], "labels": [1, 2, 3, 4]} for _ in range(4)]
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp, max_steps=2, per_device_train_batch_size=2, save_steps=2,
            save_strategy="steps", report_to=[], use_cpu=True, logging_steps=1, seed=0,
        )
        Trainer(model=model, args=args, train_dataset=data).train()
        dest = os.path.join(OUT, "trainer", "checkpoint-2")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copytree(os.path.join(tmp, "checkpoint-2"), dest)


# DeepSpeed copies its converter script into every checkpoint folder (executable, with a
# shebang): a Python program, not a pickle. This stand-in has the same shape (our own text):
# it is what `ptview scan` must report as a script torch.load never reads.
ZERO_TO_FP32 = """#!/usr/bin/env python

# Stand-in for the converter DeepSpeed copies beside its checkpoints: it gathers the ZeRO
# partitions of the fp32 master weights into one state_dict.
# Usage: python zero_to_fp32.py . pytorch_model.bin

import argparse
import glob
import os

import torch


def partitions(folder, tag):
    pattern = os.path.join(folder, tag, "*_optim_states.pt")
    return sorted(glob.glob(pattern))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint_dir")
    parser.add_argument("output_file")
    parser.add_argument("-t", "--tag", default=None)
    args = parser.parse_args()
    tag = args.tag
    if tag is None:
        with open(os.path.join(args.checkpoint_dir, "latest")) as f:
            tag = f.read().strip()
    states = [torch.load(p, map_location="cpu", weights_only=False) for p in partitions(args.checkpoint_dir, tag)]
    flat = torch.cat([s["optimizer_state_dict"]["single_partition_of_fp32_groups"][0] for s in states])
    torch.save({"flat_fp32": flat}, args.output_file)


if __name__ == "__main__":
    main()
"""


def make_deepspeed(model):
    """DeepSpeed's dictionaries, shaped by hand (see the module docstring)."""
    out = os.path.join(OUT, "deepspeed")
    tag = "global_step2"
    os.makedirs(os.path.join(out, tag), exist_ok=True)
    with open(os.path.join(out, "latest"), "w") as f:
        f.write(tag)
    with open(os.path.join(out, "zero_to_fp32.py"), "w") as f:
        f.write(ZERO_TO_FP32)
    os.chmod(os.path.join(out, "zero_to_fp32.py"), 0o755)
    ds_config = {"train_micro_batch_size_per_gpu": 2, "zero_optimization": {"stage": 2}, "bf16": {"enabled": True}}
    sd = {k: v.to(torch.bfloat16) for k, v in model.state_dict().items()}
    params = [n for n, _ in model.named_parameters()]
    shapes = [{n: p.shape for n, p in model.named_parameters()}]
    states = dict(
        module=sd, buffer_names=[n for n, _ in model.named_buffers()], optimizer=None,
        param_shapes=shapes, frozen_param_shapes=None, shared_params={}, frozen_param_fragments=None,
        lr_scheduler={"last_epoch": 2, "base_lrs": [1e-3]}, data_sampler=None, random_ltd=None,
        sparse_tensor_module_names=set(), skipped_steps=0, global_steps=2, global_samples=8,
        dp_world_size=2, mp_world_size=1, ds_config=ds_config, ds_version="0.16.4",
    )
    fs.save_as(states, os.path.join(out, tag, "mp_rank_00_model_states.pt"), "cuda:0")
    flat = torch.cat([model.state_dict()[n].reshape(-1).float() for n in params])
    half = (flat.numel() + 1) // 2
    for rank in range(2):
        part = flat[rank * half:(rank + 1) * half].clone()
        zero = dict(
            optimizer_state_dict=dict(
                loss_scaler=None, dynamic_loss_scale=False, overflow=False, clip_grad=1.0,
                base_optimizer_state={"state": {0: {"step": torch.tensor(2.0), "exp_avg": torch.zeros_like(part),
                                                    "exp_avg_sq": torch.zeros_like(part)}},
                                      "param_groups": [{"lr": 1e-3, "params": [0]}]},
                single_partition_of_fp32_groups=[part], zero_stage=2, group_paddings=[0],
                partition_count=[2], ds_version="0.16.4", param_slice_mappings=[{}],
            ),
            ds_config=ds_config, ds_version="0.16.4",
        )
        name = f"zero_pp_rank_{rank}_mp_rank_00_optim_states.pt"
        fs.save_as(zero, os.path.join(out, tag, name), f"cuda:{rank}")


def main():
    if sys.argv[1:] == ["--only", "hf_safetensors"]:
        make_hf_safetensors(tiny_model())
        return
    if sys.argv[1:] == ["--only", "hf_bin_views"]:
        make_hf_bin_views(tiny_model())
        return
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    model = tiny_model()
    save_bin_shards(model, os.path.join(OUT, "hf_bin"))
    save_bin_shards(model, os.path.join(OUT, "hf_bin_cuda"), "cuda:0")
    check_loads(os.path.join(OUT, "hf_bin"), model)
    make_hf_safetensors(model)
    make_hf_bin_views(model)
    make_deepspeed(model)
    make_accelerate(tiny_model())
    make_trainer()
    total = 0
    for root, _, files in os.walk(OUT):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    print(f"wrote {OUT} ({total} bytes)")


if __name__ == "__main__":
    main()
