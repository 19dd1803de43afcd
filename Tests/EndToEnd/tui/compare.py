"""Check a file the explorer wrote: plain torch.load (no map_location) must read it, every
tensor must be on the CPU, and equal bit for bit to torch.load(input, map_location='cpu')."""
import sys

import torch


def walk(value, path=()):
    if isinstance(value, torch.Tensor):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, path + (str(k),))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from walk(v, path + (str(i),))


def main(original_path, written_path):
    written = torch.load(written_path)  # no map_location: this is the point of the remap
    original = torch.load(original_path, map_location="cpu")
    got = dict(walk(written))
    want = dict(walk(original))
    if got.keys() != want.keys():
        sys.exit(f"different tensors: {sorted(got.keys() ^ want.keys())[:5]}")
    for key, a in got.items():
        b = want[key]
        name = ".".join(key)
        if a.device.type != "cpu":
            sys.exit(f"{name} is on {a.device}")
        if (a.dtype, a.shape, a.stride(), a.storage_offset()) != (b.dtype, b.shape, b.stride(), b.storage_offset()):
            sys.exit(f"{name}: layout differs")
        if a.untyped_storage().nbytes() != b.untyped_storage().nbytes():
            sys.exit(f"{name}: storage size differs")
        if bytes(a.untyped_storage()) != bytes(b.untyped_storage()):
            sys.exit(f"{name}: bytes differ")
    # Non-tensor values survive too.
    if written.get("epoch") != original.get("epoch") or written.get("config") != original.get("config"):
        sys.exit("non-tensor values differ")
    print(f"{len(got)} tensors equal, all on cpu")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
