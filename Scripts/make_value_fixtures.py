#!/usr/bin/env python
"""Write the value fixtures under Tests/Fixtures/values/ (run with the torch venv):

    /root/.cache/ptview/venv/bin/python Scripts/make_value_fixtures.py

Checkpoints whose *values* matter (for `ptview stats`, and later `cat`, `diff`, `export`):
every dtype with NaN, infinities, subnormals and negative zero; views of every kind; a
big-endian archive; the legacy format; a TorchScript archive; quantized tensors per tensor
and per channel; empty and 0-dim tensors; storages tagged with fake GPU locations
(torch-format.md section 7). Only the files are written: the interop suite
(Tests/Interop/test_stats.py) loads them with torch and computes what to expect there.
Seeded; byte-identical between runs except values_legacy.pt (storage keys are pointers).
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(REPO, "Tests", "Fixtures", "values")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "Tests", "Interop"))
sys.dont_write_bytecode = True

import torch  # noqa: E402
from torch import nn  # noqa: E402

import fixture_support as fs  # noqa: E402
import torch_facts  # noqa: E402

warnings.filterwarnings("ignore")


def out(name: str) -> str:
    return os.path.join(OUT, name)


def floats(n: int, dtype, scale: float = 1.0) -> torch.Tensor:
    """n values with the special ones torch can hold in dtype placed among random ones."""
    t = (torch.randn(n, dtype=torch.float64) * scale)
    finfo = torch.finfo(dtype)
    # float64's own extremes would make any sum order-dependent (max + max overflows);
    # 1e300 still overflows the variance, to infinity in torch and in ptview alike.
    big = 1e300 if dtype == torch.float64 else finfo.max
    # One extreme sign only: max and -max among small values would make the mean's value
    # depend on the order of summation (the small ones vanish in whichever partial sum holds
    # an extreme), in torch as in anything else.
    special = [0.0, -0.0, big, -finfo.tiny, finfo.tiny, finfo.smallest_normal / 4]
    t[: len(special)] = torch.tensor(special, dtype=torch.float64)
    return t.to(dtype)


def with_nonfinite(t: torch.Tensor) -> torch.Tensor:
    t = t.clone()
    t[3] = float("nan")
    t[5] = float("inf")
    t[7] = float("-inf")
    t[9] = float("nan")
    return t


def make_dtypes() -> None:
    torch.manual_seed(11)
    d = OrderedDict()
    for dt in (torch.float64, torch.float32, torch.float16, torch.bfloat16):
        name = str(dt).removeprefix("torch.")
        d[name] = floats(1000, dt, 10.0)
        d[name + "_nonfinite"] = with_nonfinite(floats(100, dt))
        d[name + "_subnormal"] = (torch.rand(64, dtype=torch.float64) * torch.finfo(dt).smallest_normal).to(dt)
    # float8 formats: random bytes cover every encoding, NaNs included.
    for dt in (torch.float8_e4m3fn, torch.float8_e5m2, torch.float8_e4m3fnuz, torch.float8_e5m2fnuz,
               torch.float8_e8m0fnu):
        d[str(dt).removeprefix("torch.")] = torch.arange(256, dtype=torch.uint8).view(dt).clone()
    d["float8_e4m3fn_values"] = (torch.randn(200) * 30).to(torch.float8_e4m3fn)
    for dt in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.uint16, torch.uint32,
               torch.uint64):
        info = torch.iinfo(dt)
        lo, hi = max(info.min, -(2**62)), min(info.max, 2**62)
        t = torch.randint(lo, hi, (500,), dtype=torch.int64 if dt != torch.uint64 else torch.int64)
        t = t.to(dt) if dt != torch.uint64 else t.abs().to(torch.uint64)
        t[:3] = torch.tensor([0, 0, 1]).to(dt)
        d[str(dt).removeprefix("torch.")] = t
    d["int64_extremes"] = torch.tensor([-(2**63), 2**63 - 1, 2**53 + 1, 0, -1], dtype=torch.int64)
    d["uint64_extremes"] = torch.tensor([0, 2**64 - 1, 2**63, 2**53 + 1], dtype=torch.uint64)
    d["bool"] = torch.rand(333) > 0.3
    c = torch.complex(torch.randn(50), torch.randn(50))
    c[1] = complex(float("nan"), 1.0)
    c[2] = complex(1.0, float("inf"))
    c[3] = complex(float("-inf"), 0.0)
    c[4] = complex(float("inf"), float("nan"))
    c[5] = complex(float("-inf"), float("inf"))
    c[6] = 0
    d["complex64"] = c
    d["complex128"] = c.to(torch.complex128)
    d["complex32"] = c.to(torch.complex32)
    d["scalar"] = torch.tensor(-2.5)
    d["scalar_nan"] = torch.tensor(float("nan"))
    d["scalar_int"] = torch.tensor(42)
    d["one"] = torch.tensor([7.0])
    d["empty"] = torch.zeros(0)
    d["empty_2d_i32"] = torch.zeros(3, 0, dtype=torch.int32)
    d["all_nan"] = torch.full((5,), float("nan"))
    d["all_inf"] = torch.tensor([float("inf"), float("-inf")])
    # A big mean and a small spread: a sum of squares would cancel; ptview must not.
    d["offset_mean"] = 1e6 + torch.randn(20_000, dtype=torch.float64) * 1e-3
    d["offset_mean_f32"] = (1e4 + torch.randn(20_000) * 1e-2).float()
    d["large"] = torch.randn(150_000) * 3 + 1  # several read pieces
    fs.save_as(d, out("values_dtypes.pt"), "cuda:0")


def make_views() -> None:
    torch.manual_seed(12)
    base = torch.randn(64, 48)
    v = OrderedDict()
    v["base"] = base
    v["transposed"] = base.t()
    v["row"] = base[5]
    v["column"] = base[:, 7]
    v["block"] = base[3:40, 10:30]
    v["strided"] = base[1::3, ::5]
    v["permuted"] = torch.randn(5, 6, 7, 8).permute(2, 0, 3, 1)
    v["channels_last"] = torch.randn(4, 3, 5, 5).contiguous(memory_format=torch.channels_last)
    v["expanded"] = torch.randn(3, 1).expand(3, 1000)
    v["expanded_inner"] = torch.randn(1, 50).expand(40, 50)
    v["expanded_scalar"] = torch.tensor(1.5).expand(7, 9)
    v["overlapping"] = torch.arange(100, dtype=torch.float32).as_strided((20, 10), (3, 1), 2)
    v["big_column"] = torch.randn(100, 1100)[:, 3]  # rows 4400 bytes apart: one read each
    v["big_transposed"] = torch.randn(300, 250).t()  # more than one 256 KiB piece
    ints = torch.arange(1000, dtype=torch.int32)
    v["ints_strided"] = ints[7::13]
    v["neg"] = torch.tensor([1 + 1j, 2 - 3j, -5 + 0.5j], dtype=torch.complex64).conj().imag
    v["conj"] = torch.tensor([1 + 2j, 3 - 4j], dtype=torch.complex64).conj()
    v["empty_view"] = base[:, 3:3]
    v["param"] = nn.Parameter(torch.randn(10, 10))
    fs.save_as(v, out("values_views.pt"), "cuda:0")


def to_big_endian(path: str) -> None:
    """Byte-swap every data/* record by its element size (complex: per component) and set
    byteorder=big (torch-format.md section 9); torch.load swaps them back."""
    unit = {}
    for e in torch_facts.facts(path):
        if e.get("storage") is None:
            continue
        dt = getattr(torch, e["dtype"])
        u = torch.empty(0, dtype=dt).element_size() // (2 if dt.is_complex else 1)
        unit.setdefault(e["storage"], u)
    _, recs = fs.zip_records(path)
    new = []
    for n, data in recs:
        if n == "byteorder":
            data = b"big"
        elif n.startswith("data/") and unit.get(n, 1) > 1:
            u = unit[n]
            data = b"".join(data[i:i + u][::-1] for i in range(0, len(data), u))
        new.append((n, data))
    fs.rezip(new, path)


def make_bigendian() -> None:
    torch.manual_seed(13)
    d = OrderedDict()
    d["f64"] = with_nonfinite(floats(40, torch.float64, 5.0))
    d["f32"] = with_nonfinite(floats(40, torch.float32, 5.0))
    d["f16"] = with_nonfinite(floats(40, torch.float16))
    d["bf16"] = with_nonfinite(floats(40, torch.bfloat16))
    d["i64"] = torch.randint(-(2**40), 2**40, (30,))
    d["i32"] = torch.randint(-(2**30), 2**30, (30,), dtype=torch.int32)
    d["i16"] = torch.randint(-3000, 3000, (30,), dtype=torch.int16)
    d["u16"] = torch.randint(0, 60000, (30,)).to(torch.uint16)
    d["c64"] = torch.complex(torch.randn(6), torch.randn(6))
    d["c128"] = torch.complex(torch.randn(6, dtype=torch.float64), torch.randn(6, dtype=torch.float64))
    base = torch.randn(6, 5)
    d["base"] = base
    d["base_t"] = base.t()
    fs.save_as(d, out("values_bigendian.pt"), "cuda:0")
    to_big_endian(out("values_bigendian.pt"))


def make_legacy() -> None:
    torch.manual_seed(14)
    base = torch.randn(10, 6)
    d = OrderedDict()
    d["base"] = base
    d["base_t"] = base.t()
    d["row"] = base[4]
    d["column"] = base[:, 1]
    d["half"] = with_nonfinite(floats(30, torch.float16))
    d["bf16"] = floats(30, torch.bfloat16)
    d["f64"] = with_nonfinite(floats(30, torch.float64))
    d["i64"] = torch.randint(-1000, 1000, (25,))
    d["i8"] = torch.randint(-128, 127, (25,), dtype=torch.int8)
    d["flags"] = torch.rand(20) > 0.5
    d["c64"] = torch.complex(torch.randn(4), torch.randn(4))
    d["scalar"] = torch.tensor(3.25)
    d["empty"] = torch.zeros(0)
    fs.save_as(d, out("values_legacy.pt"), "cuda:0", _use_new_zipfile_serialization=False)


class Scripted(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 4)
        self.register_buffer("scale", torch.tensor([0.5, float("nan"), 2.0, float("inf")]))
        self.register_buffer("steps", torch.tensor(17))

    def forward(self, x):
        return self.fc(x) * self.scale


def make_torchscript() -> None:
    torch.manual_seed(15)
    torch.jit.script(Scripted()).save(out("values_script.pt"))


def make_quantized() -> None:
    torch.manual_seed(16)
    q = OrderedDict()
    x = torch.randn(300) * 20
    q["qint8"] = torch.quantize_per_tensor(x, 0.37, 3, torch.qint8)
    q["quint8"] = torch.quantize_per_tensor(x, 0.0371, 100, torch.quint8)
    q["qint32"] = torch.quantize_per_tensor(x, 1e-4, -7, torch.qint32)
    q["qint32_large"] = torch.quantize_per_tensor(torch.randn(100) * 1e6, 0.01, 12345, torch.qint32)
    w = torch.randn(6, 20) * 5
    scales = torch.rand(6, dtype=torch.float64) * 0.2 + 0.01
    zps = torch.randint(-5, 5, (6,))
    q["per_channel_axis0"] = torch.quantize_per_channel(w, scales, zps, 0, torch.qint8)
    w1 = torch.randn(9, 6) * 5
    q["per_channel_axis1"] = torch.quantize_per_channel(w1, scales, zps + 100, 1, torch.quint8)
    q["per_channel_float_qparams"] = torch.quantize_per_channel(
        torch.randn(5, 9) * 3, torch.rand(5) * 0.2 + 0.01, torch.randn(5), 0, torch.quint8)
    q["per_tensor_transposed"] = torch.quantize_per_tensor(torch.randn(7, 11), 0.05, 1, torch.qint8).t()
    fs.save_as(q, out("values_quantized.pt"), "cuda:0")


def make_pane() -> None:
    """The explorer's values pane (Tests/PTViewTUITests/ValuesPaneTests.swift): a float
    matrix, a 1-D int tensor, a 3-D tensor, NaN and Inf, Inf only, and a meta tensor, in two
    groups so the full-file check's marks can be folded and filtered."""
    torch.manual_seed(21)
    model = OrderedDict()
    model["weight"] = (torch.randn(6, 5) * 0.5).to(torch.float32)
    model["cube"] = torch.arange(60, dtype=torch.float32).reshape(3, 4, 5) / 8
    bad = torch.linspace(-1, 1, 8)
    bad[2] = float("nan")
    bad[5] = float("inf")
    model["bad"] = bad
    other = OrderedDict()
    other["counts"] = torch.arange(-20, 20, dtype=torch.int64) * 3
    other["inf_only"] = torch.tensor([1.0, float("-inf"), 2.0, 0.0])
    other["meta"] = torch.empty(4, 4, device="meta")
    torch.save({"model": model, "other": other}, out("values_pane.pt"))


def make_layouts() -> None:
    """Sparse and nested tensors, whose statistics are those of the dense tensor torch makes
    of them (t.to_dense(), or the components one after another): coalesced and hybrid COO,
    uncoalesced COO with and without a repeated index, CSR, complex COO, a strided nested
    tensor."""
    torch.manual_seed(23)
    d = OrderedDict()
    dense = torch.randn(6, 7)
    dense[dense.abs() < 0.8] = 0
    dense[1, 2] = float("nan")
    dense[4, 5] = float("-inf")
    d["coo"] = dense.to_sparse().coalesce()
    d["coo_hybrid"] = torch.randn(5, 3).to_sparse(1).coalesce()
    i = torch.tensor([[0, 2, 0], [1, 1, 1]])
    d["coo_repeated"] = torch.sparse_coo_tensor(i, torch.tensor([1.0, 2.0, 3.0]), (3, 3))
    i = torch.tensor([[2, 0], [1, 1]])
    d["coo_unsorted"] = torch.sparse_coo_tensor(i, torch.tensor([1.5, -2.5]), (3, 3))
    d["csr"] = torch.randn(5, 8).relu().to_sparse_csr()
    d["coo_complex"] = torch.randn(4, 4, dtype=torch.complex64).to_sparse().coalesce()
    d["nested"] = torch.nested.nested_tensor([torch.randn(2, 3), torch.randn(4, 3)])
    torch.manual_seed(29)
    d["quint4x2"] = torch.quantize_per_tensor(torch.randn(7, 5) * 2, 0.3, 6, torch.quint4x2)
    d["quint2x4"] = torch.quantize_per_tensor(torch.randn(11), 0.5, 1, torch.quint2x4)
    d["empty_coo"] = torch.sparse_coo_tensor(torch.zeros(2, 0, dtype=torch.long), torch.zeros(0), (4, 4)).coalesce()
    torch.save(d, out("values_layouts.pt"))


def make_sparse() -> None:
    """Sparse tensors of every layout torch saves (for `ptview cat`, which prints them as
    str(t) does): COO coalesced and not, hybrid, CSR, CSC, BSR, BSC, batched CSR; float,
    integer, bool and complex values; int32 compressed indices; nnz=0; a summarised values
    tensor; a sparse Parameter with requires_grad (a plain tensor's flag is not saved)."""
    torch.manual_seed(31)
    s = OrderedDict()
    dense = torch.randn(4, 6)
    dense[dense.abs() < 0.7] = 0
    s["coo"] = dense.to_sparse().coalesce()
    i = torch.tensor([[2, 0, 2], [1, 1, 1]])
    s["coo_uncoalesced"] = torch.sparse_coo_tensor(i, torch.tensor([1.5, -2.5, 4.0]), (3, 3))
    s["coo_hybrid"] = torch.randn(5, 3).to_sparse(1).coalesce()
    s["coo_int32"] = (dense * 10).int().to_sparse()
    s["coo_bool"] = (dense != 0).to_sparse()
    s["coo_float16"] = dense.half().to_sparse()
    s["coo_float64"] = dense.double().to_sparse() * 1e-9
    s["coo_complex64"] = torch.randn(3, 3, dtype=torch.complex64).to_sparse()
    s["coo_complex128"] = torch.randn(3, 3, dtype=torch.complex128).to_sparse()
    s["coo_empty"] = torch.sparse_coo_tensor(
        torch.zeros(2, 0, dtype=torch.long), torch.zeros(0), (4, 4)).coalesce()
    s["coo_3d"] = (torch.randn(3, 4, 5) * (torch.rand(3, 4, 5) > 0.6)).to_sparse()
    big = torch.zeros(40, 50)
    big.view(-1)[torch.randperm(2000)[:1200]] = torch.randn(1200)
    s["coo_summarised"] = big.to_sparse()
    s["csr"] = dense.to_sparse_csr()
    s["csr_int64"] = (dense * 100).long().to_sparse_csr()
    s["csr_int32_indices"] = torch.sparse_csr_tensor(
        torch.tensor([0, 1, 2], dtype=torch.int32), torch.tensor([0, 1], dtype=torch.int32),
        torch.tensor([1.0, 2.0]), (2, 2))
    s["csr_empty"] = torch.zeros(3, 4).to_sparse_csr()
    s["csr_batched"] = torch.stack([dense, dense.flip(0)]).to_sparse_csr()
    s["csr_complex"] = torch.randn(3, 4, dtype=torch.complex64).to_sparse_csr()
    s["csc"] = dense.to_sparse_csc()
    s["csc_bool"] = (dense > 0).to_sparse_csc()
    s["bsr"] = dense.to_sparse_bsr((2, 2))
    s["bsr_int16"] = (dense * 10).short().to_sparse_bsr((2, 3))
    s["bsc"] = dense.to_sparse_bsc((2, 3))
    s["bsc_float64"] = dense.double().to_sparse_bsc((4, 2))
    s["param_coo"] = nn.Parameter(dense.to_sparse())
    s["param_csr_frozen"] = nn.Parameter(dense.to_sparse_csr(), requires_grad=False)
    s["coo_requires_grad"] = dense.to_sparse().requires_grad_()
    torch.save(s, out("values_sparse.pt"))


def make_print() -> None:
    """Tensors whose print takes each of torch's layouts (for `ptview cat`): integer-valued,
    fixed and scientific floats, tiny and huge magnitudes, NaN/Inf among them, summaries of
    every rank, wide integers, empty and 0-dim tensors."""
    torch.manual_seed(17)
    p = OrderedDict()
    p["integer_valued"] = torch.arange(-5, 20, dtype=torch.float32)
    p["integer_valued_big"] = torch.tensor([1e8, -3.0, 12345678.0])
    p["integer_valued_nonfinite"] = torch.tensor([1.0, float("nan"), float("inf"), -2.0])
    p["fixed"] = torch.randn(13) * 50
    p["tiny"] = torch.randn(9, dtype=torch.float64) * 1e-12
    p["huge"] = torch.randn(9, dtype=torch.float64) * 1e15
    p["mixed_scale"] = torch.tensor([1e-5, 1.0, 1e4, -0.25])
    p["nan_inf_only"] = torch.tensor([float("nan"), float("inf"), float("-inf")])
    p["zeros"] = torch.zeros(4, 3)
    p["neg_zero"] = torch.tensor([-0.0, 0.0])
    p["scalar_inf"] = torch.tensor(float("-inf"))
    p["scalar_f16"] = torch.tensor(0.1, dtype=torch.float16)
    p["scalar_bool"] = torch.tensor(True)
    p["empty_3d"] = torch.zeros(2, 0, 4, dtype=torch.float64)
    p["empty_bool"] = torch.zeros(0, dtype=torch.bool)
    p["summary_1d"] = torch.randn(1001)
    p["summary_2d"] = torch.randn(40, 30) * 1e6
    p["summary_3d"] = torch.randint(-10**6, 10**6, (11, 12, 13))
    p["summary_narrow"] = torch.randn(500, 4)
    p["summary_4d_f64"] = torch.randn(3, 5, 8, 9, dtype=torch.float64)
    p["summary_nan"] = torch.full((2000,), float("nan")).index_fill_(0, torch.tensor([1, 1998]), 2.5)
    p["summary_bool"] = torch.rand(30, 40) > 0.5
    p["summary_complex"] = torch.complex(torch.randn(1200), torch.randn(1200))
    p["summary_transposed"] = torch.randn(70, 50).t()
    p["wide_ints"] = torch.tensor([[-(2**63), 2**62], [7, -1]])
    p["uint8_wrap"] = torch.arange(0, 256, 17, dtype=torch.uint8)
    p["param_summary"] = nn.Parameter(torch.randn(64, 64))
    p["requires_grad"] = torch.randn(3).requires_grad_()
    fs.save_as(p, out("values_print.pt"), "cuda:0")


STEPS = {f.__name__.removeprefix("make_"): f for f in (
    make_dtypes, make_views, make_bigendian, make_legacy, make_torchscript, make_quantized, make_pane,
    make_layouts, make_sparse, make_print)}


def main() -> None:
    """All fixtures afresh, or only the ones named (`print`, `dtypes`, ...) on the command line."""
    names = sys.argv[1:]
    if not names:
        if os.path.isdir(OUT):
            shutil.rmtree(OUT)
    os.makedirs(OUT, exist_ok=True)
    for name in names or STEPS:
        STEPS[name]()
    total = sum(os.path.getsize(out(n)) for n in os.listdir(OUT))
    print(f"{len(os.listdir(OUT))} files, {total} bytes in {os.path.relpath(OUT, REPO)}")


if __name__ == "__main__":
    main()
