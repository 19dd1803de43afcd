"""Check the explorer on a sharded Hugging Face folder against torch and transformers:

    folder_check.py rows SCREEN FOLDER    the rows (key -> FILE) and the header's tensor count
                                          of a captured screen equal what torch.load of each
                                          shard lists (the index names the shards)
    folder_check.py written ORIGINAL OUT  OUT, written by the explorer's M > w, loads with a
                                          plain torch.load on the CPU, shard by shard, equal
                                          bit for bit to ORIGINAL (read with map_location='cpu');
                                          the index and the other files are byte-identical;
                                          transformers' from_pretrained(OUT) holds the same
                                          weights

Expected values come from torch and transformers, never from ptview."""
import json
import sys
from pathlib import Path

import torch

INDEX = "pytorch_model.bin.index.json"


def shards(folder):
    index = json.loads((Path(folder) / INDEX).read_text())
    return sorted(set(index["weight_map"].values()))


def parse_rows(screen_text):
    """The tensor rows of a fully expanded key view: full key -> FILE text, and the header."""
    lines = screen_text.splitlines()
    header = lines[0]
    titles = lines[1]
    file_at = titles.index("FILE")
    shape_at = titles.index("SHAPE")
    rows = {}
    stack = []
    for line in lines[2:]:
        if line.startswith("\u2500") or not line.strip():
            break
        key_part = line[1:shape_at - 2]
        # Depth from the indentation: two cells per level, then the fold marker and a space.
        stripped = key_part.lstrip(" ")
        indent = len(key_part) - len(stripped)
        label = stripped
        if label[:2] in ("\u25be ", "\u25b8 "):
            label = label[2:]
        else:
            indent -= 2  # a leaf's fold marker is a blank
        depth = indent // 2
        label = label.split("  ")[0].strip()
        del stack[depth:]
        stack.append(label)
        shape = line[shape_at:].split()[0]
        if shape.startswith("["):
            rows[".".join(stack)] = line[file_at:].split()[0]
    return header, rows


def check_rows(screen_path, folder):
    header, rows = parse_rows(Path(screen_path).read_text())
    expected = {}
    distinct = 0
    for shard in shards(folder):
        state = torch.load(Path(folder) / shard, map_location="cpu", weights_only=True)
        distinct += len({id(t) for t in state.values()})
        for key in state:
            expected[key] = shard
    if rows != expected:
        missing = sorted(set(expected) - set(rows))
        extra = sorted(set(rows) - set(expected))
        wrong = sorted(k for k in rows if k in expected and rows[k] != expected[k])
        sys.exit(f"rows differ: missing {missing[:5]}, extra {extra[:5]}, wrong file {wrong[:5]}")
    if f"  {distinct} tensors  " not in header:
        sys.exit(f"header {header!r} does not count {distinct} tensors")
    if f"  {len(shards(folder))} shards  " not in header:
        sys.exit(f"header {header!r} does not count the shards")
    print(f"{len(rows)} rows in {len(shards(folder))} shards, {distinct} tensors: as torch lists them")


def check_written(original, out):
    original, out = Path(original), Path(out)
    names = sorted(p.name for p in original.iterdir())
    if sorted(p.name for p in out.iterdir()) != names:
        sys.exit(f"{out} holds other files than {original}")
    for shard in shards(original):
        written = torch.load(out / shard, weights_only=True)  # no map_location: CPU as is
        before = torch.load(original / shard, map_location="cpu", weights_only=True)
        if list(written) != list(before):
            sys.exit(f"{shard}: keys differ")
        for key, tensor in written.items():
            if tensor.device.type != "cpu":
                sys.exit(f"{shard}: {key} is on {tensor.device}")
            b = before[key]
            if tensor.dtype != b.dtype or tensor.shape != b.shape or tensor.stride() != b.stride():
                sys.exit(f"{shard}: {key} changed its dtype, shape or strides")
            if not torch.equal(tensor.view(torch.uint8) if tensor.numel() else tensor,
                               b.view(torch.uint8) if b.numel() else b):
                sys.exit(f"{shard}: {key} differs")
    for name in names:
        if name.endswith(".bin"):
            continue
        if (out / name).read_bytes() != (original / name).read_bytes():
            sys.exit(f"{name} is not a byte copy")
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging

    logging.disable_progress_bar()

    model = AutoModelForCausalLM.from_pretrained(str(out))
    loaded = model.state_dict()
    checked = 0
    for shard in shards(original):
        before = torch.load(original / shard, map_location="cpu", weights_only=True)
        for key, tensor in before.items():
            if key in loaded:
                if not torch.equal(loaded[key], tensor):
                    sys.exit(f"from_pretrained: {key} differs")
                checked += 1
    if checked == 0:
        sys.exit("from_pretrained: no weight compared")
    print(f"torch.load of each shard and from_pretrained ({checked} weights) equal the original")


if __name__ == "__main__":
    mode, a, b = sys.argv[1:4]
    check_rows(a, b) if mode == "rows" else check_written(a, b)
