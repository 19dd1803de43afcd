"""Makes Tests/Fixtures/safetensors/: small files written by safetensors.torch.save_file, the
inputs of `ptview export`'s safetensors -> .pt direction (Tests/Interop/test_export.py).

Every dtype safetensors.torch writes, with values that exercise the bits (NaN, infinities,
negative zero, extremes), in scalar, empty, 1-d and 3-d shapes; plus a file with metadata and
one with a single tensor. Run with the venv's python; the output is deterministic.
"""
import os
import sys
import warnings

import torch
from safetensors.torch import save_file

warnings.filterwarnings("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "Tests", "Fixtures", "safetensors")


def bits(dtype: torch.dtype, n: int, seed: int) -> torch.Tensor:
    """n values of `dtype` with arbitrary bit patterns (NaNs and infinities included)."""
    g = torch.Generator().manual_seed(seed)
    raw = torch.randint(0, 256, (n * dtype.itemsize,), dtype=torch.uint8, generator=g)
    return raw.view(dtype)


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    dtypes = [torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.int32,
              torch.int16, torch.int8, torch.uint8, torch.uint16, torch.uint32, torch.uint64,
              torch.complex64, torch.float8_e4m3fn, torch.float8_e5m2, torch.float8_e4m3fnuz,
              torch.float8_e5m2fnuz, torch.float8_e8m0fnu, torch.float4_e2m1fn_x2]
    tensors = {}
    for i, dtype in enumerate(dtypes):
        name = str(dtype).removeprefix("torch.")
        tensors[f"{name}.vector"] = bits(dtype, 24, i)
        tensors[f"{name}.cube"] = bits(dtype, 24, 100 + i).reshape(2, 3, 4)
        tensors[f"{name}.empty"] = bits(dtype, 0, 0).reshape(0, 3)
        if dtype != torch.float4_e2m1fn_x2:
            tensors[f"{name}.scalar"] = bits(dtype, 1, 200 + i).reshape(())
    tensors["bool.vector"] = torch.tensor([True, False, True, True, False])
    tensors["float32.special"] = torch.tensor(
        [float("nan"), float("inf"), -float("inf"), -0.0, 0.0, 1e-45, 3.4028235e38])
    save_file(tensors, os.path.join(OUT, "all_dtypes.safetensors"))
    save_file({"model.embed.weight": torch.arange(12, dtype=torch.float32).reshape(3, 4),
               "model.norm.bias": torch.zeros(4, dtype=torch.bfloat16),
               "lm_head.weight": torch.arange(12, dtype=torch.float32).reshape(3, 4) * -1},
              os.path.join(OUT, "with_metadata.safetensors"), metadata={"format": "pt", "note": "x"})
    save_file({"only": torch.ones(2, 2, dtype=torch.float16)}, os.path.join(OUT, "single.safetensors"))
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
