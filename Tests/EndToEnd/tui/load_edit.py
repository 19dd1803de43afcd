"""Check a state_dict the explorer rewrote: plain torch.load must read it, and the plain
EditNet of Scripts/edit_models.py must take it with load_state_dict(strict=True), every
tensor equal bit for bit to the input's tensor under the old key (prefix removed)."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "Scripts"))
from edit_models import EditNet  # noqa: E402


def main(original_path, written_path, prefix):
    written = torch.load(written_path)
    original = torch.load(original_path)
    net = EditNet()
    net.load_state_dict(written, strict=True)
    for key, tensor in written.items():
        before = original[prefix + key]
        if tensor.dtype != before.dtype or not torch.equal(tensor, before):
            sys.exit(f"{key} differs from {prefix + key}")
    print(f"{len(written)} tensors load into EditNet (strict)")


if __name__ == "__main__":
    main(*sys.argv[1:4])
