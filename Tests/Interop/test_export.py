"""`ptview export` against torch and the safetensors library.

pt -> safetensors: `safetensors.torch.load_file` of every export equals, bit for bit, the
tensors `torch.load(IN, map_location="cpu")` returns (TorchScript: `torch.jit.load`'s
state_dict), under the dotted keys `ptview ls` prints, for every fixture ptview reads; files
holding a dtype or layout safetensors cannot hold are refused with exit 1 naming it, and
export the rest with --only. safetensors -> pt: `torch.load` with its defaults
(weights_only=True) of ptview's file equals `load_file` of the input. Shards: the split
huggingface_hub's `split_state_dict_into_shards_factory` (what save_pretrained calls) makes,
every shard loading, the index's total_size and weight_map. Expected values come from torch,
safetensors and huggingface_hub, never from ptview's output.
"""
from __future__ import annotations

import json
import os
import struct
import warnings

import pytest
from interop_support import FIXTURES, REPO, dotted_tensors, load_on_cpu, ptview, torch

from safetensors.torch import load_file, save_file  # noqa: E402
from huggingface_hub import split_state_dict_into_shards_factory  # noqa: E402

warnings.filterwarnings("ignore")
VALUES = os.path.join(REPO, "Tests", "Fixtures", "values")
SAFETENSORS = os.path.join(REPO, "Tests", "Fixtures", "safetensors")

# What safetensors.torch can hold (its _TYPES, checked against the installed version below).
SUPPORTED = {torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.int32,
             torch.int16, torch.int8, torch.uint8, torch.bool, torch.complex64, torch.uint16,
             torch.uint32, torch.uint64, torch.float8_e4m3fn, torch.float8_e5m2,
             torch.float8_e4m3fnuz, torch.float8_e5m2fnuz, torch.float8_e8m0fnu,
             torch.float4_e2m1fn_x2}

# ptview does not read these (tar era, protocol 0 persistent ids): `ls` fails on them too.
UNREAD = {"tar_era.pt", "sd_proto0.pt"}


def inputs() -> list[str]:
    paths = [os.path.join(FIXTURES, f) for f in sorted(os.listdir(FIXTURES)) if f.endswith(".pt")]
    paths += [os.path.join(VALUES, f) for f in sorted(os.listdir(VALUES)) if f.endswith(".pt")]
    return [p for p in paths if os.path.basename(p) not in UNREAD]


load = load_on_cpu
flatten = dotted_tensors


def writable(t: "torch.Tensor") -> str | None:
    """Why safetensors cannot hold `t` (a word ptview's refusal must name), or None."""
    if t.layout != torch.strided:
        return str(t.layout).removeprefix("torch.").removeprefix("_")
    if t.is_nested:
        return "nested"
    if t.device.type == "meta":
        return "meta"
    if type(t).__torch_dispatch__ is not torch.Tensor.__torch_dispatch__:
        return "no stored values"  # a data-less wrapper subclass (_make_wrapper_subclass)
    if t.dtype not in SUPPORTED:
        return str(t.dtype).removeprefix("torch.")
    return None


def as_bytes(t: "torch.Tensor") -> bytes:
    """The row-major bytes of what torch holds: views resolved, lazy neg/conj applied."""
    t = t.detach().resolve_conj().resolve_neg().contiguous()
    return bytes(t.reshape(-1).view(torch.uint8)) if t.numel() else b""


def check_equal(out: str, expected: dict) -> None:
    got = load_file(out)
    assert sorted(got) == sorted(expected)
    for key, t in expected.items():
        g = got[key]
        assert g.dtype == t.dtype, key
        assert tuple(g.shape) == tuple(t.shape), key
        assert as_bytes(g) == as_bytes(t), key


@pytest.mark.parametrize("path", inputs(), ids=os.path.basename)
def test_export_equals_torch_load(path, tmp_path):
    tensors = flatten(load(path))
    refusals = {k: why for k, t in tensors.items() if (why := writable(t))}
    out = str(tmp_path / "out.safetensors")
    result = ptview("export", path, "-o", out, check=False)
    if refusals:
        assert result.returncode == 1, result.stderr
        assert not os.path.exists(out)
        assert any(k in result.stderr for k in refusals), result.stderr
        words = {w for w in refusals.values()}
        assert any(w in result.stderr for w in words) or "no stored values" in result.stderr, result.stderr
        keep = {k: t for k, t in tensors.items() if k not in refusals}
        if not keep:
            return
        args = [a for k in keep for a in ("--only", k.replace("*", "?"))]
        result = ptview("export", path, "-o", out, *args, check=False)
        assert result.returncode == 0, result.stderr
        check_equal(out, keep)
    else:
        assert result.returncode == 0, result.stderr
        check_equal(out, tensors)
    with open(out, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    assert header["__metadata__"] == {"format": "pt"}
    assert (8 + n) % 8 == 0


def test_big_endian_is_swapped(tmp_path):
    """values_bigendian.pt stores big-endian records; safetensors is little-endian."""
    path = os.path.join(VALUES, "values_bigendian.pt")
    tensors = {k: t for k, t in flatten(load(path)).items() if writable(t) is None}
    assert any(t.element_size() > 1 for t in tensors.values())
    out = str(tmp_path / "be.safetensors")
    ptview("export", path, "-o", out, *[a for k in tensors for a in ("--only", k)])
    check_equal(out, tensors)


def test_tied_and_views_load_under_every_key(tmp_path):
    for name in ("sd_tied.pt", "model_tied.pt", "views.pt"):
        path = os.path.join(FIXTURES, name)
        out = str(tmp_path / (name + ".safetensors"))
        ptview("export", path, "-o", out)
        check_equal(out, flatten(load(path)))


def test_left_out_values_are_listed_not_errors(tmp_path):
    path = os.path.join(FIXTURES, "train_ckpt_cuda0.pt")
    out = str(tmp_path / "o.safetensors")
    result = ptview("export", path, "-o", out, "--json")
    report = json.loads(result.stdout)
    obj = torch.load(path, map_location="cpu", weights_only=False)
    left = {item["key"] for item in report["left_out"]}
    for key, value in obj.items():
        if not flatten(value, key):
            assert key in left, (key, left)
    assert report["tensors"] == len(load_file(out))
    result = ptview("export", path, "-o", out, "--force")
    assert "left out epoch" in result.stderr


def test_refuses_to_overwrite_without_force(tmp_path):
    path = os.path.join(FIXTURES, "sd_cpu.pt")
    out = tmp_path / "o.safetensors"
    out.write_bytes(b"keep me")
    result = ptview("export", path, "-o", str(out), check=False)
    assert result.returncode == 1 and "--force" in result.stderr
    assert out.read_bytes() == b"keep me"
    ptview("export", path, "-o", str(out), "--force")
    check_equal(str(out), flatten(load(path)))
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".")]  # no temporary left


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(SAFETENSORS) if f.endswith(".safetensors")))
def test_safetensors_to_pt_loads_with_weights_only(name, tmp_path):
    path = os.path.join(SAFETENSORS, name)
    out = str(tmp_path / "out.pt")
    ptview("export", path, "-o", out)
    got = torch.load(out)  # torch's defaults: weights_only=True
    expected = load_file(path)
    assert type(got) is type(expected) is dict
    assert list(got) == list(expected)  # the same order too
    for key, t in expected.items():
        g = got[key]
        assert g.dtype == t.dtype and tuple(g.shape) == tuple(t.shape) and g.stride() == t.stride(), key
        assert as_bytes(g) == as_bytes(t), key
    # And back: the round trip gives the same safetensors tensors.
    back = str(tmp_path / "back.safetensors")
    ptview("export", out, "-o", back)
    check_equal(back, expected)


def test_hostile_safetensors_headers(tmp_path):
    good = {"a": torch.arange(4, dtype=torch.float32), "b": torch.ones(2, dtype=torch.int64)}
    base = str(tmp_path / "good.safetensors")
    save_file(good, base)
    raw = open(base, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]

    def write(name: str, header_obj, body=data, length=None) -> str:
        text = json.dumps(header_obj).encode()
        path = str(tmp_path / name)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(text) if length is None else length) + text + body)
        return path

    overlap = json.loads(json.dumps(header))
    a0 = header["a"]["data_offsets"][0]
    overlap["b"]["data_offsets"] = [a0 + 8, a0 + 24]  # 16 bytes, inside a's
    cases = {
        "length.safetensors": write("length.safetensors", header, length=1 << 40),
        "overlap.safetensors": write("overlap.safetensors", overlap),
        "dtype.safetensors": write("dtype.safetensors", {**header, "a": {**header["a"], "dtype": "Q9"}}),
        "past.safetensors": write("past.safetensors", header, body=data[:-4]),
    }
    dup = str(tmp_path / "dup.safetensors")
    text = ('{"a":' + json.dumps(header["a"]) + ',"a":' + json.dumps(header["a"]) + "}").encode()
    with open(dup, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
    cases["dup.safetensors"] = dup
    for name, path in cases.items():
        result = ptview("export", path, "-o", str(tmp_path / (name + ".pt")), check=False)
        assert result.returncode == 2, (name, result.stderr)
        assert result.stderr.count("\n") == 1 and "byte" in result.stderr, (name, result.stderr)
        assert not os.path.exists(tmp_path / (name + ".pt"))


@pytest.mark.parametrize("limit", ["600", "1KB", "1KiB", "100000"])
def test_shards_match_huggingface_split(limit, tmp_path):
    path = os.path.join(VALUES, "values_views.pt")
    tensors = {k: t for k, t in flatten(load(path)).items() if writable(t) is None}
    out = tmp_path / "shards"
    ptview("export", path, "-o", str(out), "--max-shard-size", limit,
           *[a for k in tensors for a in ("--only", k)])
    # What save_pretrained would split: each key its own bytes, in key (ls) order.
    order = [row["key"] for row in json.loads(ptview("ls", "--json", path).stdout) if row["key"] in tensors]
    size = {"600": 600, "1KB": 1000, "1KiB": 1024, "100000": 100000}[limit]
    split = split_state_dict_into_shards_factory(
        {k: tensors[k] for k in order}, get_storage_size=lambda t: t.numel() * t.element_size(),
        filename_pattern="model{suffix}.safetensors", max_shard_size=size)
    files = sorted(os.listdir(out))
    assert files == sorted(list(split.filename_to_tensors) + (["model.safetensors.index.json"] if split.is_sharded else []))
    loaded = {}
    for name, keys in split.filename_to_tensors.items():
        shard = load_file(str(out / name))
        assert sorted(shard) == sorted(keys)
        loaded.update(shard)
    check_equal_dict(loaded, tensors)
    if split.is_sharded:
        index = json.loads((out / "model.safetensors.index.json").read_text())
        assert index["metadata"]["total_size"] == split.metadata["total_size"]
        assert index["weight_map"] == split.tensor_to_filename


def check_equal_dict(got: dict, expected: dict) -> None:
    assert sorted(got) == sorted(expected)
    for key, t in expected.items():
        assert got[key].dtype == t.dtype and as_bytes(got[key]) == as_bytes(t), key


def test_shards_refuse_an_earlier_export_without_force(tmp_path):
    path = os.path.join(FIXTURES, "sd_many.pt")
    out = tmp_path / "shards"
    ptview("export", path, "-o", str(out), "--max-shard-size", "2KB")
    before = sorted(os.listdir(out))
    assert len(before) > 2
    result = ptview("export", path, "-o", str(out), "--max-shard-size", "2KB", check=False)
    assert result.returncode == 1 and "--force" in result.stderr
    # Fewer shards replace more: stale shards of the earlier export are removed.
    ptview("export", path, "-o", str(out), "--max-shard-size", "1GB", "--force")
    assert sorted(os.listdir(out)) == ["model.safetensors"]
    check_equal(str(out / "model.safetensors"), flatten(load(path)))


def test_shard_sizes_parse_like_huggingface(tmp_path):
    path = os.path.join(FIXTURES, "sd_cpu.pt")
    for bad in ("5XB", "GB", "-3", "0"):
        result = ptview("export", path, "-o", str(tmp_path / "x"), "--max-shard-size", bad, check=False)
        assert result.returncode == 64, (bad, result.stderr)


def test_huge_expanded_view_is_refused_not_written(tmp_path):
    """torch.save keeps an expanded view as its storage plus strides; written out, 2^31
    float32 values from one stored value would be 8 GiB. ptview refuses rather than fill the
    disk; a small expanded view is written in full."""
    path = str(tmp_path / "expand.pt")
    small = torch.arange(3, dtype=torch.float32).expand(4, 3)
    torch.save({"huge": torch.ones(1).expand(1 << 31), "small": small}, path)
    out = str(tmp_path / "o.safetensors")
    result = ptview("export", path, "-o", out, check=False)
    assert result.returncode == 1 and "huge" in result.stderr, result.stderr
    assert not os.path.exists(out)
    ptview("export", path, "-o", out, "--only", "small")
    check_equal(out, {"small": small})


def test_safetensors_reshards_like_huggingface(tmp_path):
    """A .safetensors input with --max-shard-size is re-sharded (not converted to .pt), split
    as huggingface_hub splits load_file's dict."""
    path = os.path.join(SAFETENSORS, "all_dtypes.safetensors")
    expected = load_file(path)
    out = tmp_path / "reshard"
    ptview("export", path, "-o", str(out), "--max-shard-size", "1KB")
    split = split_state_dict_into_shards_factory(
        expected, get_storage_size=lambda t: t.numel() * t.element_size(),
        filename_pattern="model{suffix}.safetensors", max_shard_size=1000)
    assert sorted(os.listdir(out)) == sorted([*split.filename_to_tensors, "model.safetensors.index.json"])
    loaded = {}
    for name, keys in split.filename_to_tensors.items():
        shard = load_file(str(out / name))
        assert sorted(shard) == sorted(keys)
        loaded.update(shard)
    check_equal_dict(loaded, expected)
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert index["weight_map"] == split.tensor_to_filename
    assert index["metadata"]["total_size"] == split.metadata["total_size"]
