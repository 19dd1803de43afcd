#!/usr/bin/env python
"""Write the `ptview edit` fixtures under Tests/Fixtures/edit/ (run with the torch venv, which
also needs `lightning` for the Lightning checkpoint; the tests do not):

    /root/.cache/ptview/venv/bin/pip install lightning      # once; must not change torch
    /root/.cache/ptview/venv/bin/python Scripts/make_edit_fixtures.py

Every file is made by the library that makes such files in the wild: DistributedDataParallel on
a one-process gloo group, nn.DataParallel, torch.compile, a real Lightning Trainer, plain training
loops, torch.save of whole modules, torch.jit.script. manifest.json describes each one: how it was
made, the plain model class to load it into (Scripts/edit_models.py), where its state dict is,
the prefix its keys carry, and what torch says about loading it (load_state_dict(strict=True),
torch.load with and without weights_only, mmap, torch.jit.load), measured here on a CPU-only
machine. Seeds are fixed; the script re-execs itself with PYTHONHASHSEED=0.
"""

from __future__ import annotations

import argparse
import importlib
import copy
import hashlib
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
import warnings
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(REPO, "Tests", "Fixtures", "edit")
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(REPO, "Tests", "Interop"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import edit_models as em  # noqa: E402
import fixture_support as fs  # noqa: E402
from make_fixtures import exc_name, first_line, to_big_endian  # noqa: E402

warnings.filterwarnings("ignore")

FIXTURES: list[dict] = []


def out(name):
    return os.path.join(OUT, name)


def add(file, maker, description, **extra):
    """One manifest row. extra: model_class, state_dict_path, prefix, container, locations, ..."""
    row = dict(file=file, maker=maker, description=description)
    row.setdefault("container", "zip")
    row.update(extra)
    FIXTURES.append(row)


# ---------------------------------------------------------------------------------------------
# models


def seeded(cls, seed):
    torch.manual_seed(seed)
    return cls()


def batch(seed, n=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 4, 4, generator=g), torch.randn(n, 5, generator=g)


def sgd_step(model, seed):
    """One real training step through `model` (a wrapper or the plain net)."""
    x, y = batch(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    loss = nn.functional.mse_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    model.eval()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cdata(t):
    return t.untyped_storage()._cdata


# ---------------------------------------------------------------------------------------------
# wrapped state dicts: DDP, DataParallel, torch.compile


def make_wrapped():
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(free_port())
    dist.init_process_group("gloo", rank=0, world_size=1)
    try:
        ddp = DDP(seeded(em.EditNet, 100))
        sgd_step(ddp, 100)
        sd = ddp.state_dict()
        fs.save_as(sd, out("ddp.pt"))
        common = dict(model_class="edit_models.EditNet", state_dict_path=None)
        add("ddp.pt", "torch.nn.parallel.DistributedDataParallel(EditNet()) on a gloo process group of world size 1 (CPU), "
            "one SGD step through it, torch.save(ddp.state_dict())",
            "DDP state dict: every key starts with 'module.'", prefix="module.", **common)
        fs.save_as(sd, out("ddp_cuda0.pt"), "cuda:0")
        add("ddp_cuda0.pt", "the same DDP state dict saved with every storage tagged cuda:0 (fixture_support.save_as)",
            "DDP state dict 'module.' keys on cuda:0: strip + device move together", prefix="module.", **common)

        ddp_c = DDP(torch.compile(seeded(em.EditNet, 101)))
        fs.save_as(ddp_c.state_dict(), out("ddp_compiled.pt"))
        add("ddp_compiled.pt", "DistributedDataParallel(torch.compile(EditNet())).state_dict() (no forward: nothing is compiled)",
            "keys start with 'module._orig_mod.'", prefix="module._orig_mod.", **common)
        c_ddp = torch.compile(DDP(seeded(em.EditNet, 102)))
        fs.save_as(c_ddp.state_dict(), out("compiled_ddp.pt"))
        add("compiled_ddp.pt", "torch.compile(DistributedDataParallel(EditNet())).state_dict() (no forward)",
            "keys start with '_orig_mod.module.'", prefix="_orig_mod.module.", **common)
    finally:
        dist.destroy_process_group()

    dp = nn.DataParallel(seeded(em.EditNet, 103))
    sgd_step(dp, 103)
    fs.save_as(dp.state_dict(), out("dataparallel.pt"))
    add("dataparallel.pt", "torch.nn.DataParallel(EditNet()) on a machine without GPUs (device_ids=[]), one SGD step, "
        "torch.save(dp.state_dict())", "DataParallel state dict: 'module.' keys",
        prefix="module.", model_class="edit_models.EditNet", state_dict_path=None)

    compiled = torch.compile(seeded(em.EditNet, 104))
    fs.save_as(compiled.state_dict(), out("compiled.pt"))
    add("compiled.pt", "torch.compile(EditNet()).state_dict() (an OptimizedModule; no forward, so nothing is compiled)",
        "compiled state dict: '_orig_mod.' keys", prefix="_orig_mod.", model_class="edit_models.EditNet", state_dict_path=None)


# ---------------------------------------------------------------------------------------------
# Lightning


def make_lightning():
    try:
        import lightning.pytorch as L
        from lightning.pytorch.callbacks import EarlyStopping
    except ImportError as e:
        raise SystemExit(f"make_edit_fixtures.py needs lightning in this venv (pip install lightning; check it keeps "
                         f"the installed torch): {e}")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)

    class LitEdit(L.LightningModule):
        def __init__(self, args):
            super().__init__()
            self.save_hyperparameters(args)  # an argparse.Namespace: stored as a plain dict
            self.model = em.EditNet()

        def forward(self, x):
            return self.model(x)

        def training_step(self, b, i):
            x, y = b
            loss = nn.functional.mse_loss(self.model(x), y)
            self.log("train_loss", loss, on_step=False, on_epoch=True)
            return loss

        def configure_optimizers(self):
            opt = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
            return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)}

    L.seed_everything(105, workers=True, verbose=False)
    x, y = batch(105)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=2)
    lit = LitEdit(argparse.Namespace(lr=0.01, arch="EditNet", batch_size=2))
    with tempfile.TemporaryDirectory() as root:
        trainer = L.Trainer(max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, enable_model_summary=False, deterministic=True,
                            callbacks=[EarlyStopping(monitor="train_loss", patience=3)], default_root_dir=root)
        trainer.fit(lit, loader)
        trainer.save_checkpoint(out("lightning.ckpt"))
    add("lightning.ckpt",
        f"lightning {L.__version__}: a LightningModule whose net is self.model (EditNet), save_hyperparameters(argparse.Namespace), "
        "Adam + StepLR, an EarlyStopping callback, Trainer(max_steps=2, accelerator='cpu', logger=False, "
        "enable_checkpointing=False, enable_progress_bar=False) on a 4-sample TensorDataset (batch 2), "
        "then trainer.save_checkpoint(path)",
        "real Lightning checkpoint: epoch, global_step, pytorch-lightning_version, state_dict ('model.' keys), loops, "
        "callbacks (EarlyStopping state with a 0-dim best_score tensor), optimizer_states, lr_schedulers, hparams_name, "
        "hyper_parameters (a dict). Lightning saves through a file object, so the archive root is 'archive'",
        model_class="edit_models.EditNet", state_dict_path="state_dict", prefix="model.", lightning_real=True)


# ---------------------------------------------------------------------------------------------
# plain training loops


def trained_with_adam(seed, steps=3, wrap=None):
    """EditNet trained `steps` real Adam steps with a StepLR (one step per 'epoch')."""
    model = seeded(em.EditNet, seed)
    net = wrap(model) if wrap else model
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.9)
    for step in range(steps):
        x, y = batch(seed * 10 + step)
        net.train()
        loss = nn.functional.mse_loss(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    net.eval()
    # clone: mse_loss's 0-dim result sits in an 80-byte storage whose other 76 bytes are
    # uninitialised memory, which torch.save writes out (the file would differ on every run)
    return net, opt, sched, loss.detach().clone()


def make_training_loops():
    net, opt, sched, _ = trained_with_adam(106)
    ck = {"epoch": 3, "args": argparse.Namespace(lr=1e-3, arch="EditNet", epochs=3, batch_size=4),
          "model": net.state_dict(), "optimizer": opt.state_dict(), "best_acc": np.float64(0.8125),
          "scheduler": sched.state_dict()}
    fs.save_as(ck, out("train_loop.pt"))
    add("train_loop.pt", "a plain training loop: EditNet, Adam (3 real steps), StepLR; torch.save(dict)",
        "{'epoch': 3, 'args': argparse.Namespace, 'model': state_dict, 'optimizer': Adam state_dict, "
        "'best_acc': numpy.float64, 'scheduler': StepLR state_dict}: weights_only=True refuses it (argparse.Namespace first)",
        model_class="edit_models.EditNet", state_dict_path="model", prefix=None)
    steps = {cdata(s["step"]) for s in ck["optimizer"]["state"].values()}
    fs.save_as(ck, out("train_loop_cuda0.pt"), per_storage=lambda st: None if st._cdata in steps else "cuda:0")
    add("train_loop_cuda0.pt", "train_loop.pt's dict saved with params and Adam exp_avg/exp_avg_sq tagged cuda:0 and Adam's 0-dim "
        "'step' tensors left on cpu (as a real CUDA run saves them)",
        "the training-loop checkpoint on cuda:0: extract/drop + device move together",
        model_class="edit_models.EditNet", state_dict_path="model", prefix=None)

    net, opt, _, _ = trained_with_adam(107)
    ema = copy.deepcopy(net)
    with torch.no_grad():
        for p_ema, p in zip(ema.parameters(), seeded(em.EditNet, 1107).parameters()):
            p_ema.mul_(0.9).add_(p, alpha=0.1)
    ck = {"epoch": 3, "arch": "editnet", "state_dict": net.state_dict(), "optimizer": opt.state_dict(), "version": 2,
          "args": argparse.Namespace(model="editnet", lr=1e-3, model_ema=True), "metric": 0.5,
          "state_dict_ema": ema.state_dict()}
    fs.save_as(ck, out("train_ema.pt"))
    add("train_ema.pt", "a timm-style training loop (EditNet, Adam 3 steps, an EMA copy); torch.save(dict) with timm's key order",
        "{'epoch', 'arch', 'state_dict', 'optimizer', 'version', 'args': Namespace, 'metric', 'state_dict_ema'}: TWO state "
        "dict candidates (state_dict and state_dict_ema), so --state-dict must refuse and name both",
        model_class="edit_models.EditNet", state_dict_path="state_dict", prefix=None,
        state_dict_candidates=["state_dict", "state_dict_ema"])

    net, opt, _, loss = trained_with_adam(108)
    ck = {"epoch": 5, "model_state_dict": net.state_dict(), "optimizer_state_dict": opt.state_dict(), "loss": loss}
    fs.save_as(ck, out("train_model_state_dict.pt"))
    add("train_model_state_dict.pt", "the PyTorch tutorial's general checkpoint (EditNet, Adam 3 steps)",
        "{'epoch': 5, 'model_state_dict', 'optimizer_state_dict', 'loss': a 0-dim tensor}: plain keys; the only root "
        "tensor is 'loss', which is not a state dict",
        model_class="edit_models.EditNet", state_dict_path="model_state_dict", prefix=None)

    net, opt, _, _ = trained_with_adam(109, wrap=nn.DataParallel)
    ck = {"net": net.state_dict(), "acc": 87.5, "epoch": 12}
    fs.save_as(ck, out("train_net.pt"))
    add("train_net.pt", "kuangliu/pytorch-cifar style: nn.DataParallel(EditNet()) trained with Adam (3 steps), "
        "torch.save({'net': net.state_dict(), 'acc', 'epoch'})",
        "the state dict lives under 'net' and its keys carry DataParallel's 'module.'",
        model_class="edit_models.EditNet", state_dict_path="net", prefix="module.")


# ---------------------------------------------------------------------------------------------
# whole modules


def forward_once(model, seed):
    model.train()
    with torch.no_grad():
        model(batch(seed)[0])  # moves batchnorm running stats, num_batches_tracked = 1
    model.eval()
    return model


def make_modules():
    cnn = forward_once(seeded(em.EditCNN, 110), 110)
    fs.save_as(cnn, out("module_cnn.pt"))
    whole = dict(model_class="edit_models.EditCNN", state_dict_path=None, whole_module=True, prefix=None)
    add("module_cnn.pt", "torch.save(model) of edit_models.EditCNN after one training-mode forward",
        "whole pickled module: Sequential/ModuleList/ModuleDict nesting, Conv2d(bias=False) (a None parameter), "
        "BatchNorm running stats + num_batches_tracked, persistent buffer pos, NON-persistent buffer scratch (not in "
        "state_dict), a None buffer and a None parameter, own parameter scale listed before the children", **whole)
    fs.save_as(cnn, out("module_cnn_cuda0.pt"), "cuda:0")
    add("module_cnn_cuda0.pt", "module_cnn.pt's module saved with every storage tagged cuda:0",
        "whole pickled EditCNN on cuda:0: --state-dict + device move together", **whole)
    tied = seeded(em.TiedLM, 111)
    fs.save_as(tied, out("module_tied.pt"))
    add("module_tied.pt", "torch.save(model) of edit_models.TiedLM",
        "embed.weight and head.weight are ONE Parameter (one storage, two state_dict keys); enc and enc_alias are one "
        "submodule under two names (both prefixes in state_dict)",
        model_class="edit_models.TiedLM", state_dict_path=None, whole_module=True, prefix=None)
    cnn2 = forward_once(seeded(em.EditCNN, 112), 112)
    fs.save_as({"epoch": 3, "model": cnn2, "best_acc": 0.5}, out("module_in_dict.pt"))
    add("module_in_dict.pt", "torch.save({'epoch': 3, 'model': <EditCNN>, 'best_acc': 0.5})",
        "a whole module inside a checkpoint dict: --extract model --state-dict",
        model_class="edit_models.EditCNN", state_dict_path="model", whole_module=True, prefix=None)


# ---------------------------------------------------------------------------------------------
# TorchScript


def fake_cuda_torchscript(src, dst):
    root, recs = fs.zip_records(out(src))
    pk = set(fs.pickle_records([n for n, _ in recs]))
    fs.rezip([(n, fs.rewrite_locations(d, {"cpu": "cuda:0"}) if n in pk else d) for n, d in recs], out(dst))


def make_torchscript():
    net = forward_once(seeded(em.ScriptNet, 113), 113)
    net.steps.fill_(3)
    torch.jit.script(net).save(out("ts_script.pt"))
    ts = dict(container="torchscript", model_class="edit_models.ScriptNet", state_dict_path=None, prefix=None)
    add("ts_script.pt", "torch.jit.script(edit_models.ScriptNet()).save(path)",
        "TorchScript: conv/bn/linear params, batchnorm buffers, a persistent int64 buffer and a non-persistent buffer "
        "(TorchScript's state_dict() lists it too)", **ts)
    fake_cuda_torchscript("ts_script.pt", "ts_script_cuda0.pt")
    add("ts_script_cuda0.pt", "ts_script.pt with every storage pid location in data.pkl rewritten to cuda:0 "
        "(fixture_support.rewrite_locations, re-zipped with PyTorchFileWriter)",
        "TorchScript on cuda:0: jit.load needs map_location='cpu'", **ts)
    dev = seeded(em.DeviceNet, 114)
    torch.jit.script(dev).save(out("ts_device.pt"))
    ts["model_class"] = "edit_models.DeviceNet"
    add("ts_device.pt", "torch.jit.script(edit_models.DeviceNet()).save(path)",
        "TorchScript whose code/__torch__/edit_models.py holds torch.device(\"cuda:0\") (forward moves CPU inputs "
        "to cuda:0 when self.move is True; it is False) and one buffer", code_mentions_cuda=True, **ts)
    fake_cuda_torchscript("ts_device.pt", "ts_device_cuda0.pt")
    add("ts_device_cuda0.pt", "ts_device.pt with its storage locations rewritten to cuda:0",
        "cuda:0 storages AND a cuda:0 literal in the code; loads with jit.load(map_location='cpu')",
        code_mentions_cuda=True, **ts)
    # Imported here, after the fixtures above: its script class compiles at import, and an
    # earlier compile would change the names TorchScript gives the classes scripted after it.
    import edit_script_models as esm

    attrs = seeded(esm.ScriptAttrNet, 115)
    torch.jit.script(attrs).save(out("ts_attrs.pt"))
    ts["model_class"] = "edit_script_models.ScriptAttrNet"
    add("ts_attrs.pt", "torch.jit.script(edit_script_models.ScriptAttrNet()).save(path)",
        "TorchScript whose tensors are not all state: a plain tensor attribute, a list of tensors and a "
        "script-class object (none in state_dict()), a buffer registered before the parameter (listed "
        "after it), a Linear without bias", **ts)


# ---------------------------------------------------------------------------------------------
# casting


def f32_bits(*words):
    return torch.tensor(words, dtype=torch.int64).to(torch.int32).view(torch.float32)


def special_f32():
    nan_payload = f32_bits(0x7FC00001, -0x00400000, 0x7F800001)  # qNaN+payload, negative qNaN, sNaN
    vals = torch.tensor([0.0, -0.0, 1.0, -1.0, 1 / 3, float("inf"), float("-inf"),
                         1e-40, -1e-45,  # float32 subnormals
                         1e-8, 6e-8, 2.9802322387695312e-08,  # fp16: underflow to 0, subnormal, exact tie
                         65504.0, 65519.99, 65520.0, 1e5, -1e5,  # fp16 max, just below/at the overflow tie, overflow
                         3.4e38, 3.3895e38,  # bf16 overflow / near max
                         1.00048828125, 1.001953125,  # fp16 and bf16 ties (round to even)
                         448.0, 464.0, 57344.0, 61440.0])  # float8 edges
    return torch.cat([vals, nan_payload])


def make_cast():
    torch.manual_seed(115)
    d = OrderedDict()
    d["f32_special"] = special_f32()
    d["f64_special"] = torch.cat([special_f32().double()[:-3], torch.tensor(
        [1 + 2**-11 + 2**-40, 1 + 2**-8 + 2**-40,  # double rounding: torch converts f64 -> f32 -> f16/bf16
         1e300, -1e-300, 5e-324, 3.5e38, 65519.999999], dtype=torch.float64),
        torch.tensor([0x7FF8000000000001, -0x0008000000000000], dtype=torch.int64).view(torch.float64)])
    d["f16_special"] = torch.tensor([0.0, -0.0, 65504.0, -65504.0, 6e-8, 1e-4, 0.1, float("inf"), float("nan")],
                                    dtype=torch.float16)
    d["bf16_special"] = torch.tensor([0.0, -0.0, 3.3895e38, 1e-40, 0.1, float("-inf"), float("nan")],
                                     dtype=torch.bfloat16)
    d["f8_e4m3fn"] = torch.tensor([0.0, -0.0, 1.0, -1.5, 448.0, -448.0, 0.001953125, 0.1], dtype=torch.float32).to(
        torch.float8_e4m3fn)
    d["f8_e4m3fn_nan"] = torch.tensor([0x7F, 0xFF], dtype=torch.uint8).view(torch.float8_e4m3fn)
    d["f8_e5m2"] = torch.tensor([0.0, -0.0, 1.0, 57344.0, float("inf"), float("-inf"), float("nan"), 1.52587890625e-05],
                                dtype=torch.float32).to(torch.float8_e5m2)
    d["f32_randn"] = torch.randn(4, 5)
    d["f64_randn"] = torch.randn(6, dtype=torch.float64)
    d["f16_randn"] = torch.randn(6).half()
    d["bf16_randn"] = torch.randn(6).bfloat16()
    base = torch.randn(4, 6)
    d["view_base"] = base
    d["view_t"] = base.t()  # transposed view of the same storage
    d["view_row"] = base[2]  # slice with storage offset 12
    d["view_block"] = base[1:3, 2:5]  # non-contiguous, offset 8
    hbase = torch.randn(3, 4).half()
    d["half_base"] = hbase
    d["half_t"] = hbase.t()
    d["offset_only"] = torch.arange(10, dtype=torch.float32)[4:]  # alone: storage of 10, offset 4
    d["noncontig"] = torch.randn(3, 8)[:, ::2]  # alone: stride (8, 2)
    d["channels_last"] = torch.randn(2, 3, 2, 2).contiguous(memory_format=torch.channels_last)
    d["expanded"] = torch.tensor([1.5, -2.5]).reshape(2, 1).expand(2, 3)  # stride (1, 0)
    d["scalar"] = torch.tensor(2.5)
    d["empty"] = torch.zeros(0, 3)
    d["i64"] = torch.arange(-3, 3)
    d["i32"] = torch.arange(5, dtype=torch.int32) * 1000
    d["u8"] = torch.arange(6, dtype=torch.uint8) * 40
    d["bool"] = torch.tensor([True, False, True])
    d["c64"] = torch.complex(torch.randn(3), torch.randn(3))
    d["c128"] = torch.complex(torch.randn(2).double(), torch.randn(2).double())
    d["qint8"] = torch.quantize_per_tensor(torch.linspace(-1, 1, 8), 0.01, 0, torch.qint8)
    d["i64_scalar"] = torch.tensor(7)
    fs.save_as(d, out("cast.pt"))
    add("cast.pt", "torch.save of an OrderedDict of tensors (seed 115)",
        "casting: fp32/fp64/fp16/bf16 with special values (NaN with payloads, -NaN, sNaN, +-inf, -0.0, subnormals, fp16 "
        "overflow/underflow and round-to-even ties, bf16 overflow, f64 values that double-round through f32), float8 "
        "e4m3fn/e5m2 (incl. NaN, +-448, +-inf), views sharing one storage (base, transposed, row, 2-d block), a half base "
        "and its transpose, a tensor alone at storage offset 4, a non-contiguous one, channels_last, a 0-stride expand, "
        "0-dim and 0-element tensors; int64/int32/uint8/bool/complex64/complex128 and a qint8 tensor (--cast must not touch)",
        container="zip", cast=True)

    torch.manual_seed(116)
    be = OrderedDict()
    be["f32_special"] = special_f32()[:-3]  # (NaN payloads are kept out of the big-endian file)
    be["f64"] = torch.tensor([1 + 2**-11 + 2**-40, 1e300, -0.0, 5e-324, 0.1], dtype=torch.float64)
    be["f16"] = torch.tensor([65504.0, 6e-8, -0.0, 0.1], dtype=torch.float16)
    be["bf16"] = torch.tensor([3.3895e38, 1e-40, -0.0, 0.1], dtype=torch.bfloat16)
    base = torch.randn(3, 4)
    be["view_base"] = base
    be["view_t"] = base.t()
    be["view_row"] = base[1]
    be["f8_e4m3fn"] = torch.tensor([1.0, -448.0, 0.1], dtype=torch.float32).to(torch.float8_e4m3fn)
    be["i64"] = torch.arange(-2, 2)
    be["i16"] = torch.arange(-2, 2, dtype=torch.int16)
    be["c64"] = torch.complex(torch.tensor([1.0, 2.0]), torch.tensor([-1.0, 0.5]))
    be["bool"] = torch.tensor([True, False])
    fs.save_as(be, out("cast_bigendian.pt"))
    to_big_endian(out("cast_bigendian.pt"))
    back = torch.load(out("cast_bigendian.pt"), weights_only=False)
    equal = {k: bool(torch.equal(back[k].contiguous().view(torch.uint8) if v.dtype != torch.bool else back[k],
                                 v.contiguous().view(torch.uint8) if v.dtype != torch.bool else v))
             for k, v in be.items()}
    add("cast_bigendian.pt", "cast-like tensors saved with torch.save, then converted by make_fixtures.to_big_endian "
        "(every data/* record's elements byte-swapped, byteorder record 'big', re-zipped with PyTorchFileWriter)",
        "casting a big-endian file: f32/f64/f16/bf16/float8, views sharing a storage, int64/int16/complex64/bool",
        container="zip", cast=True, values_equal_after_load=equal)


# ---------------------------------------------------------------------------------------------
# measurements and manifest


def attempt(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fn()
            return {"ok": True}
        except BaseException as e:  # noqa: BLE001 - whatever torch raises is the record
            if isinstance(e, KeyboardInterrupt):
                raise
            r = {"ok": False, "exception": exc_name(e), "message": first_line(e), "text": str(e)}
            at = str(e).find("WeightsUnpickler error:")
            if at >= 0:
                rest = [ln.strip() for ln in str(e)[at + len("WeightsUnpickler error:"):].splitlines() if ln.strip()]
                if rest:
                    r["detail"] = rest[0]
            return r


def model_class(name):
    module, cls = name.split(".", 1)
    return getattr(importlib.import_module(module), cls)


def at_path(obj, path):
    for part in (path.split(".") if path else []):
        obj = obj[part]
    return obj


def measure(fx):
    f = fx["file"]
    m = {}
    m["torch_load_default"] = attempt(lambda: torch.load(f))
    m["torch_load_cpu"] = attempt(lambda: torch.load(f, map_location="cpu"))
    m["torch_load_unsafe_cpu"] = attempt(lambda: torch.load(f, weights_only=False, map_location="cpu"))
    if fx["container"] == "zip":
        m["torch_load_mmap_cpu"] = attempt(lambda: torch.load(f, weights_only=False, map_location="cpu", mmap=True))
    if fx["container"] == "torchscript":
        m["jit_load_default"] = attempt(lambda: torch.jit.load(f))
        m["jit_load_cpu"] = attempt(lambda: torch.jit.load(f, map_location="cpu"))
    if fx.get("model_class"):
        cls = model_class(fx["model_class"])
        if fx["container"] == "torchscript":
            sd = torch.jit.load(f, map_location="cpu").state_dict()
            fx["state_dict_keys"] = list(sd)
        else:
            obj = at_path(torch.load(f, weights_only=False, map_location="cpu"), fx.get("state_dict_path"))
            if isinstance(obj, nn.Module):
                sd = obj.state_dict()
                fx["state_dict_keys"] = list(sd)
            else:
                sd = obj
                fx["state_dict_keys"] = list(sd)
                m["load_state_dict_strict"] = attempt(lambda: cls().load_state_dict(sd, strict=True))
                if fx.get("prefix"):
                    p = fx["prefix"]
                    stripped = OrderedDict((k[len(p):], v) for k, v in sd.items())
                    m["load_state_dict_strict_after_strip"] = attempt(lambda: cls().load_state_dict(stripped, strict=True))
    return m


def finalize():
    cwd = os.getcwd()
    for fx in FIXTURES:
        path = out(fx["file"])
        os.chdir(OUT)  # relative paths: messages carry no checkout path
        try:
            fx.update(measure(fx))
        finally:
            os.chdir(cwd)
        if fx["container"] == "zip":
            seen = set()

            def spy(storage, location):
                seen.add(location)
                return storage

            torch.load(path, weights_only=False, map_location=spy)
            fx["locations"] = sorted(seen)
        elif fx["container"] == "torchscript":
            root, recs = fs.zip_records(path)
            fx["locations"] = sorted({p["fields"][3] if isinstance(p["fields"][3], str) else p["fields"][3].decode()
                                      for p in fs.scan_pids(dict(recs)["data.pkl"]) if p["fields"]})
        data = open(path, "rb").read()
        fx["size"] = len(data)
        fx["sha256"] = hashlib.sha256(data).hexdigest()
    import lightning

    manifest = {
        "generator": "Scripts/make_edit_fixtures.py",
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "notes": "model_class: the plain class (Scripts/edit_models.py) the weights belong to; state_dict_path: the dotted "
                 "path of the state dict inside the checkpoint (null: the root; for whole modules, the module); prefix: what "
                 "wrapping put in front of every key. Measured here (cwd = Tests/Fixtures/edit, CPU-only machine, CUDA build "
                 "of torch): torch_load_default = torch.load(f); torch_load_cpu = torch.load(f, map_location='cpu') "
                 "(weights_only=True); torch_load_unsafe_cpu = weights_only=False, map_location='cpu' with Scripts/ on "
                 "sys.path; torch_load_mmap_cpu adds mmap=True; jit_load_* = torch.jit.load(f[, map_location='cpu']); "
                 "load_state_dict_strict = model_class().load_state_dict(<state dict>, strict=True) (the state dict loaded "
                 "with weights_only=False, map_location='cpu'); load_state_dict_strict_after_strip = the same after removing "
                 "prefix from every key. Each is {ok} or {ok: false, exception, message (first line), text (all of it), "
                 "detail (the WeightsUnpickler reason)}.",
        "fixtures": FIXTURES,
    }
    with open(out("manifest.json"), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1, ensure_ascii=False)
        fh.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.parse_args()
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"  # TorchScript's code printer follows str-hash order
        os.execv(sys.executable, [sys.executable] + sys.argv)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    for step in (make_wrapped, make_lightning, make_training_loops, make_modules, make_torchscript, make_cast):
        step()
    finalize()
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"{len(FIXTURES)} fixtures, {total} bytes in {os.path.relpath(OUT, REPO)}")


if __name__ == "__main__":
    main()
