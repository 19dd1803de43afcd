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

    folder_check.py safetensors ORIGINAL OUT CLI PREFIX DTYPE
                                          OUT, written by the explorer's c > P > w on the
                                          safetensors shards of ORIGINAL: each shard read by
                                          safetensors.load_file holds the original's tensors
                                          with PREFIX stripped from their keys and the floating
                                          ones cast by torch to DTYPE; the index maps the new
                                          keys; the other files are byte copies; every file
                                          equals CLI's (`ptview edit ORIGINAL --cast DTYPE
                                          --strip-prefix PREFIX -o CLI`); from_pretrained(OUT)
                                          holds the same weights

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


def check_safetensors(original, out, cli, prefix, dtype_name):
    from safetensors.torch import load_file

    original, out, cli = Path(original), Path(out), Path(cli)
    dtype = getattr(torch, dtype_name)
    index_name = "model.safetensors.index.json"
    names = sorted(p.name for p in original.iterdir())
    if sorted(p.name for p in out.iterdir()) != names:
        sys.exit(f"{out} holds other files than {original}")
    weight_map = json.loads((original / index_name).read_text())["weight_map"]
    expected_map = {}
    expected_all = {}
    for shard in sorted(set(weight_map.values())):
        before = load_file(original / shard)
        written = load_file(out / shard)
        expected = {}
        for key, tensor in before.items():
            new = key[len(prefix):] if key.startswith(prefix) else key
            expected[new] = tensor.to(dtype) if tensor.is_floating_point() else tensor
            expected_map[new] = shard
        if set(written) != set(expected):
            sys.exit(f"{shard}: keys {sorted(written)[:4]} are not {sorted(expected)[:4]}")
        for key, tensor in expected.items():
            got = written[key]
            if got.dtype != tensor.dtype or got.shape != tensor.shape:
                sys.exit(f"{shard}: {key} is {got.dtype} {tuple(got.shape)}")
            if not torch.equal(got.view(torch.uint8) if got.numel() else got,
                               tensor.view(torch.uint8) if tensor.numel() else tensor):
                sys.exit(f"{shard}: {key} differs from torch's cast")
        expected_all.update(expected)
    index = json.loads((out / index_name).read_text())
    if index["weight_map"] != expected_map:
        sys.exit("the index does not map the new keys to their shards")
    for name in names:
        if name.endswith(".safetensors") or name == index_name:
            continue
        if (out / name).read_bytes() != (original / name).read_bytes():
            sys.exit(f"{name} is not a byte copy")
    if sorted(p.name for p in cli.iterdir()) != names:
        sys.exit(f"{cli} holds other files")
    for name in names:
        if (out / name).read_bytes() != (cli / name).read_bytes():
            sys.exit(f"{name}: the explorer wrote other bytes than ptview edit")
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()
    model = AutoModelForCausalLM.from_pretrained(str(out))
    loaded = model.state_dict()
    checked = 0
    for key, tensor in expected_all.items():
        full = key if key in loaded else prefix + key
        if full not in loaded:
            sys.exit(f"from_pretrained: no {key}")
        if not torch.equal(loaded[full], tensor.to(loaded[full].dtype)):
            sys.exit(f"from_pretrained: {full} differs")
        checked += 1
    print(f"load_file of each shard equals torch's {dtype_name} cast, {len(expected_map)} keys "
          f"without {prefix}; same bytes as ptview edit; from_pretrained: {checked} weights")


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "rows":
        check_rows(*sys.argv[2:4])
    elif mode == "written":
        check_written(*sys.argv[2:4])
    else:
        check_safetensors(*sys.argv[2:7])
