"""Check a TorchScript archive the explorer moved to the CPU, with real torch:

    load_script.py ORIGINAL WRITTEN

plain torch.jit.load (no map_location) must read WRITTEN, every parameter and buffer must be
on the CPU and equal bit for bit to ORIGINAL's (loaded with map_location='cpu'), the code must
name torch.device("cpu") where ORIGINAL's named cuda:0, and forward must give the same result."""
import sys
import warnings

import torch

warnings.filterwarnings("ignore", category=FutureWarning)  # torch.jit.load is deprecated


def main(original_path, written_path):
    written = torch.jit.load(written_path)  # no map_location: the archive must load on the CPU
    original = torch.jit.load(original_path, map_location="cpu")
    got = written.state_dict()
    want = original.state_dict()
    if got.keys() != want.keys():
        sys.exit(f"different tensors: {sorted(got.keys() ^ want.keys())}")
    for key, tensor in got.items():
        if tensor.device.type != "cpu":
            sys.exit(f"{key} is on {tensor.device}")
        if tensor.dtype != want[key].dtype or not torch.equal(tensor, want[key]):
            sys.exit(f"{key} differs")
    if "cuda:0" not in original.code:
        sys.exit("the original's code names no cuda:0 literal: wrong fixture")
    if "cuda:0" in written.code or 'torch.device("cpu")' not in written.code:
        sys.exit(f"the code's device literal was not mapped to cpu:\n{written.code}")
    x = torch.arange(8, dtype=torch.float32).reshape(2, 4)
    if not torch.equal(written(x), original(x)):
        sys.exit("forward differs")
    print(f"{len(got)} tensors equal, all on cpu; the code names cpu")


if __name__ == "__main__":
    main(*sys.argv[1:3])
