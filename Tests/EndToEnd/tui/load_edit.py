"""Check a state_dict the explorer rewrote, with real torch:

    load_edit.py ORIGINAL WRITTEN PREFIX [DTYPE]

plain torch.load (no map_location) must read WRITTEN, and the plain EditNet of
Scripts/edit_models.py must take it with load_state_dict(strict=True). Every tensor must be on
the CPU and equal bit for bit to the input's tensor under PREFIX + key, converted to DTYPE
(bfloat16, float16...) when it is floating and DTYPE is given."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "Scripts"))
from edit_models import EditNet  # noqa: E402


def main(original_path, written_path, prefix, dtype=None):
    written = torch.load(written_path)  # no map_location: the file must load on the CPU as is
    original = torch.load(original_path, map_location="cpu")
    net = EditNet()
    if dtype:
        net = net.to(getattr(torch, dtype))
    net.load_state_dict(written, strict=True)
    for key, tensor in written.items():
        before = original[prefix + key]
        if dtype and before.is_floating_point():
            before = before.to(getattr(torch, dtype))
        if tensor.device.type != "cpu":
            sys.exit(f"{key} is on {tensor.device}")
        if tensor.dtype != before.dtype or not torch.equal(tensor, before):
            sys.exit(f"{key} differs from {prefix + key}")
    cast = f", {dtype}" if dtype else ""
    print(f"{len(written)} tensors load into EditNet (strict{cast})")


if __name__ == "__main__":
    main(*sys.argv[1:5])
