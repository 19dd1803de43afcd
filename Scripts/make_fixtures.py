#!/usr/bin/env python
"""Write the torch fixtures under Tests/Fixtures/torch/ (run with the torch venv):

    /root/.cache/ptview/venv/bin/python Scripts/make_fixtures.py

For each fixture file F it writes, where they apply:
  F.expected.json   what torch says is inside (Tests/Interop/torch_facts.py, ls --json shape)
  F.dis.txt         pickletools disassembly golden (data.pkl; all five pickles for legacy files)
and a manifest.json describing every fixture plus how torch.load / torch.jit.load behave on it
(measured here, on this CPU-only machine).  Everything is seeded; see Tests/Fixtures/README.md
for what is and is not byte-identical between runs.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import pickletools
import shutil
import struct
import sys
import tarfile
import warnings
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(REPO, "Tests", "Fixtures", "torch")
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep __pycache__ out of the checkout
sys.path.insert(0, os.path.join(REPO, "Tests", "Interop"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import fixture_models as fm  # noqa: E402
import fixture_support as fs  # noqa: E402
import torch_facts  # noqa: E402

warnings.filterwarnings("ignore")

FIXTURES: list[dict] = []  # manifest rows, in creation order


def out(name):
    p = os.path.join(OUT, name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def add(file, container, description, *, locations=None, expected=True, dis=True, **extra):
    FIXTURES.append(dict(file=file, container=container, description=description,
                         locations=locations, expected=expected, dis=dis, **extra))


# ---------------------------------------------------------------------------------------------
# models and values


def tiny_model(seed=0, cls=fm.TinyNet):
    torch.manual_seed(seed)
    m = cls()
    m.train()
    with torch.no_grad():
        m(torch.randn(2, 3, 4, 4))  # moves the batchnorm running stats, num_batches_tracked = 1
    m.eval()
    return m


def tiny_sd(seed=0):
    return tiny_model(seed).state_dict()


def by_cdata(mapping):
    """per_storage function from {storage _cdata: location or None}."""
    return lambda st: mapping.get(st._cdata)


def cdata(t):
    return t.untyped_storage()._cdata


def trained(seed=1, steps=2):
    """TinyNet + Adam after `steps` real steps. Returns (model, optimizer)."""
    m = tiny_model(seed)
    m.train()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(4, 3, 4, 4, generator=g)
        loss = m(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.eval()
    return m, opt


# ---------------------------------------------------------------------------------------------
# fixtures


def make_state_dicts():
    sd = tiny_sd()
    fs.save_as(sd, out("sd_cpu.pt"))
    add("sd_cpu.pt", "zip", "TinyNet state_dict (conv, batchnorm, linear, layernorm), cpu; 'cpu' is memoized (BINGET)")
    for name, loc in [("sd_cuda0.pt", "cuda:0"), ("sd_cuda1.pt", "cuda:1"), ("sd_mps.pt", "mps"),
                      ("sd_xpu0.pt", "xpu:0"), ("sd_meta_tag.pt", "meta"), ("sd_npu3.pt", "npu:3")]:
        fs.save_as(sd, out(name), loc)
        add(name, "zip", f"TinyNet state_dict, every storage tagged {loc!r} (a fresh BINUNICODE per pid, like real GPU saves)")
    # mixed: conv on cuda:0, bn on cpu (torch's own shared 'cpu'), fc on cuda:1, norm on cuda:0
    where = {}
    for k, t in sd.items():
        where[cdata(t)] = {"conv": "cuda:0", "bn": None, "fc": "cuda:1", "norm": "cuda:0"}[k.split(".")[0]]
    fs.save_as(sd, out("sd_mixed.pt"), per_storage=by_cdata(where))
    add("sd_mixed.pt", "zip", "TinyNet state_dict with conv.* and norm.* on cuda:0, bn.* on cpu, fc.* on cuda:1")
    fs.save_as(sd, out("sd_cuda0_shared_loc.pt"), "cuda:0", shared=True)
    add("sd_cuda0_shared_loc.pt", "zip",
        "TinyNet state_dict tagged cuda:0 with ONE shared location str: pid #1 writes BINUNICODE 'cuda:0' + BINPUT, later pids BINGET it")


def make_traps():
    sd = tiny_sd()
    ck = OrderedDict(model=sd, config={"device": "cpu", "lr": 0.001, "amp": False})
    fs.save_as(ck, out("trap_cpu_config.pt"))
    add("trap_cpu_config.pt", "zip",
        "cpu storages + user value config={'device': 'cpu'} AFTER the model: the config's 'cpu' is a BINGET of the "
        "memo slot the first pid's location defined (torch-format 5.4 / 10.1)")
    ck2 = OrderedDict(config={"device": "cpu", "lr": 0.001, "amp": False}, model=sd)
    fs.save_as(ck2, out("trap_cpu_config_first.pt"))
    add("trap_cpu_config_first.pt", "zip",
        "the same with config FIRST: every pid location is a BINGET of the slot the user value 'cpu' defined")
    fs.save_as(ck, out("trap_cuda0_config_cpu.pt"), "cuda:0")
    add("trap_cuda0_config_cpu.pt", "zip",
        "storages tagged cuda:0 (fresh strings), config={'device': 'cpu'} is a plain user string that must stay 'cpu'")


def make_training():
    m, opt = trained()
    osd = opt.state_dict()
    ck = OrderedDict(model=m.state_dict(), optimizer=osd, epoch=17,
                     config={"lr": 0.001, "betas": [0.9, 0.999], "batch_size": 4, "arch": "TinyNet", "seed": 1,
                             "amp": False, "device": "cuda"})
    steps = {cdata(s["step"]) for s in osd["state"].values()}
    # like a real GPU run: params and Adam moments on cuda:0, Adam's 'step' scalars stay on the cpu
    fs.save_as(ck, out("train_ckpt_cuda0.pt"), per_storage=lambda st: None if st._cdata in steps else "cuda:0")
    add("train_ckpt_cuda0.pt", "zip",
        "training checkpoint {model, optimizer (Adam after 2 real steps), epoch=17, config}: model and exp_avg/exp_avg_sq on "
        "cuda:0, Adam's 0-dim 'step' tensors on cpu (as a real CUDA run saves them)")


def make_modules():
    m = tiny_model(2, fm.TinyNetWithBuffers)
    fs.save_as(m, out("model_full.pt"))
    add("model_full.pt", "zip",
        "whole pickled nn.Module fixture_models.TinyNetWithBuffers (torch.save(model)); has a persistent buffer "
        "step_count and a non-persistent buffer scratch (listed as optional)")
    fs.save_as(OrderedDict(model=m, epoch=3), out("model_full_in_dict_cuda0.pt"), "cuda:0")
    add("model_full_in_dict_cuda0.pt", "zip", "{'model': <TinyNetWithBuffers>, 'epoch': 3}, storages tagged cuda:0")
    torch.manual_seed(3)
    tied = fm.TiedNet()
    fs.save_as(tied, out("model_tied.pt"))
    add("model_tied.pt", "zip",
        "whole pickled fixture_models.TiedNet: embed.weight and head.weight are ONE Parameter (the second is a BINGET)")
    torch.manual_seed(3)
    w = torch.randn(10, 4)
    fs.save_as(OrderedDict([("embed.weight", w), ("head.weight", w), ("head.bias", torch.zeros(10))]), out("sd_tied.pt"))
    add("sd_tied.pt", "zip", "state dict where embed.weight and head.weight are the same tensor object (BINGET of the tensor)")


def make_legacy():
    torch.manual_seed(4)
    sd = tiny_sd(4)
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    obj = OrderedDict(model=sd, base=base, base_t=base.t(), row=base[1], column=base[:, 2],
                      half=torch.arange(4, dtype=torch.float16), bf16=torch.arange(3, dtype=torch.bfloat16),
                      i32=torch.arange(5, dtype=torch.int32), flags=torch.tensor([True, False, True]),
                      c64=torch.complex(torch.arange(2.0), torch.ones(2)), empty=torch.zeros(0))
    fs.save_as(obj, out("legacy_cpu.pt"), _use_new_zipfile_serialization=False)
    add("legacy_cpu.pt", "legacy",
        "legacy (non-zip) format: TinyNet state_dict + a (3,4) base with views sharing its storage (t(), row, column) "
        "+ f16/bf16/i32/bool/c64 + a 0-element tensor; cpu. Storage keys are pointer values (differ per run)")
    fs.save_as(obj, out("legacy_cuda0.pt"), "cuda:0", _use_new_zipfile_serialization=False)
    add("legacy_cuda0.pt", "legacy", "the same content in the legacy format, every storage tagged cuda:0")


def make_torchscript():
    torch.manual_seed(5)
    scripted = torch.jit.script(tiny_model(5, fm.TinyNetWithBuffers))
    scripted.save(out("ts_scripted.pt"))
    add("ts_scripted.pt", "torchscript",
        "torch.jit.script(TinyNetWithBuffers); TorchScript's state_dict also lists the non-persistent buffer")
    torch.manual_seed(6)
    m = tiny_model(6, fm.TinyNetConst)
    traced = torch.jit.trace(m, (torch.randn(1, 3, 4, 4),))
    traced.save(out("ts_traced.pt"))
    add("ts_traced.pt", "torchscript",
        "torch.jit.trace(TinyNetConst): a tensor literal becomes constants/0 (listed as optional CONSTANTS.c0); "
        "traced_inputs/0 is a 0-byte record whose pid says numel 48")
    for src, dst in [("ts_scripted.pt", "ts_scripted_cuda0.pt"), ("ts_traced.pt", "ts_traced_cuda0.pt")]:
        root, recs = fs.zip_records(out(src))
        pk = set(fs.pickle_records([n for n, _ in recs]))
        new = [(n, fs.rewrite_locations(d, {"cpu": "cuda:0"}) if n in pk else d) for n, d in recs]
        fs.rezip(new, out(dst))
        add(dst, "torchscript",
            f"{src} with every storage location in data.pkl/constants.pkl/traced_inputs.pkl rewritten to cuda:0 "
            "(.debug_pkl untouched), re-zipped with torch._C.PyTorchFileWriter (code/ records now stored)")


def make_dtypes():
    base = torch.arange(6, dtype=torch.float32) - 2  # -2 .. 3
    d = OrderedDict()
    d["float64"] = base.double()
    d["float32"] = base.clone()
    d["float16"] = base.half()
    d["bfloat16"] = base.bfloat16()
    d["int64"] = base.long()
    d["int32"] = base.int()
    d["int16"] = base.short()
    d["int8"] = base.to(torch.int8)
    d["uint8"] = torch.arange(6, dtype=torch.uint8) * 40
    d["bool"] = base > 0
    d["complex64"] = torch.complex(base, -base)
    d["complex128"] = torch.complex(base.double(), base.double() * 2)
    d["complex32"] = torch.complex(base, base / 2).to(torch.complex32)
    for n in ["float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz"]:
        d[n] = base.to(getattr(torch, n))
    d["float8_e8m0fnu"] = torch.tensor([0.25, 0.5, 1.0, 2.0, 4.0, 8.0]).to(torch.float8_e8m0fnu)
    d["float4_e2m1fn_x2"] = torch.tensor([0x00, 0x21, 0x43, 0x65, 0x87, 0xA9], dtype=torch.uint8).view(torch.float4_e2m1fn_x2)
    d["uint16"] = torch.arange(6, dtype=torch.int32).mul(1000).to(torch.uint16)
    d["uint32"] = torch.arange(6, dtype=torch.int64).mul(100000).to(torch.uint32)
    d["uint64"] = torch.arange(6, dtype=torch.int64).mul(10**12).to(torch.uint64)
    d["bcomplex32"] = torch.arange(6, dtype=torch.int32).view(torch.bcomplex32)
    d["bits8"] = torch.arange(6, dtype=torch.uint8).view(torch.bits8)
    d["bits16"] = torch.arange(6, dtype=torch.int16).view(torch.bits16)
    d["bits1x8"] = torch.arange(6, dtype=torch.uint8).view(torch.bits1x8)
    d["bits2x4"] = torch.arange(6, dtype=torch.uint8).view(torch.bits2x4)
    d["bits4x2"] = torch.arange(6, dtype=torch.uint8).view(torch.bits4x2)
    kept, refused = OrderedDict(), {}
    for k, v in d.items():  # keep each dtype only if torch can save AND load it back by itself
        try:
            b = io.BytesIO()
            torch.save({k: v}, b)
            b.seek(0)
            torch.load(b, weights_only=False)
            kept[k] = v
        except Exception as e:  # noqa: BLE001
            refused[k] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    fs.save_as(kept, out("dtypes.pt"))
    add("dtypes.pt", "zip", "one 6-element tensor per dtype torch 2.15 can save (v2 storages and UntypedStorage + "
        "_rebuild_tensor_v3 dtypes); key = dtype name", dtypes_refused=refused)

    q = OrderedDict()
    x = torch.linspace(-1, 1, 8)
    q["qint8_per_tensor"] = torch.quantize_per_tensor(x, 0.01, 0, torch.qint8)
    q["quint8_per_tensor"] = torch.quantize_per_tensor(x, 0.01, 128, torch.quint8)
    q["qint32_per_tensor"] = torch.quantize_per_tensor(x, 0.001, 0, torch.qint32)
    w = torch.linspace(-1, 1, 12).reshape(3, 4)
    q["qint8_per_channel"] = torch.quantize_per_channel(w, torch.tensor([0.01, 0.02, 0.03], dtype=torch.float64),
                                                        torch.tensor([0, 1, -1]), 0, torch.qint8)
    q["quint8_per_channel_axis1"] = torch.quantize_per_channel(w, torch.tensor([0.01, 0.02, 0.03, 0.04], dtype=torch.float64),
                                                               torch.tensor([128, 120, 130, 127]), 1, torch.quint8)
    q["quint4x2"] = torch.quantize_per_tensor(x, 0.2, 8, torch.quint4x2)
    q["quint2x4"] = torch.quantize_per_tensor(x, 0.5, 2, torch.quint2x4)
    fs.save_as(q, out("quantized.pt"))
    add("quantized.pt", "zip", "quantized tensors (_rebuild_qtensor): qint8/quint8/qint32 per-tensor, qint8/quint8 per-channel "
        "(scales float64 + zero_points int64 tensors with their own storages), packed quint4x2 (8 values in 4 bytes) and quint2x4 (2 bytes)")


def make_views():
    torch.manual_seed(7)
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    long_base = torch.arange(10, dtype=torch.int64)
    conv = torch.randn(8, 3, 3, 3)
    v = OrderedDict()
    v["base"] = base
    v["transposed"] = base.t()
    v["row"] = base[1]
    v["column"] = base[:, 2]
    v["block"] = base[1:, 1:3]
    v["every_other"] = long_base[1::2]
    v["channels_last"] = conv.contiguous(memory_format=torch.channels_last)
    v["permuted"] = torch.randn(3, 3, 3, 4).permute(3, 2, 1, 0)  # (4,3,3,3) stride (1,4,12,36)
    v["expanded"] = torch.tensor([[1.0], [2.0], [3.0]]).expand(3, 4)  # stride (1, 0)
    v["scalar"] = torch.tensor(3.5)
    v["scalar_int"] = torch.tensor(7)
    v["empty"] = torch.zeros(0, 3)
    v["empty_i64"] = torch.zeros(0, dtype=torch.int64)
    v["conj"] = torch.tensor([1 + 2j, 3 - 4j], dtype=torch.complex64).conj()
    v["neg"] = torch.tensor([1 + 1j, 2 - 3j], dtype=torch.complex64).conj().imag
    v["param"] = nn.Parameter(torch.randn(2, 2))
    v["requires_grad_leaf"] = torch.ones(3).requires_grad_()
    fs.save_as(v, out("views.pt"))
    add("views.pt", "zip",
        "views sharing one storage (transpose, row, column, 2-d block with offset 5, strided slice), channels_last and "
        "permuted conv weights, an expanded (0-stride) tensor, 0-dim scalars, 0-element tensors (0-byte records), "
        "conj/neg bit tensors (metadata dict), an nn.Parameter (_rebuild_parameter) and a requires_grad leaf")


def make_special():
    torch.manual_seed(8)
    t = torch.randn(3).as_subclass(fm.TaggedTensor)
    a = torch.randn(2)
    a.note = "hello"
    p = nn.Parameter(torch.randn(2))
    p.tag = 7
    fs.save_as(OrderedDict(tagged=t, with_attr=a, param_with_attr=p), out("tensor_subclass.pt"))
    add("tensor_subclass.pt", "zip",
        "fixture_models.TaggedTensor subclass and a plain tensor with a __dict__ attribute (both "
        "torch._tensor._rebuild_from_type_v2), a Parameter with an attribute (_rebuild_parameter_with_state)")

    i = torch.tensor([[0, 1, 1], [2, 0, 2]])
    coo = torch.sparse_coo_tensor(i, torch.tensor([3.0, 4.0, 5.0]), (2, 3)).coalesce()
    dense = torch.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]])
    fs.save_as(OrderedDict(coo=coo, csr=dense.to_sparse_csr(), csc=dense.to_sparse_csc()), out("sparse.pt"))
    add("sparse.pt", "zip", "sparse tensors (_rebuild_sparse_tensor): a coalesced COO (indices int64, values float32), CSR and CSC")

    nt = torch.nested.nested_tensor([torch.arange(6.0).reshape(2, 3), torch.arange(12.0).reshape(4, 3)])
    fs.save_as(OrderedDict(nested=nt), out("nested.pt"))
    add("nested.pt", "zip", "a nested tensor (_rebuild_nested_tensor; not allowed by weights_only): buffer + sizes/strides/offsets tensors")

    meta = OrderedDict(weight=torch.empty(3, 4, device="meta"), bias=torch.empty(4, dtype=torch.float16, device="meta"),
                       meta_subclass=torch.empty(2, device="meta").as_subclass(fm.TaggedTensor))
    fs.save_as(meta, out("meta_tensors.pt"))
    add("meta_tensors.pt", "zip", "real meta tensors (_rebuild_meta_tensor_no_storage): no pid, no data record; one is a subclass")

    x = torch.arange(4.0).as_subclass(fm.DeviceTaggedTensor)
    x.fake_device = "cuda:0"
    fs.save_as(OrderedDict(xla_like=x, plain=torch.ones(2)), out("device_from_cpu.pt"))
    add("device_from_cpu.pt", "zip",
        "torch._utils._rebuild_device_tensor_from_cpu_tensor(cpu tensor, float32, 'cuda:0', False), the way torch pickles "
        "xla/maia/mtia tensors (synthesized with a __reduce_ex__ override; the pid location is 'cpu', the device argument is 'cuda:0')")

    w = OrderedDict(w_cuda=fm.WrapperTensor((2, 3), "cuda:0"), w_cpu=fm.WrapperTensor((4,), "cpu"))
    fs.save_as(w, out("wrapper_subclass.pt"))
    add("wrapper_subclass.pt", "zip",
        "data-less wrapper subclasses (torch._utils._rebuild_wrapper_subclass inside _rebuild_from_type_v2): "
        "device is a torch.device argument, no storage, no data record")


def make_protocols():
    sd = tiny_sd()
    for proto in [0, 1, 3, 4, 5]:
        name = f"sd_proto{proto}.pt"
        try:
            fs.save_as(sd, out(name), pickle_protocol=proto)
            add(name, "zip", f"TinyNet state_dict saved with pickle_protocol={proto}")
        except Exception as e:  # noqa: BLE001
            if os.path.exists(out(name)):
                os.remove(out(name))
            FIXTURES.append(dict(file=None, container="zip", description=f"torch.save(pickle_protocol={proto}) refused",
                                 refused={"exception": exc_name(e), "message": first_line(e)}))


def make_numpy_namespace():
    import argparse
    sd = tiny_sd()
    ck = OrderedDict(model=sd, best_acc=np.float64(0.875), class_mean=np.arange(6, dtype=np.float32).reshape(2, 3),
                     args=argparse.Namespace(lr=0.001, epochs=30, arch="TinyNet", device="cuda"), epoch=30)
    fs.save_as(ck, out("numpy_namespace_cuda0.pt"), "cuda:0")
    add("numpy_namespace_cuda0.pt", "zip",
        "{model (cuda:0), best_acc: numpy.float64, class_mean: numpy array, args: argparse.Namespace, epoch}: not weights_only "
        "loadable even after a device remap")


def make_many():
    g = torch.Generator().manual_seed(9)
    d = OrderedDict((f"t{i:04d}", torch.randn(4, generator=g)) for i in range(2000))
    fs.save_as(d, out("sd_many.pt"))
    add("sd_many.pt", "zip", "2000 tensors of 4 float32 each (memo passes 255: LONG_BINPUT / LONG_BINGET). Its dis golden "
        "(about 2 MB) is not committed: make it at test time with `python3 -m pickletools` on the extracted data.pkl",
        dis=False)


def to_big_endian(path):
    """Rewrite a little-endian torch.save zip in place as byteorder=big (torch-format 9): every data/*
    record's elements byte-swapped by the element size of the dtype torch reports for the tensors
    using it (complex: per component), the byteorder record set to 'big', re-zipped with
    PyTorchFileWriter."""
    unit = {}
    for e in torch_facts.facts(path):
        dt = getattr(torch, e["dtype"])
        u = torch.empty(0, dtype=dt).element_size() // (2 if dt.is_complex else 1)
        if unit.setdefault(e["storage"], u) != u:
            raise AssertionError(f"{path}: {e['storage']} used with two element sizes")
    root, recs = fs.zip_records(path)
    new = []
    for n, data in recs:
        if n == "byteorder":
            data = b"big"
        elif n.startswith("data/"):
            u = unit[n]
            if u > 1:
                data = b"".join(data[i:i + u][::-1] for i in range(0, len(data), u))
        new.append((n, data))
    fs.rezip(new, path)


def values_after_load(path, original):
    """{key: torch.load(path) gives the original bytes?}"""
    back = torch.load(path, weights_only=False)
    return {k: bool(torch.equal(back[k].view(torch.uint8) if back[k].dtype != torch.bool else back[k],
                                v.view(torch.uint8) if v.dtype != torch.bool else v)) for k, v in original.items()}


def make_byteorder_alignment_crc():
    torch.manual_seed(10)
    d = OrderedDict(f32=torch.randn(2, 3), i64=torch.arange(-3, 3), bf16=torch.randn(4).bfloat16(),
                    f16=torch.randn(3).half(), f64=torch.randn(2).double(), i16=torch.arange(-2, 2, dtype=torch.int16),
                    c64=torch.complex(torch.randn(2), torch.randn(2)), c128=torch.complex(torch.randn(2).double(), torch.randn(2).double()),
                    flags=torch.tensor([True, False]), u8=torch.arange(3, dtype=torch.uint8))
    fs.save_as(d, out("sd_bigendian.pt"))  # written little-endian first, then converted
    to_big_endian(out("sd_bigendian.pt"))
    add("sd_bigendian.pt", "zip",
        "byteorder record = 'big': every data/* record's elements byte-swapped (complex per component), re-zipped with "
        "PyTorchFileWriter; torch.load gives the original values", values_equal_after_load=values_after_load(out("sd_bigendian.pt"), d))
    v3 = OrderedDict(u16=torch.tensor([1, 256, 4660], dtype=torch.int32).to(torch.uint16),
                     u32=torch.tensor([1, 65536, 305419896], dtype=torch.int64).to(torch.uint32),
                     u64=torch.tensor([1, 2**40], dtype=torch.int64).to(torch.uint64),
                     c32=torch.complex(torch.tensor([1.0, 2.0]), torch.tensor([-1.0, 0.5])).to(torch.complex32),
                     f32=torch.tensor([1.5, -2.0]))
    fs.save_as(v3, out("sd_bigendian_v3.pt"))
    to_big_endian(out("sd_bigendian_v3.pt"))
    add("sd_bigendian_v3.pt", "zip",
        "byteorder 'big' with v3 dtypes (uint16/uint32/uint64/complex32 as UntypedStorage + _rebuild_tensor_v3) and one float32: "
        "torch byteswaps by the pid's storage dtype, which is uint8 for UntypedStorage, so torch.load returns the v3 tensors "
        "UNSWAPPED (wrong values); only f32 comes back right (see values_equal_after_load)",
        values_equal_after_load=values_after_load(out("sd_bigendian_v3.pt"), v3))

    from torch.utils.serialization import config
    small = OrderedDict(w=torch.arange(6, dtype=torch.float32).reshape(2, 3), b=torch.ones(2))
    old = config.save.storage_alignment
    config.save.storage_alignment = 4096
    try:
        fs.save_as(small, out("sd_align4096.pt"))
    finally:
        config.save.storage_alignment = old
    add("sd_align4096.pt", "zip", "storage_alignment 4096 (torch.utils.serialization.config.save.storage_alignment): "
        ".storage_alignment record '4096', every record's data at a multiple of 4096")

    torch.serialization.set_crc32_options(False)
    try:
        fs.save_as(small, out("sd_nocrc.pt"))
    finally:
        torch.serialization.set_crc32_options(True)
    add("sd_nocrc.pt", "zip", "torch.serialization.set_crc32_options(False): every CRC is 0 (Python zipfile.read() fails, torch does not check)")


ST_DTYPE = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64",
            torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}


def write_safetensors(path, tensors, metadata):
    """safetensors by hand (torch-format 8.1): u64 LE header length, JSON header padded with spaces to 8, data."""
    order = sorted(tensors, key=lambda n: (-tensors[n].element_size(), n))
    entries, blobs, off = {}, [], 0
    for n in order:
        t = tensors[n].contiguous()
        b = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        entries[n] = {"dtype": ST_DTYPE[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header = {"__metadata__": metadata}
    for n in sorted(entries):
        header[n] = entries[n]
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - (8 + len(hb)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def make_other_formats():
    sd = tiny_sd()
    st = OrderedDict((k, v) for k, v in sd.items())
    st["extra.f16"] = torch.arange(3, dtype=torch.float16)
    st["extra.bf16"] = torch.arange(3, dtype=torch.bfloat16)
    st["extra.mask"] = torch.tensor([True, False, True])
    st["extra.u8"] = torch.arange(5, dtype=torch.uint8)
    write_safetensors(out("model.safetensors"), st, {"format": "pt"})
    add("model.safetensors", "safetensors",
        "safetensors written by hand (u64 header length, space-padded JSON, data sorted by dtype alignment then name): "
        "TinyNet state_dict + f16/bf16/bool/u8 extras", locations=[], expected=False, dis=False)

    try:
        torch.manual_seed(11)
        m = tiny_model(11)
        ep = torch.export.export(m, (torch.randn(1, 3, 4, 4),))
        torch.export.save(ep, out("export_tiny.pt2"))
        add("export_tiny.pt2", "pt2", "torch.export.save of TinyNet (eval): a zip with archive_format 'pt2', no data.pkl",
            locations=["cpu"], expected=False, dis=False)
    except Exception as e:  # noqa: BLE001
        FIXTURES.append(dict(file=None, container="pt2", description="torch.export refused",
                             refused={"exception": exc_name(e), "message": first_line(e)}))

    try:
        import torch.distributed.checkpoint as dcp
        d = out("dcp_ckpt")
        shutil.rmtree(d, ignore_errors=True)
        import torch.distributed.checkpoint.filesystem as dcp_fs
        gen = dcp_fs._generate_uuid  # the save id is a random uuid4: pin it so reruns are byte-identical
        dcp_fs._generate_uuid = lambda: "00000000-0000-4000-8000-000000000000"
        try:
            # Saved by relative path from its parent: .metadata records checkpoint_id as given,
            # so an absolute path would embed the generating machine's folder.
            here = os.getcwd()
            os.chdir(os.path.dirname(d))
            try:
                dcp.save({"model": tiny_sd(12)}, checkpoint_id=os.path.basename(d))
            finally:
                os.chdir(here)
        finally:
            dcp_fs._generate_uuid = gen
        add("dcp_ckpt", "dcp", "torch.distributed.checkpoint.save, single process, no process group: .metadata (protocol-4 "
            "pickle) + __0_0.distcp (concatenated torch.save zips)", locations=["cpu"], expected=False, dis=False)
    except Exception as e:  # noqa: BLE001
        FIXTURES.append(dict(file=None, container="dcp", description="torch.distributed.checkpoint.save refused",
                             refused={"exception": exc_name(e), "message": first_line(e)}))

    sd = tiny_sd(13)
    keys = list(sd)
    shards = [OrderedDict((k, sd[k]) for k in keys if k.startswith(("conv", "bn"))),
              OrderedDict((k, sd[k]) for k in keys if not k.startswith(("conv", "bn")))]
    weight_map, total = {}, 0
    for i, shard in enumerate(shards, 1):
        name = f"pytorch_model-{i:05d}-of-{len(shards):05d}.bin"
        fs.save_as(shard, out(f"sharded/{name}"))
        add(f"sharded/{name}", "zip", f"shard {i} of the sharded TinyNet checkpoint (an ordinary torch.save zip, root '{name[:-4]}')")
        for k, v in shard.items():
            weight_map[k] = name
            total += v.numel() * v.element_size()
    with open(out("sharded/pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
        f.write("\n")
    add("sharded/pytorch_model.bin.index.json", "index", "Hugging Face style index of the two shards",
        locations=["cpu"], expected=False, dis=False)

    write_tar_era(out("tar_era.pt"))
    add("tar_era.pt", "tar",
        "synthesized torch <= 0.1.10 tar file (members sys_info, pickle, tensors, storages; torch-format 3.3): "
        "{'weight': FloatTensor (2,3), 'bias': FloatTensor (3,)} on cpu", dis=False)


def write_tar_era(path):
    """The pre-0.1.10 tar layout, as torch 2.15's legacy_load reads it."""
    torch.manual_seed(14)
    w, b = torch.randn(2, 3), torch.randn(3)

    def pk(o):
        return pickle.dumps(o, protocol=2)

    sys_info = pk({"protocol_version": 1000, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 8}})
    storages = io.BytesIO()
    storages.write(pk(2))
    for key, t in ((100, w), (101, b)):
        storages.write(pk((key, "cpu", torch.FloatStorage)))
        storages.write(struct.pack("<q", t.numel()))
        storages.write(t.numpy().tobytes())
    storages.write(pk([]))  # no storage views
    tensors = io.BytesIO()
    tensors.write(pk(2))
    for key, skey, t in ((0, 100, w), (1, 101, b)):
        tensors.write(pk((key, skey, torch.FloatTensor)))
        tensors.write(struct.pack("<i", t.dim()) + b"\0\0\0\0")
        tensors.write(struct.pack(f"<{t.dim()}q", *t.shape))
        tensors.write(struct.pack(f"<{t.dim()}q", *t.stride()))
        tensors.write(struct.pack("<q", t.storage_offset()))

    class Ref:
        def __init__(self, k):
            self.k = k

    class P(pickle.Pickler):
        def persistent_id(self, obj):
            return str(obj.k) if isinstance(obj, Ref) else None

    main = io.BytesIO()
    P(main, protocol=2).dump({"weight": Ref(0), "bias": Ref(1)})
    if os.path.exists(path):
        os.remove(path)
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (("sys_info", sys_info), ("pickle", main.getvalue()),
                           ("tensors", tensors.getvalue()), ("storages", storages.getvalue())):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode, ti.uid, ti.gid, ti.uname, ti.gname = len(data), 0, 0o644, 0, 0, "", ""
            tar.addfile(ti, io.BytesIO(data))


# ---------------------------------------------------------------------------------------------
# goldens, measurements, manifest


def exc_name(e):
    t = type(e)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def first_line(e):
    s = str(e).strip()
    return s.splitlines()[0] if s else ""


def attempt(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fn()
            return {"ok": True}
        except BaseException as e:  # noqa: BLE001 - we record whatever torch raises
            if isinstance(e, KeyboardInterrupt):
                raise
            r = {"ok": False, "exception": exc_name(e), "message": first_line(e)}
            text = str(e)
            at = text.find("WeightsUnpickler error:")
            if at >= 0:  # WHY weights_only refused: the first non-empty line after the marker
                rest = [ln.strip() for ln in text[at + len("WeightsUnpickler error:"):].splitlines() if ln.strip()]
                if rest:
                    r["detail"] = rest[0]
            return r


def write_dis(fx):
    """<file>.dis.txt: pickletools.dis exactly as `python3 -m pickletools FILE` prints it (indent 4, no annotations)."""
    path = out(fx["file"])
    buf = io.StringIO()
    try:
        if fx["container"] in ("zip", "torchscript"):
            root, recs = fs.zip_records(path)
            pickletools.dis(io.BytesIO(dict(recs)["data.pkl"]), buf, None, 4, 0)
        elif fx["container"] == "legacy":
            with open(path, "rb") as f:  # five pickles, one handle: offsets are absolute file offsets
                for _ in range(5):
                    pickletools.dis(f, buf, None, 4, 0)
        else:
            return None
    except Exception as e:  # noqa: BLE001
        fx["dis_error"] = f"{exc_name(e)}: {first_line(e)}"
        return None
    with open(path + ".dis.txt", "w", encoding="utf-8") as f:
        f.write(buf.getvalue())
    return fx["file"] + ".dis.txt"


def measure(fx):
    """Run real torch on the fixture (cwd = OUT, relative paths so messages carry no checkout path)."""
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
    return m


def locations_from(entries):
    locs = set()
    for e in entries:
        if e.get("device"):
            locs.add(e["device"])
        for c in e.get("storages", []):
            locs.add(c["device"])
    return sorted(locs)


def finalize():
    cwd = os.getcwd()
    rows = []
    for fx in FIXTURES:
        if fx.get("file") is None:
            rows.append(fx)
            continue
        path = out(fx["file"])
        entries = None
        if fx["expected"]:
            try:
                entries = torch_facts.facts(path)
            except Exception as e:  # noqa: BLE001 - torch itself cannot list this file
                fx["facts_error"] = f"{exc_name(e)}: {first_line(e)}"
                fx["expected"] = False
        if entries is not None:
            with open(path + ".expected.json", "w", encoding="utf-8") as fh:
                fh.write(torch_facts.dumps(entries))
            fx["expected"] = fx["file"] + ".expected.json"
            if fx["locations"] is None:
                fx["locations"] = locations_from(entries)
            fx["tensors"] = len(entries)
        else:
            fx["expected"] = None
        fx["dis"] = write_dis(fx) if fx["dis"] else None
        os.chdir(OUT)
        try:
            fx.update(measure(fx))
        finally:
            os.chdir(cwd)
        fx["size"] = (os.path.getsize(path) if os.path.isfile(path)
                      else sum(os.path.getsize(os.path.join(path, n)) for n in sorted(os.listdir(path))))
        rows.append(fx)
    manifest = {
        "generator": "Scripts/make_fixtures.py",
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "pickletools": "CPython 3.11.7 Lib/pickletools.py (the venv's; the same file the system python3 uses)",
        "notes": "torch_load_default = torch.load(f) with defaults (weights_only=True, no map_location); "
                 "torch_load_cpu = torch.load(f, map_location='cpu') (still weights_only=True: what a relocated file would do); "
                 "torch_load_unsafe_cpu = torch.load(f, weights_only=False, map_location='cpu') with Scripts/ on sys.path; "
                 "torch_load_mmap_cpu adds mmap=True; jit_load_* = torch.jit.load(f[, map_location='cpu']). "
                 "Measured on a CPU-only machine (CUDA build of torch, no driver).",
        "fixtures": rows,
    }
    with open(out("manifest.json"), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1, ensure_ascii=False)
        fh.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.parse_args()
    if os.environ.get("PYTHONHASHSEED") != "0":
        # TorchScript's code printer iterates Python sets of attribute names: fix str hashing
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable] + sys.argv)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    for step in (make_state_dicts, make_traps, make_training, make_modules, make_legacy, make_torchscript, make_dtypes,
                 make_views, make_special, make_protocols, make_numpy_namespace, make_many, make_byteorder_alignment_crc,
                 make_other_formats):
        step()
    finalize()
    total = 0
    for dp, _, fns in os.walk(OUT):
        total += sum(os.path.getsize(os.path.join(dp, n)) for n in fns)
    print(f"{len(FIXTURES)} fixtures, {total} bytes in {os.path.relpath(OUT, REPO)}")


if __name__ == "__main__":
    main()
