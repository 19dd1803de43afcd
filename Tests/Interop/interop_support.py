"""Shared helpers for the interop suites: where ptview is, how to run it, and torch itself.

Under CI (CI=true) a missing torch is a failure, never a skip: these suites are the judge of
every claim ptview makes about what torch reads.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(REPO, "Tests", "Fixtures", "torch")
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)

PTVIEW = os.environ.get("PTVIEW", os.path.join(REPO, ".build", "debug", "ptview"))
if not os.path.isabs(PTVIEW):
    PTVIEW = os.path.join(REPO, PTVIEW)

try:
    import torch  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised only on broken setups
    if os.environ.get("CI") == "true":
        raise SystemExit(f"torch is required for the interop tests under CI: {error}")
    import pytest

    pytest.skip("torch is not installed (set up the venv with Scripts/test.sh)", allow_module_level=True)

import torch  # noqa: E402,F811


def ptview(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Runs the ptview binary and captures its output."""
    result = subprocess.run([PTVIEW, *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"ptview {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
    return result


def ls_json(path: str) -> list[dict]:
    return json.loads(ptview("ls", "--json", path).stdout)


def manifest() -> dict:
    with open(os.path.join(FIXTURES, "manifest.json"), encoding="utf-8") as f:
        data = json.load(f)
    items = data["fixtures"] if isinstance(data, dict) and "fixtures" in data else data
    return {item["file"]: item for item in items}


def data_offsets(path: str) -> dict[str, int]:
    """Offset of each zip record's data, from its local header (as torch computes it)."""
    import struct
    import zipfile

    offsets = {}
    with zipfile.ZipFile(path) as archive, open(path, "rb") as f:
        for info in archive.infolist():
            f.seek(info.header_offset)
            header = f.read(30)
            name_length, extra_length = struct.unpack("<HH", header[26:30])
            offsets[info.filename] = info.header_offset + 30 + name_length + extra_length
    return offsets


def load_on_cpu(path: str):
    """What a user gets: torch.load on the CPU, or a TorchScript module's state_dict."""
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except RuntimeError as error:
        if "TorchScript" not in str(error) and "constants.pkl" not in str(error):
            raise
    return torch.jit.load(path, map_location="cpu").state_dict()


def dotted_tensors(obj, prefix="", out=None, seen=None):
    """Dotted keys to tensors, as `ptview ls` names them (modules: their state_dict)."""
    out = {} if out is None else out
    seen = set() if seen is None else seen
    if isinstance(obj, torch.Tensor):
        out[prefix] = obj
        return out
    if id(obj) in seen:
        return out
    seen.add(id(obj))
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return out
    for k, v in items:
        dotted_tensors(v, f"{prefix}.{k}" if prefix else str(k), out, seen)
    return out


def fake_location_save(obj, path: str, location: str, **kwargs) -> None:
    """torch.save with every CPU storage tagged `location` (torch-format.md section 7)."""
    import fixture_support  # from Scripts/, shared with the fixture generator

    fixture_support.save_as(obj, path, location, **kwargs)


sys.path.insert(0, os.path.join(REPO, "Scripts"))


def raw_bytes(t: "torch.Tensor") -> bytes:
    """The bytes of a tensor's whole storage (so views compare their storage too)."""
    return bytes(t.untyped_storage())


def same_tensor(a, b) -> bool:
    """Bit-identical: dtype, shape, stride, offset and every byte of the storage."""
    if a.layout != torch.strided or b.layout != torch.strided:
        if a.layout != b.layout or a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.is_sparse:
            return same_tensor(a._indices(), b._indices()) and same_tensor(a._values(), b._values())
        return torch.equal(a.to_dense(), b.to_dense()) if a.layout != torch.jagged else True
    if a.is_quantized or b.is_quantized:
        return (a.is_quantized == b.is_quantized and a.dtype == b.dtype and a.shape == b.shape
                and a.qscheme() == b.qscheme() and raw_bytes(a.int_repr()) == raw_bytes(b.int_repr()))
    return (a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape) and a.stride() == b.stride()
            and a.storage_offset() == b.storage_offset() and a.device == b.device
            and a.requires_grad == b.requires_grad and raw_bytes(a) == raw_bytes(b))


def same_value(a, b, seen=None) -> bool:
    """Deep equality of loaded checkpoints, tensors bit for bit."""
    if seen is None:
        seen = set()
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and same_tensor(a, b)
    if id(a) in seen:
        return True
    if isinstance(a, dict):
        seen.add(id(a))
        return (isinstance(b, dict) and list(a.keys()) == list(b.keys())
                and all(same_value(a[k], b[k], seen) for k in a))
    if isinstance(a, (list, tuple)):
        seen.add(id(a))
        return type(a) is type(b) and len(a) == len(b) and all(same_value(x, y, seen) for x, y in zip(a, b))
    if isinstance(a, torch.nn.Module):
        return same_value(a.state_dict(), b.state_dict(), seen)
    if hasattr(a, "__dict__") and not isinstance(a, type):
        return type(a) is type(b) and same_value(vars(a), vars(b), seen)
    try:
        return bool(a == b)
    except Exception:
        return a is b
