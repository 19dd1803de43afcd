#!/usr/bin/env python
"""Write the pairs of checkpoints `ptview diff` is tested on, under Tests/Fixtures/diff/ (run
with the torch venv):

    /root/.cache/ptview/venv/bin/python Scripts/make_diff_fixtures.py

- base.pt / changed.pt: the same keys mostly, with values changed (small, large, NaN against
  a number, integers past 2**53, bool, complex), equal values that differ in bits (NaN at the
  same place, -0.0 against 0.0), a dtype change, a shape change, a device change (fake CUDA
  location, torch-format.md section 7), a view against a contiguous copy of the same values,
  and keys removed and added.
- base_legacy.pt: base.pt's tensors in the legacy (non-zip) format: identical to base.pt.
- nan_a.pt / nan_b.pt: the only change is NaN against a number.
- bits_a.pt / bits_b.pt: bits8 tensors (compared bit for bit), one changed, one shape change.
Only the files are written: Tests/Interop/test_diff.py loads them with torch and computes the
expected differences there. Seeded; byte-identical between runs except base_legacy.pt (its
storage keys are pointers).
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(REPO, "Tests", "Fixtures", "diff")
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import torch  # noqa: E402

import fixture_support as fs  # noqa: E402

warnings.filterwarnings("ignore")


def out(name: str) -> str:
    return os.path.join(OUT, name)


def save(d: OrderedDict, name: str, cuda_keys=(), **kw) -> None:
    """torch.save with the storages of `cuda_keys` tagged cuda:0, the rest cpu."""
    ptrs = {d[k].untyped_storage().data_ptr() for k in cuda_keys}
    fs.save_as(d, out(name), per_storage=lambda st: "cuda:0" if st.data_ptr() in ptrs else None, **kw)


def base() -> OrderedDict:
    torch.manual_seed(21)
    d = OrderedDict()
    d["weight"] = torch.randn(4, 5)
    d["bias"] = torch.randn(5)
    d["same_f64"] = torch.randn(30, dtype=torch.float64)
    d["nan_same"] = torch.tensor([1.0, float("nan"), 3.0, float("inf"), float("-inf")])
    d["nan_vs_number"] = torch.tensor([1.0, float("nan"), 3.0, 4.0])
    d["neg_zero"] = torch.tensor([0.0, -0.0, 2.0])
    d["inf_vs_number"] = torch.tensor([float("inf"), 1.0])
    d["i64_big"] = torch.tensor([2**62, -(2**62), 5], dtype=torch.int64)
    d["u8"] = torch.arange(10, dtype=torch.uint8)
    d["flags"] = torch.tensor([True, False, True])
    d["c64"] = torch.complex(torch.randn(6), torch.randn(6))
    d["bf16"] = torch.randn(8).to(torch.bfloat16)
    d["q"] = torch.quantize_per_tensor(torch.randn(12) * 3, 0.05, 2, torch.qint8)
    d["to_half"] = torch.randn(7)
    d["reshaped"] = torch.arange(6, dtype=torch.float32)
    d["moved"] = torch.randn(3)
    d["moved_and_changed"] = torch.randn(3)
    base_view = torch.randn(5, 4)
    d["as_view"] = base_view.t()
    d["scalar"] = torch.tensor(2.5)
    d["empty"] = torch.zeros(0, 3)
    d["sparse"] = torch.sparse_coo_tensor(torch.tensor([[0, 2, 3]]), torch.tensor([1.0, 2.0, 3.0]), (5,))
    d["sparse_same"] = torch.sparse_coo_tensor(torch.tensor([[1]]), torch.tensor([4.0]), (3,))
    d["removed"] = torch.ones(2)
    d["big"] = torch.randn(33_000)  # more than one comparison block
    return d


def changed(d: OrderedDict) -> OrderedDict:
    c = OrderedDict((k, v.clone() if v.layout == torch.strided else v)
                    for k, v in d.items() if k != "removed")
    c["weight"][1, 2] += 0.25
    c["nan_vs_number"][1] = 2.0
    c["neg_zero"] = torch.tensor([-0.0, 0.0, 2.0])
    c["inf_vs_number"][0] = 5.0
    c["i64_big"][0] += 1  # equal once rounded to float64: still a change
    c["u8"][9] = 200
    c["flags"][1] = True
    c["c64"][2] += complex(0.5, -1.0)
    c["bf16"][0] = -c["bf16"][0]
    c["to_half"] = d["to_half"].half()
    c["reshaped"] = d["reshaped"].reshape(2, 3)
    c["moved_and_changed"][0] = 100.0
    c["as_view"] = d["as_view"].contiguous()
    c["big"][32_999] = 1000.0
    c["sparse"] = torch.sparse_coo_tensor(torch.tensor([[0, 2, 3]]), torch.tensor([1.0, 2.5, 3.0]), (5,))
    c["added"] = torch.zeros(3, dtype=torch.int32)
    return c


def main() -> None:
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    d = base()
    save(d, "base.pt", cuda_keys=["moved", "moved_and_changed"])
    save(changed(d), "changed.pt")
    save(d, "base_legacy.pt", cuda_keys=["moved", "moved_and_changed"],
         _use_new_zipfile_serialization=False)
    bits = torch.arange(8, dtype=torch.uint8)
    save(OrderedDict(bits=bits.view(torch.bits8), same=bits.view(torch.bits8)[2:]), "bits_a.pt")
    bits2 = bits.clone()
    bits2[7] = 9
    save(OrderedDict(bits=bits2.view(torch.bits8), same=bits2.view(torch.bits8)[2:6]), "bits_b.pt")
    save(OrderedDict(x=torch.tensor([1.0, float("nan")]), y=torch.ones(2)), "nan_a.pt")
    save(OrderedDict(x=torch.tensor([1.0, 7.0]), y=torch.ones(2)), "nan_b.pt")
    total = sum(os.path.getsize(out(n)) for n in os.listdir(OUT))
    print(f"{len(os.listdir(OUT))} files, {total} bytes in {os.path.relpath(OUT, REPO)}")


if __name__ == "__main__":
    main()
