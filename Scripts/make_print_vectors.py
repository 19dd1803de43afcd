#!/usr/bin/env python
"""Write the tensor-printing vectors under Tests/Fixtures/print/ (run with the torch venv):

    /root/.cache/ptview/venv/bin/python Scripts/make_print_vectors.py

Every expected string is real PyTorch's `str(t)` (what `print(t)` writes) with the default
print options. PTViewValuesTests (`TensorPrinterVectorTests`) rebuilds each tensor's
description and elements from the JSON, prints it with `TensorPrinter` and compares byte for
byte.

cases.json
  "cases": one object per tensor:
    name, dtype (torch's name), shape, requires_grad, parameter, device,
    quantization (absent, or {"scheme", "scale", "zero_point"} per tensor, or
                  {"scheme", "scales", "zero_points", "axis"} per channel, where scales and
                  zero_points are {"dtype", "values"}),
    values: the elements the print shows, row-major, each encoded exactly:
            "f<16 hex digits>"   a float: the bits of the float64 it widens to (exact for
                                 every float dtype; quantized tensors give their dequantized
                                 float32 values, as torch prints them)
            "i<decimal>", "u<decimal>"   signed / unsigned integers
            "b0", "b1"           booleans
            "c<16 hex><16 hex>"  complex: real and imaginary float64 bits
    indices: for tensors past the 1,000-element threshold, the row-major logical index of each
             value (only the first and last 3 along each dimension longer than 6 are shown);
             absent when values holds every element in order. The test fails if the printer
             asks for any other index.
    expected: str(t)
floats.json
  "floats": [bits, repr(x), '{:.4f}', '{:.4e}', '{:.0f}'] for doubles chosen to stress
            Python's formatting (ties at the 4th place, every binade, subnormals, 10^k +- ulp).

Everything is seeded: running the script twice gives identical files.

    ... make_print_vectors.py --fuzz 5000 SEED

replaces cases.json with random tensors of every kind for a wider hunt (run the suite, then
regenerate without --fuzz; the coverage test fails on fuzz files by design). Seeds 1-3 with
3,000-5,000 cases each passed when the printer was written.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import shutil
import struct
import sys
import warnings

sys.dont_write_bytecode = True
warnings.filterwarnings("ignore")

import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(REPO, "Tests", "Fixtures", "print")

FLOAT_DTYPES = [
    torch.float64,
    torch.float32,
    torch.float16,
    torch.bfloat16,
    torch.float8_e4m3fn,
    torch.float8_e5m2,
    torch.float8_e4m3fnuz,
    torch.float8_e5m2fnuz,
    torch.float8_e8m0fnu,
]
INT_DTYPES = [
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.uint8,
    torch.uint16,
    torch.uint32,
    torch.uint64,
]
COMPLEX_DTYPES = [torch.complex64, torch.complex128, torch.complex32, torch.bcomplex32]
QUANTIZED_DTYPES = [torch.qint8, torch.quint8, torch.qint32, torch.quint4x2, torch.quint2x4]

THRESHOLD = 1000
EDGE = 3


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def float_bits(x: float) -> str:
    return struct.pack(">d", x).hex()


def encode(value, dtype: torch.dtype) -> str:
    """One element (a 0-dim tensor of `dtype`) in the exact text encoding above."""
    if dtype.is_complex:
        c = complex(value.to(torch.complex128).item())
        return "c" + float_bits(c.real) + float_bits(c.imag)
    if dtype == torch.bool:
        return "b1" if bool(value.item()) else "b0"
    if dtype.is_floating_point:
        if dtype == torch.float4_e2m1fn_x2:
            return "u%d" % value.view(torch.uint8).item()
        if dtype == torch.float8_e8m0fnu:  # no direct cast to float64; float32 holds it exactly
            value = value.float()
        return "f" + float_bits(float(value.double().item()))
    number = int(value.item())
    if dtype in (torch.uint8, torch.uint16, torch.uint32, torch.uint64):
        return "u%d" % number
    return "i%d" % number


def shown_indices(shape: tuple[int, ...], summarize: bool) -> list[list[int]]:
    return [
        list(range(EDGE)) + list(range(size - EDGE, size))
        if summarize and size > 2 * EDGE
        else list(range(size))
        for size in shape
    ]


def elements(t: torch.Tensor) -> tuple[list[str], list[int] | None]:
    """The elements `str(t)` shows, row-major, and their logical indices when summarised."""
    values_of = t.dequantize() if t.is_quantized else t
    dtype = values_of.dtype
    numel = t.numel()
    if numel == 0:
        return [], None
    if t.dim() == 0:
        return [encode(values_of, dtype)], None
    summarize = numel > THRESHOLD
    per_dim = shown_indices(tuple(t.shape), summarize)
    strides = [1] * t.dim()
    for d in range(t.dim() - 2, -1, -1):
        strides[d] = strides[d + 1] * t.shape[d + 1]
    values = []
    indices = []
    for position in itertools.product(*per_dim):
        values.append(encode(values_of[position], dtype))
        indices.append(sum(p * s for p, s in zip(position, strides)))
    return values, (indices if summarize else None)


def channel_values(t: torch.Tensor) -> dict:
    return {"dtype": dtype_name(t.dtype), "values": [encode(v, t.dtype) for v in t]}


CASES: list[dict] = []
NAMES: set[str] = set()


def add(name: str, t: torch.Tensor, *, device: str | None = None) -> None:
    assert name not in NAMES, name
    NAMES.add(name)
    case: dict = {
        "name": name,
        "dtype": dtype_name(t.dtype),
        "shape": list(t.shape),
        "requires_grad": bool(t.requires_grad),
        "parameter": isinstance(t, torch.nn.Parameter),
        "device": device or str(t.device),
    }
    if t.is_quantized:
        scheme = t.qscheme()
        q: dict = {"scheme": str(scheme).removeprefix("torch.")}
        if scheme in (torch.per_tensor_affine, torch.per_tensor_symmetric):
            q["scale"] = float_bits(t.q_scale())
            q["zero_point"] = int(t.q_zero_point())
        else:
            q["scales"] = channel_values(t.q_per_channel_scales())
            q["zero_points"] = channel_values(t.q_per_channel_zero_points())
            q["axis"] = int(t.q_per_channel_axis())
        case["quantization"] = q
    if case["device"] != "meta":
        values, indices = elements(t.detach())
        case["values"] = values
        if indices is not None:
            case["indices"] = indices
    case["expected"] = str(t)
    CASES.append(case)


# ---------------------------------------------------------------------------------------------
# Value families: float64 data that a case then casts to its dtype.

SHAPES = [(), (1,), (5,), (3, 4), (2, 3, 4), (2, 1, 3, 2), (13,), (4, 9), (25,), (2, 2, 2, 2), (1, 17)]


def numel(shape) -> int:
    return math.prod(shape)


def families(gen: torch.Generator, rng: random.Random):
    """(name, function of a shape returning float64 data)."""

    def normal(scale):
        return lambda s: torch.randn(s, generator=gen, dtype=torch.float64) * scale

    def pick(values):
        def make(s):
            n = numel(s)
            return torch.tensor([rng.choice(values) for _ in range(n)], dtype=torch.float64).reshape(s)

        return make

    def seq(values):
        def make(s):
            n = numel(s)
            return torch.tensor([values[i % len(values)] for i in range(n)], dtype=torch.float64).reshape(s)

        return make

    def loguniform(lo, hi, signed=True):
        def make(s):
            n = numel(s)
            out = []
            for _ in range(n):
                v = 10 ** rng.uniform(lo, hi)
                out.append(-v if signed and rng.random() < 0.5 else v)
            return torch.tensor(out, dtype=torch.float64).reshape(s)

        return make

    result = []
    for k in [-10, -7, -5, -4, -3, -2, -1, 0, 1, 2, 3, 5, 8, 10]:
        result.append((f"normal_e{k}", normal(10.0**k)))
    result += [
        ("uniform01", lambda s: torch.rand(s, generator=gen, dtype=torch.float64)),
        ("loguniform_wide", loguniform(-10, 10)),
        ("loguniform_narrow", loguniform(-1, 1.5)),
        ("loguniform_positive", loguniform(-3, 3, signed=False)),
        ("integers_small", lambda s: torch.randint(-9, 10, s, generator=gen).double()),
        ("integers_wide", lambda s: torch.randint(-(10**6), 10**6, s, generator=gen).double()),
        ("integers_huge", lambda s: torch.randint(-(10**12), 10**12, s, generator=gen).double()),
        ("nan_inf_mix", seq([1.5, math.nan, -2.25, math.inf, 0.0, -math.inf, 3.125, -math.nan])),
        ("nan_inf_integers", seq([1.0, math.nan, -20.0, math.inf, -0.0, -math.inf, 300.0])),
        ("nan_inf_sci", seq([1e-7, math.nan, 3.5e5, -math.inf, 0.0, 2.0])),
        ("nonfinite_only", seq([math.nan, math.inf, -math.inf, -math.nan])),
        ("zeros", seq([0.0])),
        ("negative_zeros", seq([-0.0, 0.0])),
        ("ties", seq([0.15625, -2.71875, 0.03125, 1.00005, 0.00015, 3.0001220703125, -0.5])),
        ("rounds_to_zero", seq([-0.00001, 0.5, 0.00004, -2.0])),
        ("ratio_1000", seq([0.001, 1.0, -0.5])),
        ("ratio_above_1000", seq([0.00099, 1.0])),
        ("min_1e-4", seq([0.0001, 0.05])),
        ("max_1e8", seq([1e8, 2e5, 3.0])),
        ("max_above_1e8", seq([100000001.0, 2e6])),
        ("powers_of_two", pick([2.0**e for e in range(-20, 21)])),
        ("nines", seq([9.99995, 99.99995, 0.99999, -9.9999499])),
    ]
    return result


def float_cases(gen, rng):
    fams = families(gen, rng)
    for dtype in FLOAT_DTYPES:
        for index, (family, make) in enumerate(fams):
            shape = SHAPES[(index + FLOAT_DTYPES.index(dtype)) % len(SHAPES)]
            data = make(shape)
            if dtype == torch.float8_e8m0fnu:
                # Powers of two only, no sign, no zero: abs() and let the cast round.
                data = data.abs()
            try:
                t = data.to(dtype)
            except RuntimeError:
                t = data.float().to(dtype)
            add(f"{dtype_name(dtype)}/{family}/{'x'.join(map(str, shape)) or 'scalar'}", t)


def int_cases(gen, rng):
    for dtype in INT_DTYPES:
        info = torch.iinfo(dtype)
        name = dtype_name(dtype)
        lo, hi = info.min, info.max
        small = [(-9 if lo < 0 else 0), 10]
        for index, (family, values) in enumerate(
            [
                ("small", lambda n: [rng.randrange(*small) for _ in range(n)]),
                ("full_range", lambda n: [rng.randint(lo, hi) for _ in range(n)]),
                ("extremes", lambda n: [[lo, hi, 0, 1][i % 4] for i in range(n)]),
                ("zeros", lambda n: [0] * n),
                ("mixed_widths", lambda n: [rng.choice([0, 7, 42, 100, 127]) for _ in range(n)]),
            ]
        ):
            shape = SHAPES[(index + INT_DTYPES.index(dtype) * 3) % len(SHAPES)]
            t = torch.tensor(values(numel(shape)), dtype=torch.int64 if dtype != torch.uint64 else torch.uint64)
            add(f"{name}/{family}/{'x'.join(map(str, shape)) or 'scalar'}", t.to(dtype).reshape(shape))
    # Long rows of varying widths wrap at 80 columns.
    for n in [20, 27, 40, 81]:
        t = torch.randint(-1000, 1000, (n,), generator=gen)
        add(f"int64/wrap/{n}", t)
    add("int64/wrap/2d", torch.randint(-(10**12), 10**12, (3, 9), generator=gen))


def bool_cases(gen, rng):
    for shape in [(), (1,), (7,), (3, 5), (2, 3, 4), (30,)]:
        t = torch.rand(shape, generator=gen) > 0.5
        add(f"bool/{'x'.join(map(str, shape)) or 'scalar'}", t)
    add("bool/all_false", torch.zeros(6, dtype=torch.bool))


def complex_cases(gen, rng):
    fam = [
        ("normal", lambda s: torch.randn(s, generator=gen, dtype=torch.complex128)),
        ("normal_e-6", lambda s: torch.randn(s, generator=gen, dtype=torch.complex128) * 1e-6),
        ("normal_e5", lambda s: torch.randn(s, generator=gen, dtype=torch.complex128) * 1e5),
        ("integers", lambda s: torch.complex(torch.randint(-9, 10, s, generator=gen).double(), torch.randint(-9, 10, s, generator=gen).double())),
        ("real_integers_imag_fractions", lambda s: torch.complex(torch.randint(-9, 10, s, generator=gen).double(), torch.rand(s, generator=gen, dtype=torch.float64))),
        ("mixed_scales", lambda s: torch.complex(torch.randn(s, generator=gen, dtype=torch.float64) * 1e-3, torch.randn(s, generator=gen, dtype=torch.float64) * 1e4)),
        ("nonfinite", lambda s: torch.tensor([complex(math.nan, 1), complex(1, -math.inf), complex(-0.0, -0.0), complex(2.5, math.nan), complex(math.inf, 0.0)] * 5, dtype=torch.complex128)[: numel(s)].reshape(s)),
        ("zeros", lambda s: torch.zeros(s, dtype=torch.complex128)),
        ("negative_zero_imag", lambda s: torch.complex(torch.ones(s, dtype=torch.float64), -torch.zeros(s, dtype=torch.float64))),
    ]
    for dtype in COMPLEX_DTYPES:
        for index, (family, make) in enumerate(fam):
            shape = SHAPES[(index + COMPLEX_DTYPES.index(dtype) * 2) % len(SHAPES)]
            t = make(shape).to(dtype)
            add(f"{dtype_name(dtype)}/{family}/{'x'.join(map(str, shape)) or 'scalar'}", t)
    add("complex64/wrap/30", torch.randn(30, generator=gen, dtype=torch.complex64))


def summarized_cases(gen, rng):
    for shape in [(999,), (1000,), (1001,), (10, 100), (10, 101), (1001, 1), (1, 1001), (7, 143), (31, 33),
                  (10, 10, 11), (2, 3, 167), (7, 7, 7, 7), (4, 4, 4, 16), (5000,)]:
        t = torch.randn(shape, generator=gen)
        add(f"summary/float32/{'x'.join(map(str, shape))}", t)
    add("summary/int64/2000", torch.arange(2000))
    add("summary/int64/40x40", torch.randint(-(10**9), 10**9, (40, 40), generator=gen))
    add("summary/bool/1001", torch.rand(1001, generator=gen) > 0.5)
    add("summary/float16/1200", (torch.randn(1200, generator=gen) * 1000).half())
    add("summary/bfloat16/sci/30x40", (torch.randn(30, 40, generator=gen) * 1e-6).bfloat16())
    add("summary/float64/integers/50x50", torch.randint(-99, 100, (50, 50), generator=gen).double())
    add("summary/complex64/1500", torch.randn(1500, generator=gen, dtype=torch.complex64))
    add("summary/uint8/3x500", torch.randint(0, 256, (3, 500), generator=gen).to(torch.uint8))
    # The layout depends only on the shown elements: a hidden NaN or huge value changes nothing.
    hidden = torch.randn(2000, generator=gen)
    hidden[1000] = math.nan
    hidden[1001] = 1e30
    add("summary/hidden_outliers", hidden)
    # Huge tensors that are views: 10^10 elements, a few hundred of them shown.
    add("summary/view/expand_1e10", torch.randn(1, 100000, generator=gen).expand(100000, 100000))
    add("summary/view/expand_4d", torch.randn(1, 1, 1, 50, generator=gen, dtype=torch.float64).expand(1000, 30, 20, 50))
    add("summary/view/expand_int", torch.arange(10).expand(200, 300, 10))
    add("summary/view/expand_2e18", torch.randn(1, 1, 1, generator=gen).expand(2 * 10**6, 10**6, 10**6))


def empty_cases():
    for shape in [(0,), (0, 3), (3, 0), (2, 0, 4), (0, 0)]:
        for dtype in [torch.float32, torch.float64, torch.int64, torch.int8, torch.bool, torch.complex64, torch.bfloat16, torch.uint64]:
            if shape not in [(0,), (0, 3)] and dtype not in [torch.float32, torch.int64]:
                continue
            add(f"empty/{dtype_name(dtype)}/{'x'.join(map(str, shape))}", torch.empty(shape, dtype=dtype))


def parameter_cases(gen):
    add("parameter/float32", torch.nn.Parameter(torch.randn(3, 4, generator=gen)))
    add("parameter/float32/no_grad", torch.nn.Parameter(torch.randn(5, generator=gen), requires_grad=False))
    add("parameter/float16", torch.nn.Parameter(torch.randn(2, 3, generator=gen).half()))
    add("parameter/bfloat16/wide", torch.nn.Parameter(torch.randn(2, 8, generator=gen).bfloat16()))
    add("parameter/float64/scalar", torch.nn.Parameter(torch.tensor(3.25, dtype=torch.float64)))
    add("parameter/int64", torch.nn.Parameter(torch.arange(6).reshape(2, 3), requires_grad=False))
    add("parameter/summary", torch.nn.Parameter(torch.randn(64, 64, generator=gen)))
    add("parameter/empty", torch.nn.Parameter(torch.empty(0, 4)))
    add("parameter/complex64", torch.nn.Parameter(torch.randn(3, generator=gen, dtype=torch.complex64)))
    add("requires_grad/float32", torch.randn(4, generator=gen).requires_grad_())
    add("requires_grad/float64/scalar", torch.tensor(1.0, dtype=torch.float64, requires_grad=True))
    add("requires_grad/empty", torch.empty(0, 2, dtype=torch.float16, requires_grad=True))
    # Suffixes that do and do not fit on the last line.
    for n in range(5, 12):
        add(f"requires_grad/float16/fill_{n}", torch.randn(n, generator=gen).half().requires_grad_())
        add(f"suffix/int8/fill_{n}", torch.randint(-100, 100, (n + 6,), generator=gen).to(torch.int8))


def quantized_cases(gen):
    for dtype in QUANTIZED_DTYPES:
        name = dtype_name(dtype)
        for scale, zero_point, shape in [(0.1, 3, (6,)), (0.05, 0, (2, 3)), (1.0, 1, ()), (0.003921568859368563, 2, (3, 4)), (1e-5, 0, (5,)), (250.0, 1, (4,))]:
            x = torch.randn(shape, generator=gen) * 3
            t = torch.quantize_per_tensor(x, scale, zero_point, dtype)
            add(f"quantized/{name}/scale_{scale}/{'x'.join(map(str, shape)) or 'scalar'}", t)
        add(f"quantized/{name}/empty", torch.quantize_per_tensor(torch.empty(0, 3), 0.1, 3, dtype))
    add("quantized/qint8/summary", torch.quantize_per_tensor(torch.randn(40, 40, generator=gen), 0.02, 0, torch.qint8))
    for dtype in [torch.qint8, torch.quint8, torch.qint32]:
        for axis, shape in [(0, (2, 3)), (1, (3, 5)), (0, (4,)), (2, (2, 2, 3))]:
            scales = (torch.rand(shape[axis], generator=gen, dtype=torch.float64) * 0.1 + 0.001)
            zeros = torch.randint(0, 5, (shape[axis],), generator=gen)
            t = torch.quantize_per_channel(torch.randn(shape, generator=gen), scales, zeros, axis, dtype)
            add(f"quantized_per_channel/{dtype_name(dtype)}/axis{axis}/{'x'.join(map(str, shape))}", t)
    for dtype in [torch.quint8, torch.quint4x2]:
        for axis, shape in [(0, (2, 4)), (1, (3, 4))]:
            scales = torch.rand(shape[axis], generator=gen) * 0.1 + 0.01
            zeros = torch.randn(shape[axis], generator=gen)
            t = torch.quantize_per_channel(torch.randn(shape, generator=gen), scales, zeros, axis, dtype)
            add(f"quantized_float_qparams/{dtype_name(dtype)}/axis{axis}/{'x'.join(map(str, shape))}", t)
    scales = torch.full((1200,), 0.5, dtype=torch.float64)
    zeros = torch.zeros(1200, dtype=torch.int64)
    add("quantized_per_channel/many_channels", torch.quantize_per_channel(torch.randn(1200, 2, generator=gen), scales, zeros, 0, torch.qint8))


def view_cases(gen):
    base = torch.randn(6, 8, generator=gen)
    add("view/transpose", base.t())
    add("view/slice_step", base[1::2, ::3])
    add("view/column", base[:, 5])
    add("view/offset_narrow", base.narrow(1, 3, 4))
    add("view/expand_row", torch.tensor([1.5, -2.0, 3.25]).expand(4, 3))
    add("view/diagonal", base.diagonal())
    add("view/permute_3d", torch.randn(2, 3, 4, generator=gen, dtype=torch.float64).permute(2, 0, 1))
    add("view/int_transpose", torch.arange(12, dtype=torch.int16).reshape(3, 4).t())
    add("view/scalar_from_index", base[2, 3])
    add("view/unsqueeze", torch.randn(3, generator=gen)[None, :, None])


def meta_cases():
    add("meta/float32", torch.empty(2, 3, device="meta"))
    add("meta/int8", torch.empty(4, dtype=torch.int8, device="meta"))
    add("meta/int64/scalar", torch.empty((), dtype=torch.int64, device="meta"))
    add("meta/float16/requires_grad", torch.empty(5, dtype=torch.float16, device="meta", requires_grad=True))
    # torch.load(map_location="cpu") keeps meta tensors on meta (_rebuild_meta_tensor_no_storage).
    add("meta/parameter", torch.nn.Parameter(torch.empty(4, 4, device="meta")))
    add("meta/empty", torch.empty(0, 3, device="meta"))


def fp4_cases(gen):
    raw = torch.randint(0, 256, (3, 5), generator=gen).to(torch.uint8)
    add("float4_e2m1fn_x2/3x5", raw.view(torch.float4_e2m1fn_x2))
    add("float4_e2m1fn_x2/zeros", torch.zeros(4, dtype=torch.uint8).view(torch.float4_e2m1fn_x2))


def deep_cases(gen):
    add("deep/6d", torch.randn(2, 1, 2, 1, 2, 2, generator=gen))
    add("deep/5d_int", torch.arange(32).reshape(2, 2, 2, 2, 2))
    add("deep/4d_wrap", torch.randn(2, 2, 2, 14, generator=gen, dtype=torch.float64))
    add("deep/narrow_line", torch.randn(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 40, generator=gen) * 1e9)


# ---------------------------------------------------------------------------------------------
# Float formatting vectors.


def float_vectors(rng: random.Random) -> list[list[str]]:
    values: list[float] = []
    for _ in range(400):  # any bit pattern
        values.append(struct.unpack(">d", rng.getrandbits(64).to_bytes(8, "big"))[0])
    for _ in range(600):  # what tensors hold
        values.append(rng.choice([-1, 1]) * 10 ** rng.uniform(-12, 12))
    for _ in range(300):
        values.append(float(struct.unpack(">f", struct.pack(">f", rng.gauss(0, 10 ** rng.randint(-6, 6))))[0]))
    for _ in range(300):  # ties and near-ties at the 4th decimal
        k = rng.randrange(0, 10**6)
        values.append((k + 0.5) / 10**4)
        values.append(rng.randrange(-(2**20), 2**20) / 2**rng.randint(1, 18))
    for e in range(-330, 310):
        values.append(float(f"1e{e}"))
        values.append(float(f"5e{e}"))
        values.append(float(f"9.99995e{e}"))
    for e in range(-1074, 1024, 7):
        values.append(math.ldexp(1.0, e))
    values += [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.5, 1.5, 2.5, 9.5, 0.00005, 0.00015, 0.99995, 99999.5]
    rows = []
    seen = set()
    for v in values:
        if not math.isfinite(v):
            continue
        bits = float_bits(v)
        if bits in seen:
            continue
        seen.add(bits)
        fixed = "{:.4f}".format(v)
        zero = "{:.0f}".format(v)
        if len(fixed) > 40:  # keep the file small: a huge value's fixed form is hundreds of digits
            fixed = None
            zero = None
        rows.append([bits, repr(v), fixed, "{:.4e}".format(v), zero])
    return rows


FLOAT_COLUMNS = ["bits", "repr", ".4f", ".4e", ".0f"]


def write_json(path: str, header: dict, key: str, rows: list) -> None:
    """One row per line, so a regenerated file diffs by case."""
    with open(path, "w") as f:
        f.write("{\n")
        for name, value in header.items():
            f.write(f"{json.dumps(name)}: {json.dumps(value)},\n")
        f.write(f"{json.dumps(key)}: [\n")
        f.write(",\n".join(json.dumps(row, separators=(",", ":")) for row in rows))
        f.write("\n]\n}\n")


def fuzz_cases(count: int, seed: int) -> None:
    """Random tensors of every kind, for hunting differences beyond the committed cases."""
    gen = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    fams = families(gen, rng)
    dtypes = FLOAT_DTYPES + INT_DTYPES + COMPLEX_DTYPES + [torch.bool] + QUANTIZED_DTYPES
    for index in range(count):
        dtype = rng.choice(dtypes)
        rank = rng.choice([0, 1, 1, 2, 2, 3, 4])
        big = rng.random() < 0.2
        shape = tuple(rng.choice([1, 2, 3, 5, 7, 12, 40] if big else [1, 2, 3, 4, 6, 7, 9]) for _ in range(rank))
        if big and rank:
            shape = shape[:-1] + (rng.choice([100, 400, 1001]),)
        family, make = rng.choice(fams)
        data = make(shape)
        if dtype == torch.float8_e8m0fnu:
            data = data.abs()
        name = f"fuzz/{index}/{dtype_name(dtype)}/{family}/{'x'.join(map(str, shape))}"
        if dtype.is_complex:
            t = torch.complex(data, make(shape)).to(dtype)
        elif dtype == torch.bool:
            t = data > 0
        elif dtype in QUANTIZED_DTYPES:
            finite = torch.nan_to_num(data.float(), nan=0.0, posinf=1e3, neginf=-1e3).clamp(-1e6, 1e6)
            scale = 10 ** rng.uniform(-5, 2)
            t = torch.quantize_per_tensor(finite, scale, rng.randint(0, 3), dtype)
        elif dtype in INT_DTYPES:
            info = torch.iinfo(dtype)
            finite = torch.nan_to_num(data, nan=0.0, posinf=info.max, neginf=info.min)
            t = finite.clamp(info.min, min(info.max, 2**62)).to(torch.int64).to(dtype)
        else:
            t = data.to(dtype) if dtype != torch.float8_e8m0fnu else data.float().to(dtype)
        if (dtype.is_floating_point or dtype.is_complex) and dtype not in QUANTIZED_DTYPES:
            if rng.random() < 0.1:
                t = torch.nn.Parameter(t, requires_grad=rng.random() < 0.7)
            elif rng.random() < 0.1:
                t = t.requires_grad_()
        add(name, t)


def main() -> None:
    if "--fuzz" in sys.argv:
        # --fuzz N SEED: replace cases.json by N random cases (do not commit; regenerate after).
        count, seed = int(sys.argv[sys.argv.index("--fuzz") + 1]), int(sys.argv[sys.argv.index("--fuzz") + 2])
        fuzz_cases(count, seed)
        header = {"torch": torch.__version__, "generator": "Scripts/make_print_vectors.py --fuzz"}
        write_json(os.path.join(OUT, "cases.json"), header, "cases", CASES)
        print(f"{len(CASES)} fuzz cases written to {os.path.relpath(OUT, REPO)}/cases.json")
        return
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(20261206)
    rng = random.Random(20261206)
    float_cases(gen, rng)
    int_cases(gen, rng)
    bool_cases(gen, rng)
    complex_cases(gen, rng)
    summarized_cases(gen, rng)
    empty_cases()
    parameter_cases(gen)
    quantized_cases(gen)
    view_cases(gen)
    meta_cases()
    fp4_cases(gen)
    deep_cases(gen)

    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    header = {"torch": torch.__version__, "generator": "Scripts/make_print_vectors.py"}
    write_json(os.path.join(OUT, "cases.json"), header, "cases", CASES)
    floats = float_vectors(rng)
    write_json(os.path.join(OUT, "floats.json"), {**header, "columns": FLOAT_COLUMNS}, "floats", floats)
    print(f"{len(CASES)} cases written to {os.path.relpath(OUT, REPO)}")


if __name__ == "__main__":
    main()
