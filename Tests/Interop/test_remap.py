"""`ptview remap` writes files that a plain torch.load accepts, bit-identical to
`torch.load(original, map_location='cpu')`, in torch's own layout.

For every non-cpu fixture (zip, legacy and TorchScript), and for generated cases:
- plain `torch.load(OUT)` with torch's defaults (weights_only=True, no map_location) succeeds on
  this CPU-only machine (TorchScript: `torch.jit.load(OUT)`), and every tensor equals the
  original loaded with map_location='cpu', bit for bit, with storage sharing preserved;
- `torch.load(OUT, mmap=True)` works (zip), and every storage record's data starts at a
  multiple of 64;
- rules: `cuda:1=cuda:0` keeps other tags, `--only` touches only what it names, a user value
  `{'device': 'cpu'}` survives; refusals and failures leave nothing behind.

    PTVIEW=.build/debug/ptview $VENV/bin/python -m pytest Tests/Interop/test_remap.py
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import tempfile
import warnings
import zipfile
from collections import OrderedDict

import pytest

from interop_support import FIXTURES, PTVIEW, data_offsets, fake_location_save, ls_json, manifest, ptview, same_value, torch

warnings.filterwarnings("ignore")
MANIFEST = manifest()


def non_cpu_fixtures() -> list[str]:
    names = []
    for name, item in sorted(MANIFEST.items()):
        locations = set(item.get("locations") or [])
        if item.get("container") not in ("zip", "legacy", "torchscript"):
            continue
        if not locations or locations <= {"cpu"}:
            continue
        if not item.get("torch_load_cpu", {}).get("ok") and item.get("container") != "torchscript":
            continue
        names.append(name)
    return names


def load_in_subprocess(code: str) -> subprocess.CompletedProcess:
    """Runs torch in a fresh interpreter, as a user's script would."""
    import sys

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


@pytest.mark.parametrize("name", non_cpu_fixtures())
def test_remapped_fixture_loads_with_plain_torch_load(name, tmp_path):
    source = os.path.join(FIXTURES, name)
    item = MANIFEST[name]
    out = str(tmp_path / (os.path.splitext(name)[0] + ".cpu" + os.path.splitext(name)[1]))
    ptview("remap", source, "--to", "cpu", "-o", out)
    if item["container"] == "torchscript":
        result = load_in_subprocess(f"import torch; torch.jit.load({out!r}); print('ok')")
        assert result.returncode == 0, result.stderr[-2000:]
        loaded = torch.jit.load(out)
        original = torch.jit.load(source, map_location="cpu")
        assert same_value(dict(loaded.state_dict()), dict(original.state_dict()))
        return
    # A plain torch.load, in a fresh process, with torch's defaults.
    result = load_in_subprocess(f"import torch; torch.load({out!r}); print('ok')")
    weights_only_expected = MANIFEST[name].get("torch_load_cpu", {}).get("ok")
    if weights_only_expected:
        assert result.returncode == 0, result.stderr[-2000:]
        loaded = torch.load(out)
    else:
        loaded = torch.load(out, weights_only=False)
    original = torch.load(source, map_location="cpu", weights_only=bool(weights_only_expected))
    assert same_value(loaded, original)
    for key, entry in [(e["key"], e) for e in ls_json(out)]:
        assert entry["device"] in ("cpu", "meta"), f"{key} still on {entry['device']}"
    if item["container"] == "zip":
        mapped = torch.load(out, mmap=True, weights_only=bool(weights_only_expected))
        assert same_value(mapped, original)
        for record, offset in data_offsets(out).items():
            if "/data/" in record:
                assert offset % 64 == 0, f"{record} data at {offset}"


def test_storage_sharing_survives(tmp_path):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    obj = {"base": base, "row": base[1], "col": base[:, 2], "t": base.t()}
    src = str(tmp_path / "views.pt")
    fake_location_save(obj, src, "cuda:0")
    out = str(tmp_path / "views.cpu.pt")
    ptview("remap", src, "--to", "cpu", "-o", out)
    loaded = torch.load(out)
    pointers = {k: v.untyped_storage().data_ptr() for k, v in loaded.items()}
    assert len(set(pointers.values())) == 1
    loaded["base"][0, 0] = 99
    assert loaded["t"][0, 0] == 99


def test_map_rule_keeps_other_tags(tmp_path):
    src = os.path.join(FIXTURES, "sd_mixed.pt")
    out = str(tmp_path / "mixed.pt")
    before = {e["key"]: e["device"] for e in ls_json(src)}
    assert {"cuda:1", "cpu"} <= set(before.values())
    ptview("remap", src, "--map", "cuda:1=cuda:0", "-o", out)
    after = {e["key"]: e["device"] for e in ls_json(out)}
    for key, device in before.items():
        assert after[key] == ("cuda:0" if device == "cuda:1" else device)
    # Torch agrees: every storage location as saved.
    seen = {}

    def spy(storage, location):
        seen[location] = seen.get(location, 0) + 1
        return storage

    torch.load(out, map_location=spy)
    assert "cuda:1" not in seen and "cuda:0" in seen


def test_only_touches_what_it_names(tmp_path):
    src = os.path.join(FIXTURES, "train_ckpt_cuda0.pt")
    out = str(tmp_path / "only.pt")
    ptview("remap", src, "--to", "cpu", "--only", "model.*", "-o", out)
    for entry in ls_json(out):
        if entry["key"].startswith("model."):
            assert entry["device"] == "cpu", entry["key"]
        else:
            original = {e["key"]: e["device"] for e in ls_json(src)}[entry["key"]]
            assert entry["device"] == original, entry["key"]


@pytest.mark.parametrize("name", ["trap_cpu_config.pt", "trap_cuda0_config_cpu.pt", "trap_cpu_config_first.pt"])
def test_user_device_value_survives(name, tmp_path):
    src = os.path.join(FIXTURES, name)
    out = str(tmp_path / "trap.pt")
    ptview("remap", src, "--to", "cuda:0", "-o", out)
    original = torch.load(src, map_location="cpu", weights_only=False)
    loaded = torch.load(out, map_location="cpu", weights_only=False)

    def strings(obj):
        if isinstance(obj, dict):
            return {k: strings(v) for k, v in obj.items() if not isinstance(v, torch.Tensor)}
        return obj

    assert strings(loaded) == strings(original)
    assert all(e["device"] == "cuda:0" for e in ls_json(out))
    # and back to cpu: the value is still 'cpu', the tensors load with plain torch.load
    back = str(tmp_path / "back.pt")
    ptview("remap", out, "--to", "cpu", "-o", back)
    assert strings(torch.load(back)) == strings(original)
    assert same_value(torch.load(back), original)


@pytest.mark.parametrize("protocol", [1, 3, 4, 5])
def test_other_protocols_become_weights_only_loadable(protocol, tmp_path):
    src = str(tmp_path / f"p{protocol}.pt")
    sd = {"w": torch.randn(3, 3), "b": torch.zeros(3), "n": 7}
    fake_location_save(sd, src, "cuda:0", pickle_protocol=protocol)
    out = str(tmp_path / f"p{protocol}.cpu.pt")
    report = json.loads(ptview("remap", src, "--to", "cpu", "-o", out, "--json").stdout)
    assert report["unsafe_opcodes"] == []
    assert same_value(torch.load(out), torch.load(src, map_location="cpu", weights_only=False))


def test_nothing_matching_still_writes_a_normalised_file(tmp_path):
    src = os.path.join(FIXTURES, "sd_cpu.pt")
    out = str(tmp_path / "same.pt")
    result = ptview("remap", src, "--to", "cpu", "-o", out)
    assert "nothing matched" in result.stdout
    assert same_value(torch.load(out), torch.load(src))


def test_refusals_leave_nothing_behind(tmp_path):
    src = os.path.join(FIXTURES, "sd_cuda0.pt")
    out = tmp_path / "exists.pt"
    out.write_bytes(b"keep me")
    result = ptview("remap", src, "--to", "cpu", "-o", str(out), check=False)
    assert result.returncode == 1 and "--force" in result.stderr
    assert out.read_bytes() == b"keep me"
    assert sorted(os.listdir(tmp_path)) == ["exists.pt"]
    result = ptview("remap", src, "--to", "cpu", "-o", str(out), "--force")
    assert same_value(torch.load(str(out)), torch.load(src, map_location="cpu"))
    # The input itself needs --in-place.
    copy = tmp_path / "copy.pt"
    copy.write_bytes(open(src, "rb").read())
    result = ptview("remap", str(copy), "--to", "cpu", "-o", str(copy), check=False)
    assert result.returncode == 1 and "--in-place" in result.stderr
    ptview("remap", str(copy), "--to", "cpu", "--in-place")
    assert same_value(torch.load(str(copy)), torch.load(src, map_location="cpu"))
    assert sorted(os.listdir(tmp_path)) == ["copy.pt", "exists.pt"]


def test_failed_write_leaves_nothing_behind(tmp_path):
    src = os.path.join(FIXTURES, "train_ckpt_cuda0.pt")
    # A file-size limit makes every write past 4 KiB fail (EFBIG), like a full disk.
    out = tmp_path / "big.pt"
    result = subprocess.run(
        ["bash", "-c", f"ulimit -f 4; exec {PTVIEW} remap {src} --to cpu -o {out}"],
        capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert "big.pt" in result.stderr
    assert os.listdir(tmp_path) == []
    # A folder without write permission.
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.geteuid() != 0:
            result = ptview("remap", src, "--to", "cpu", "-o", str(locked / "x.pt"), check=False)
            assert result.returncode == 1
        assert os.listdir(locked) == []
    finally:
        locked.chmod(0o700)
    # An unreadable input is exit 2.
    result = ptview("remap", str(tmp_path / "missing.pt"), "--to", "cpu", "-o", str(tmp_path / "o.pt"), check=False)
    assert result.returncode == 2
    assert not (tmp_path / "o.pt").exists()


def central_entry_crc_position(data: bytes, name: bytes) -> int:
    """Offset of the CRC field of `name`'s central-directory entry."""
    position = data.find(b"PK\x01\x02")
    while position >= 0:
        name_length = struct.unpack("<H", data[position + 28:position + 30])[0]
        if data[position + 46:position + 46 + name_length] == name:
            return position + 16
        extra, comment = struct.unpack("<HH", data[position + 30:position + 34])
        position = data.find(b"PK\x01\x02", position + 46 + name_length + extra + comment)
    raise AssertionError(f"{name!r} not in the central directory")


def test_layout_is_byte_faithful_to_torchs_writer(tmp_path):
    """Our zip layout equals what torch's own PyTorchFileWriter writes for the same records."""
    src = os.path.join(FIXTURES, "sd_cuda1.pt")
    out = str(tmp_path / "faithful.pt")
    ptview("remap", src, "--to", "cpu", "-o", out)
    golden = str(tmp_path / "golden" / "faithful.pt")
    os.makedirs(os.path.dirname(golden))
    with zipfile.ZipFile(out) as archive:
        records = [(info.filename.split("/", 1)[1], archive.read(info)) for info in archive.infolist()]
    writer = torch._C.PyTorchFileWriter(golden)
    for name, data in records:
        if name != ".data/serialization_id":  # torch always generates its own
            writer.write_record(name, data, len(data))
    writer.write_end_of_file()
    del writer
    mine = open(out, "rb").read()
    theirs = open(golden, "rb").read()
    assert len(mine) == len(theirs)
    # Only the serialization id's 40 digits and its two CRC copies may differ.
    sid_name = b"faithful/.data/serialization_id"
    sid_data = data_offsets(out)[sid_name.decode()]
    allowed = set(range(sid_data, sid_data + 40))
    allowed |= set(range(sid_data + 44, sid_data + 48))  # descriptor CRC
    crc = central_entry_crc_position(mine, sid_name)
    allowed |= set(range(crc, crc + 4))
    differing = [i for i, (x, y) in enumerate(zip(mine, theirs)) if x != y and i not in allowed]
    assert differing == [], f"bytes differ at {differing[:10]}"


def test_zip64_archive_over_4_gib(tmp_path):
    """A checkpoint with a record past 4 GiB, made cheaply from a sparse file."""
    import numpy as np

    big = 4 * 1024**3 + 64
    seed = str(tmp_path / "seed.pt")
    fake_location_save({"small": torch.zeros(8, dtype=torch.uint8), "tail": torch.ones(4)}, seed, "cuda:0")
    with zipfile.ZipFile(seed) as archive:
        records = [(info.filename.split("/", 1)[1], archive.read(info)) for info in archive.infolist()]
    pickle = dict(records)["data.pkl"]
    # The uint8 storage's numel (BININT1 8) becomes `big` (LONG1): one huge storage record.
    assert b"K\x08" in pickle
    pickle = pickle.replace(b"K\x08", b"\x8a\x05" + big.to_bytes(5, "little"), 1)
    sparse = str(tmp_path / "sparse.bin")
    with open(sparse, "wb") as f:
        f.truncate(big)  # a hole: no disk blocks
    zeros = np.memmap(sparse, dtype=np.uint8, mode="r", shape=(big,))
    path = str(tmp_path / "huge_cuda0.pt")
    writer = torch._C.PyTorchFileWriter(path)
    for name, data in records:
        if name == "data.pkl":
            writer.write_record(name, pickle, len(pickle))
        elif name == "data/0":
            writer.write_record(name, zeros.ctypes.data, big)
        elif name != ".data/serialization_id":
            writer.write_record(name, data, len(data))
    writer.write_end_of_file()
    del writer, zeros
    os.remove(sparse)
    out = str(tmp_path / "huge.cpu.pt")
    ptview("remap", path, "--to", "cpu", "-o", out)
    os.remove(path)
    loaded = torch.load(out, mmap=True)
    assert loaded["small"].numel() == 8 and loaded["tail"].tolist() == [1.0] * 4
    with zipfile.ZipFile(out) as archive:
        assert archive.getinfo("huge.cpu/data/0").file_size == big
        assert archive.getinfo("huge.cpu/data/1").header_offset > 0xFFFFFFFF
    offsets = data_offsets(out)
    assert all(o % 64 == 0 for n, o in offsets.items() if "/data/" in n)


@pytest.mark.parametrize("name", ["zip_no_version.pt", "zip_stray_entry.pt"])
def test_remap_repairs_what_torch_refuses(name, tmp_path):
    """A missing version record and records outside the root folder make torch.load fail;
    doctor says a rewrite fixes them (exit 3) and the rewrite does."""
    src = os.path.join(os.path.dirname(FIXTURES), "hostile", name)
    before = load_in_subprocess(f"import torch; torch.load({src!r})")
    assert before.returncode != 0
    doctor = ptview("doctor", src, check=False)
    assert doctor.returncode == 3, doctor.stdout + doctor.stderr
    out = str(tmp_path / "fixed.pt")
    ptview("remap", src, "--to", "cpu", "-o", out)
    after = load_in_subprocess(f"import torch; torch.load({out!r}); print('ok')")
    assert after.returncode == 0, after.stderr[-2000:]


def _device_tensor(values, device: str):
    """A tensor that pickles as torch pickles xla/maia/mtia tensors:
    _rebuild_device_tensor_from_cpu_tensor(cpu_tensor, dtype, device, requires_grad)."""
    import fixture_models

    t = values.as_subclass(fixture_models.DeviceTaggedTensor)
    t.fake_device = device
    return t


def _locations(path: str) -> dict[str, list[str]]:
    """Per key, the locations of the storages torch reads for it (components included)."""
    from torch_facts import facts

    out = {}
    for e in facts(path):
        out[e["key"]] = [s["device"] for s in e.get("storages") or []] or [e["device"]]
    return out


@pytest.mark.parametrize("tag,rule,loaded_with", [
    # cpu -> cuda:0: torch.load(map_location={'cpu': 'cuda:0'}) moves the inner storage, then
    # the tensor goes to its own device argument; torch.save writes its data as self.cpu().
    ("cpu", "cpu=cuda:0", {"cuda:0": "cpu"}),
    # cuda:0 -> cpu: the device argument follows the rule too, so everything is on the CPU.
    ("cuda:0", "cuda:0=cpu", None),
    # cuda:0 -> cuda:1: the inner storage goes to cpu, where torch.save would put it.
    ("cuda:0", "cuda:0=cuda:1", {"cuda:1": "cpu"}),
])
def test_device_tensor_inner_storage_follows_torch(tmp_path, tag, rule, loaded_with):
    """A device tensor's inner CPU storage is not a location torch keeps: after torch.load with
    map_location the tensor is on (the mapped) device argument, and torch.save writes the data
    as `self.cpu()` again. ptview's remap output says what such a save would: the inner
    storage at cpu, never at the GPU target; plain tensors move as the rule says."""
    src = str(tmp_path / "device.pt")
    device_arg = "cuda:0"
    fake_location_save(OrderedDict(dev=_device_tensor(torch.arange(4.0), device_arg),
                                   plain=torch.ones(3)), src, tag)
    out = str(tmp_path / "out.pt")
    ptview("remap", src, "--map", rule, "-o", out)
    frm, to = rule.split("=")
    locations = _locations(out)
    assert locations["plain"] == [to]
    assert locations["dev"] == ["cpu"], locations
    # torch: the source mapped as the rule says, then what a load of the output gives.
    mapped = {frm: to if to == "cpu" else "cpu", **({} if to == "cpu" else {device_arg: "cpu"})}
    want = torch.load(src, map_location=mapped, weights_only=False)
    got = torch.load(out, map_location=loaded_with, weights_only=False) if loaded_with else \
        torch.load(out, weights_only=False)
    assert same_value(dict(got), dict(want))
