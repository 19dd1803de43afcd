#!/usr/bin/env python3
"""Write hostile inputs under Tests/Fixtures/hostile/ (plain python3, no torch needed):

    python3 Scripts/make_hostile.py                      # files + manifest.json
    python3 Scripts/make_hostile.py --torch-python /root/.cache/ptview/venv/bin/python
                                                         # ... and record what torch does with each

Zip-based cases start from the committed torch fixture Tests/Fixtures/torch/sd_cpu.pt (run
Scripts/make_fixtures.py first; that file is byte-identical between runs).  Legacy-format cases
are built here from scratch with CPython's pickle: fake ``torch`` / ``torch._utils`` modules
are put in sys.modules so the pickler writes the real GLOBAL names (this process has no torch).

Big inputs are not committed: manifest.json describes them as a recipe (hex parts, some
repeated) plus the SHA-256 of the assembled bytes, for the tests to build at run time.

Every entry gets a one-line description and, where it could be checked safely, what CPython
does with it: ``cpython_c`` / ``cpython_py`` = the C / pure-Python unpickler with find_class
returning inert stand-ins (so nothing from the file runs) in a child process with a memory
limit and a timeout; ``python_zipfile`` = Python's zipfile opening the archive and reading
every record; ``torch_load`` = torch.load(f, map_location='cpu') with the default
weights_only=True (never weights_only=False), in a child process with the same limits.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import types
import zipfile
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(REPO, "Tests", "Fixtures", "hostile")
BASE_ZIP = os.path.join(REPO, "Tests", "Fixtures", "torch", "sd_cpu.pt")
sys.dont_write_bytecode = True

ENTRIES: list[dict] = []

# ---------------------------------------------------------------------------------------------
# fake torch globals, so CPython's pickler writes `torch FloatStorage` etc. without torch


def _fake_module(name, **attrs):
    m = types.ModuleType(name)
    for k, v in attrs.items():
        v.__module__ = name
        v.__qualname__ = k
        v.__name__ = k
        setattr(m, k, v)
    sys.modules[name] = m
    return m


if "torch" in sys.modules:
    raise SystemExit("run this with a python that has not imported torch")


class FloatStorage:  # noqa: D101 - renamed to torch.FloatStorage below
    pass


def _rebuild_tensor_v2(*args):  # never called
    raise RuntimeError


_torch = _fake_module("torch", FloatStorage=FloatStorage)
_torch._utils = _fake_module("torch._utils", _rebuild_tensor_v2=_rebuild_tensor_v2)


class Storage:
    """Pickled as a persistent id whose exact tuple we choose."""

    def __init__(self, pid):
        self.pid = pid


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, OrderedDict())

    def __reduce__(self):
        return (_rebuild_tensor_v2, self.args)


class PidPickler(pickle.Pickler):
    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, Storage) else None


def torch_pickle(obj) -> bytes:
    buf = io.BytesIO()
    PidPickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def zpid(key="0", numel=12, loc="cpu"):
    return ("storage", FloatStorage, key, loc, numel)


# ---------------------------------------------------------------------------------------------
# writers


def path(name):
    return os.path.join(OUT, name)


def add(name, data, description, kind, **extra):
    if len(data) > 64 * 1024:
        raise AssertionError(f"{name}: {len(data)} bytes; describe it as a recipe instead")
    with open(path(name), "wb") as f:
        f.write(data)
    ENTRIES.append(dict(file=name, kind=kind, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                        description=description, **extra))


def add_recipe(name, parts, description, kind, **extra):
    data = assemble(parts)
    ENTRIES.append(dict(file=None, name=name, kind=kind, recipe=parts, size=len(data),
                        sha256=hashlib.sha256(data).hexdigest(), description=description, **extra))


def assemble(parts) -> bytes:
    """parts: [{"hex": "...", "repeat": n (default 1)}]."""
    return b"".join(bytes.fromhex(p["hex"]) * p.get("repeat", 1) for p in parts)


def zip_with(records, root="archive"):
    """A zip of (name, bytes) records under root/ written by Python's zipfile (stored, fixed time)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for n, d in records:
            zi = zipfile.ZipInfo(f"{root}/{n}", date_time=(1980, 1, 1, 0, 0, 0))
            zi.external_attr = 0o644 << 16
            z.writestr(zi, d)
    return buf.getvalue()


def base_records():
    z = zipfile.ZipFile(BASE_ZIP)
    return [(n.split("/", 1)[1], z.read(n)) for n in z.namelist()]


def eocd_offsets(data):
    """(zip64 EOCD offset, EOCD offset) of a torch zip (always has the zip64 tail)."""
    e = data.rfind(b"PK\x05\x06")
    z = data.rfind(b"PK\x06\x06")
    return z, e


# ---------------------------------------------------------------------------------------------
# the cases


def make_pickles():
    add("marks_10k.pkl", b"\x80\x02" + b"(" * 10000 + b"N.",
        "10,000 MARKs then NONE STOP: a deep mark stack (the 1,000,000-MARK version is the recipe marks_1m)", "pickle")
    add_recipe("marks_1m", [{"hex": "8002"}, {"hex": "28", "repeat": 1000000}, {"hex": "4e2e"}],
               "PROTO 2, 1,000,000 MARKs, NONE, STOP (about 1 MB): mark-stack growth must be bounded or cheap", "pickle")
    add_recipe("nested_lists_100k", [{"hex": "8002"}, {"hex": "5d", "repeat": 100000}, {"hex": "61", "repeat": 99999},
                                     {"hex": "2e"}],
               "100,000 EMPTY_LISTs then 99,999 APPENDs: a list nested 100,000 deep (recursive walkers overflow)", "pickle")
    add("binunicode8_4gib.pkl", b"\x80\x04\x8d" + struct.pack("<Q", 2**32) + b"abc.",
        "BINUNICODE8 claiming 4 GiB with 4 bytes present: must fail without allocating", "pickle")
    add("binbytes8_4gib.pkl", b"\x80\x04\x8e" + struct.pack("<Q", 2**32) + b"abc.",
        "BINBYTES8 claiming 4 GiB with 4 bytes present", "pickle")
    add("binbytes8_max.pkl", b"\x80\x04\x8e" + struct.pack("<Q", 2**64 - 1) + b"x.",
        "BINBYTES8 claiming 2**64-1 bytes (overflows signed 64-bit arithmetic)", "pickle")
    add("bytearray8_4gib.pkl", b"\x80\x05\x96" + struct.pack("<Q", 2**32) + b".",
        "BYTEARRAY8 claiming 4 GiB", "pickle")
    add("binunicode_u32max.pkl", b"\x80\x02X" + struct.pack("<I", 0xFFFFFFFF) + b"abc.",
        "BINUNICODE claiming 0xFFFFFFFF bytes", "pickle")
    add("long4_huge.pkl", b"\x80\x02\x8b" + struct.pack("<i", 2**31 - 1) + b"\x01.",
        "LONG4 claiming 2**31-1 bytes", "pickle")
    add("long4_negative.pkl", b"\x80\x02\x8b" + struct.pack("<i", -5) + b".",
        "LONG4 with a negative byte count", "pickle")
    add("frame_too_long.pkl", b"\x80\x04\x95" + struct.pack("<Q", 2**40) + b"N.",
        "FRAME claiming 1 TiB", "pickle")
    add("long_binget_missing.pkl", b"\x80\x02j" + struct.pack("<I", 0xDEADBEEF) + b".",
        "LONG_BINGET of a key never stored (0xDEADBEEF)", "pickle")
    add("binget_missing.pkl", b"\x80\x02]q\x00h\x05.", "BINGET 5 after only slot 0 was stored", "pickle")
    add("get_text_bad.pkl", b"(lp0\ngabc\n.", "GET with a non-numeric key", "pickle")
    a = []
    for _ in range(100):
        a = [a, a]
    add("exponential_shared.pkl", pickle.dumps(a, 2),
        "list of [a, a] nested 100 levels: 201 objects, but 2**100 paths (a naive tree walk never ends)", "pickle")
    t = []
    for _ in range(30):
        t = (t, t)
    add("exponential_shared_tuples.pkl", pickle.dumps(t, 2),
        "tuple (a, a) nested 30 levels around one list: immutable sharing, 2**30 paths", "pickle")
    cyc = []
    cyc.append(cyc)
    d = {}
    d["self"] = d
    d["l"] = [d, cyc]
    add("cycles.pkl", pickle.dumps([cyc, d], 2), "a list containing itself and a dict reachable from itself", "pickle")
    add("tuple_without_mark.pkl", b"\x80\x02t.", "TUPLE with no MARK", "pickle")
    add("reduce_empty_stack.pkl", b"\x80\x02R.", "REDUCE on an empty stack", "pickle")
    add("pop_mark_without_mark.pkl", b"\x80\x02K\x011.", "POP_MARK with no MARK", "pickle")
    add("stop_with_mark_left.pkl", b"\x80\x02(K\x01.", "STOP while a MARK is still open (CPython returns 1)", "pickle")
    add("stop_only_marks.pkl", b"\x80\x02((.", "STOP with only MARKs on the stack", "pickle")
    add("no_stop.pkl", b"\x80\x02]q\x00K\x01a", "ends without STOP", "pickle")
    add("empty.pkl", b"", "zero bytes", "pickle")
    add("unknown_opcode.pkl", b"\x80\x02\xff.", "opcode 0xff (undefined)", "pickle")
    add("proto_99.pkl", b"\x80\x63N.", "PROTO 99", "pickle")
    add("setitems_odd.pkl", b"\x80\x02}(K\x01u.", "SETITEMS with an odd number of items", "pickle")
    add("global_os_system.pkl", b"cos\nsystem\n(S'echo ptview-hostile-fixture'\ntR.",
        "GLOBAL os.system + REDUCE: code execution if loaded by a real unpickler (harmless echo); a scanner must flag it, "
        "a viewer must never call it (the checks below use inert stand-ins, so nothing runs)", "pickle", never_load=True)
    add("global_builtins_eval.pkl", b"\x80\x02c__builtin__\neval\nX" + struct.pack("<I", 9) + b"'1' + '1'\x85R.",
        "GLOBAL __builtin__.eval + REDUCE (harmless expression)", "pickle", never_load=True)
    add("ext_code_zero.pkl", b"\x80\x02\x82\x00.", "EXT1 with code 0 (invalid: codes start at 1)", "pickle")
    add("next_buffer_no_buffers.pkl", b"\x80\x05\x97.", "NEXT_BUFFER (protocol 5 out-of-band data) with no buffers supplied",
        "pickle")
    add("readonly_buffer_empty_stack.pkl", b"\x80\x05\x98.", "READONLY_BUFFER on an empty stack", "pickle")
    add("persid_no_loader.pkl", b"\x80\x02X\x01\x00\x00\x000Q.", "BINPERSID with a str pid: fine for an unpickler with a persistent_load (the checks here have one); "
        "plain pickle.loads raises 'A load persistent id instruction was encountered, but no persistent_load function was specified.'",
        "pickle")


def make_zips():
    base = open(BASE_ZIP, "rb").read()
    n = len(base)
    for cut in [0, 4, 30, 100, 512, n // 2, n - 98, n - 22, n - 1]:
        add(f"zip_truncated_{cut}.pt", base[:cut], f"sd_cpu.pt ({n} bytes) cut to its first {cut} bytes", "zip",
            base="torch/sd_cpu.pt")
    z = zipfile.ZipFile(BASE_ZIP)
    info = z.getinfo("sd_cpu/data.pkl")
    hdr = info.header_offset
    name_len, extra_len = struct.unpack("<HH", base[hdr + 26:hdr + 30])
    start = hdr + 30 + name_len + extra_len
    size = info.file_size
    for rel, desc in [(0, "the PROTO opcode byte (0x80 -> 0x7f)"), (2, "the first opcode after PROTO"),
                      (size // 2, "a byte in the middle of data.pkl"), (size - 1, "the final STOP")]:
        b = bytearray(base)
        b[start + rel] ^= 0xFF
        add(f"zip_flipped_pkl_{rel}.pt", bytes(b), f"sd_cpu.pt with data.pkl byte {rel} XOR 0xff: {desc} (CRC now wrong too)",
            "zip", base="torch/sd_cpu.pt")
    recs = [(nm, d) for nm, d in base_records() if nm != ".data/serialization_id"]

    def with_pkl(pkl, drop=(), replace=None):
        out = []
        for nm, d in recs:
            if nm in drop:
                continue
            if nm == "data.pkl":
                d = pkl
            if replace and nm in replace:
                d = replace[nm]
            out.append((nm, d))
        return out

    one = lambda pid, size=(3, 4), stride=(4, 1), off=0: {"w": Tensor(Storage(pid), off, size, stride)}  # noqa: E731
    cases = [
        ("pid_3tuple", one(("storage", FloatStorage, "0")), "persistent id is a 3-tuple ('storage', FloatStorage, '0')"),
        ("pid_string", one("storage"), "persistent id is the string 'storage'"),
        ("pid_numel_str", one(("storage", FloatStorage, "0", "cpu", "twelve")), "pid numel is a str"),
        ("pid_numel_float", one(("storage", FloatStorage, "0", "cpu", 12.0)), "pid numel is a float"),
        ("pid_numel_negative", one(("storage", FloatStorage, "0", "cpu", -12)), "pid numel is negative"),
        ("pid_6tuple_in_zip", one(("storage", FloatStorage, "0", "cpu", 12, None)), "a legacy 6-tuple pid inside a zip"),
        ("pid_unknown_tag", one(("module", FloatStorage, "0", "cpu", 12)), "pid tag 'module' in a zip"),
        ("pid_key_int", one(("storage", FloatStorage, 0, "cpu", 12)), "pid key is an int, not a str"),
        ("pid_location_int", one(("storage", FloatStorage, "0", 0, 12)), "pid location is an int"),
        ("shape_negative", one(zpid(), (-1, 3), (3, 1)), "tensor size (-1, 3)"),
        ("stride_negative", one(zpid(), (3, 4), (-4, 1)), "tensor stride (-4, 1)"),
        ("offset_negative", one(zpid(), (2, 2), (2, 1), -3), "storage offset -3"),
        ("shape_overflow", one(zpid(), (2**62, 2**62), (2**62, 1)), "size (2**62, 2**62): element count overflows 64 bits"),
        ("shape_zero_overflow", one(zpid(), (0, 2**62, 4), (4, 4, 1)), "size (0, 2**62, 4): no elements, but the other sizes overflow 64 bits when multiplied"),
        ("view_past_storage", one(zpid(), (100,), (1,), 0), "size (100,) over a 12-element storage"),
        ("offset_past_storage", one(zpid(), (4,), (1,), 10), "offset 10 + 4 elements over a 12-element storage"),
        ("storage_missing", one(zpid(key="7")), "pid names data/7, which the archive does not have"),
    ]
    # the hand-made pickles reference data/0 as 12 float32 (48 bytes): give them exactly that record
    small = [(nm, (struct.pack("<12f", *range(12)) if nm == "data/0" else d)) for nm, d in recs
             if not nm.startswith("data/") or nm == "data/0"]

    def small_zip(pkl, root):
        return zip_with([(nm, pkl if nm == "data.pkl" else d) for nm, d in small], root=root)

    add("zip_small_valid.pt", small_zip(torch_pickle(one(zpid())), "zip_small_valid"),
        "baseline for the zip_pid_* / shape cases: {'w': (3,4) float32 over data/0 = 12 floats} (torch loads it)", "zip")
    for name, obj, desc in cases:
        add(f"zip_{name}.pt", small_zip(torch_pickle(obj), f"zip_{name}"), desc + " (otherwise zip_small_valid.pt)", "zip")
    # data/0 of sd_cpu.pt is conv.weight: 108 float32 = 432 bytes
    d0 = dict(recs)["data/0"]
    add("zip_storage_too_small.pt", zip_with(with_pkl(dict(recs)["data.pkl"], replace={"data/0": d0[:100]}),
                                             root="zip_storage_too_small"),
        f"sd_cpu.pt content with data/0 cut from {len(d0)} to 100 bytes", "zip")
    add("zip_storage_too_big.pt", zip_with(with_pkl(dict(recs)["data.pkl"], replace={"data/0": d0 + b"\0" * 8}),
                                           root="zip_storage_too_big"),
        f"sd_cpu.pt content with 8 extra bytes in data/0", "zip")
    add("zip_storage_record_absent.pt", zip_with(with_pkl(dict(recs)["data.pkl"], drop=("data/3",)),
                                                 root="zip_storage_record_absent"),
        "sd_cpu.pt content without the data/3 record", "zip")
    add("zip_no_version.pt", zip_with(with_pkl(dict(recs)["data.pkl"], drop=("version",)), root="zip_no_version"),
        "sd_cpu.pt content without the version record", "zip")
    add("zip_stray_entry.pt", _stray(recs),
        "a valid archive plus one entry outside the root folder (other/x)", "zip")
    exp = [None]
    for _ in range(100):
        exp = [exp, exp]
    add("zip_exponential.pt", small_zip(torch_pickle({"w": Tensor(Storage(zpid()), 0, (3, 4), (4, 1)), "tree": exp}),
                                        "zip_exponential"),
        "a checkpoint whose data.pkl also holds the 2**100-path [a, a] structure", "zip")
    cyc = []
    cyc.append(cyc)
    add("zip_cycle.pt", small_zip(torch_pickle({"w": Tensor(Storage(zpid()), 0, (3, 4), (4, 1)), "loop": cyc}), "zip_cycle"),
        "a checkpoint whose data.pkl holds a list containing itself", "zip")

    z64, e = eocd_offsets(base)
    b = bytearray(base)
    struct.pack_into("<I", b, e + 16, n + 1000)  # EOCD: CD offset
    struct.pack_into("<Q", b, z64 + 48, n + 1000)  # zip64 EOCD: CD offset
    add("zip_cd_outside.pt", bytes(b), "sd_cpu.pt with the central-directory offset (EOCD and zip64 EOCD) pointing 1000 bytes past EOF",
        "zip")
    b = bytearray(base)
    struct.pack_into("<Q", b, z64 + 24, 2**62)  # entries on this disk
    struct.pack_into("<Q", b, z64 + 32, 2**62)  # total entries
    struct.pack_into("<Q", b, z64 + 40, 2**62)  # CD size
    struct.pack_into("<HH", b, e + 8, 0xFFFF, 0xFFFF)
    struct.pack_into("<I", b, e + 12, 0xFFFFFFFF)
    add("zip64_absurd_counts.pt", bytes(b), "sd_cpu.pt with zip64 EOCD entry counts and CD size = 2**62 (EOCD says 0xFFFF / 0xFFFFFFFF)",
        "zip")
    b = bytearray(base)
    struct.pack_into("<Q", b, z64 + 40, 2**40)
    add("zip64_cd_size_huge.pt", bytes(b), "sd_cpu.pt with only the zip64 CD size set to 1 TiB", "zip")
    b = bytearray(base)
    lh = info.header_offset  # local header of data.pkl: claim a huge extra field
    struct.pack_into("<H", b, lh + 28, 0xFFFF)
    add("zip_local_extra_huge.pt", bytes(b), "sd_cpu.pt whose data.pkl local header claims a 65535-byte extra field "
        "(the data start computed from the local header lands elsewhere)", "zip")


def _stray(recs):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for nm, d in recs:
            zi = zipfile.ZipInfo(f"zip_stray_entry/{nm}", date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(zi, d)
        z.writestr(zipfile.ZipInfo("other/x", date_time=(1980, 1, 1, 0, 0, 0)), b"stray")
    return buf.getvalue()


def legacy_file(tensors, keys, *, extra_storage=None):
    """tensors: {name: (key, numel, values)}; keys: the keys list written after the main pickle."""
    out = io.BytesIO()
    pickle.dump(0x1950A86A20F9469CFC6C, out, protocol=2)
    pickle.dump(1001, out, protocol=2)
    pickle.dump({"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 8}},
                out, protocol=2)
    obj = OrderedDict()
    data = {}
    for name, (key, numel, values) in tensors.items():
        obj[name] = Tensor(Storage(("storage", FloatStorage, key, "cpu", numel, None)), 0, (numel,), (1,))
        data[key] = (numel, struct.pack(f"<{numel}f", *values))
    PidPickler(out, protocol=2).dump(obj)
    pickle.dump(keys, out, protocol=2)
    if extra_storage:
        data.update(extra_storage)
    for k in keys:
        numel, raw = data[k]
        out.write(struct.pack("<q", numel) + raw)
    return out.getvalue()


def make_legacy():
    t = {"a": ("140001", 4, [1, 2, 3, 4]), "b": ("140002", 3, [5, 6, 7])}
    ok = legacy_file(t, ["140001", "140002"])
    assert ok.startswith(bytes.fromhex("80028a0a6cfc9c46f9206aa850192e"))
    add("legacy_valid.pt", ok, "baseline: a valid hand-built legacy file {'a': 4 floats, 'b': 3 floats} (torch loads it)", "legacy")
    add("legacy_truncated_in_storage.pt", ok[:-6], "legacy_valid.pt cut 6 bytes before the end (inside storage '140002')", "legacy")
    add("legacy_truncated_in_header.pt", ok[:len(ok) - 12 - 8 + 3], "legacy_valid.pt cut inside the numel header of the last storage",
        "legacy")
    add("legacy_truncated_in_pickle.pt", ok[:60], "legacy_valid.pt cut inside the sys_info pickle", "legacy")
    ghost = legacy_file(t, ["140001", "140002", "999999"], extra_storage={"999999": (2, struct.pack("<2f", 8, 9))})
    add("legacy_unreferenced_key.pt", ghost, "legacy file whose keys list names '999999', which no pid references "
        "(its numel header and bytes are present)", "legacy")
    missing = legacy_file(t, ["140001"])
    add("legacy_key_missing.pt", missing, "legacy file whose keys list omits '140002' (referenced by tensor 'b'); "
        "its bytes are absent too", "legacy")
    bad_numel = bytearray(ok)
    pos = len(ok) - (8 + 12)  # numel header of the last storage
    struct.pack_into("<q", bad_numel, pos, 2**40)
    add("legacy_numel_header_huge.pt", bytes(bad_numel), "legacy_valid.pt with the last storage's numel header = 2**40", "legacy")
    bad_magic = bytearray(ok)
    bad_magic[5] ^= 0x01
    add("legacy_bad_magic.pt", bytes(bad_magic), "legacy_valid.pt with one bit of the magic number flipped", "legacy")


# ---------------------------------------------------------------------------------------------
# checks (child processes with limits)

PICKLE_CHECK = r"""
import io, pickle, sys, resource
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
sys.setrecursionlimit(10000)
class Inert:
    def __init__(self, *a, **k): pass
    def __setstate__(self, s): pass
    def __call__(self, *a, **k): return Inert()
    def append(self, v): pass
    def __setitem__(self, k, v): pass
def standin(mod, name):
    return type("StandIn", (Inert,), {})
class C(pickle.Unpickler):
    def find_class(self, m, n): return standin(m, n)
    def persistent_load(self, pid): return Inert()
class P(pickle._Unpickler):
    def find_class(self, m, n): return standin(m, n)
    def persistent_load(self, pid): return Inert()
U = C if sys.argv[1] == "c" else P
data = open(sys.argv[2], "rb").read()
try:
    U(io.BytesIO(data), encoding="latin1").load()
    print("ok")
except BaseException as e:
    print(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
"""

TORCH_CHECK = r"""
import resource, sys, warnings
resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
warnings.simplefilter("ignore")
import torch
try:
    # weights_only=True (the default): no code runs. argv[2] == "plain": no map_location.
    if sys.argv[2:] == ["plain"]:
        torch.load(sys.argv[1])
    else:
        torch.load(sys.argv[1], map_location="cpu")
    print("ok")
except BaseException as e:
    t = type(e)
    name = t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
    print(f"{name}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}")
"""

ZIP_CHECK = r"""
import sys, zipfile
try:
    z = zipfile.ZipFile(sys.argv[1])
    for n in z.namelist():
        z.read(n)
    print("ok")
except BaseException as e:
    print(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
"""


def run(cmd, timeout):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
        lines = r.stdout.strip().splitlines()
        if lines:
            return lines[-1]
        err = r.stderr.strip().splitlines()
        return f"child died (exit {r.returncode}): {err[-1] if err else ''}"
    except subprocess.TimeoutExpired:
        return f"timeout after {timeout} s"


def check_all(torch_python):
    tmp = tempfile.mkdtemp(prefix="ptview-hostile-")
    try:
        for e in ENTRIES:
            if e["file"] is None:
                p = os.path.join(tmp, e["name"] + ".pkl")
                with open(p, "wb") as f:
                    f.write(assemble(e["recipe"]))
            else:
                p = path(e["file"])
            if e["kind"] == "pickle":
                e["cpython_c"] = run([sys.executable, "-c", PICKLE_CHECK, "c", p], 60)
                e["cpython_py"] = run([sys.executable, "-c", PICKLE_CHECK, "py", p], 120)
            if e["kind"] == "zip":
                e["python_zipfile"] = run([sys.executable, "-c", ZIP_CHECK, p], 60)
            if torch_python and e["kind"] in ("zip", "legacy"):
                e["torch_load"] = run([torch_python, "-c", TORCH_CHECK, p], 120)
                e["torch_load_plain"] = run([torch_python, "-c", TORCH_CHECK, p, "plain"], 120)
    finally:
        shutil.rmtree(tmp)


def main():
    ap = argparse.ArgumentParser(description="write Tests/Fixtures/hostile/")
    ap.add_argument("--torch-python", help="a python with torch, to record what torch.load (weights_only=True) does")
    ap.add_argument("--no-checks", action="store_true", help="skip the CPython / zipfile / torch checks")
    args = ap.parse_args()
    if not os.path.exists(BASE_ZIP):
        raise SystemExit(f"{BASE_ZIP} is missing: run Scripts/make_fixtures.py first")
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    make_pickles()
    make_zips()
    make_legacy()
    if not args.no_checks:
        check_all(args.torch_python)
    manifest = OrderedDict(
        generator="Scripts/make_hostile.py",
        python=sys.version.split()[0],
        checks="cpython_c / cpython_py: C and pure-Python pickle.Unpickler with inert stand-ins for every global "
               "(nothing from the file runs), 2 GiB address-space limit; python_zipfile: zipfile opens the archive "
               "and reads every record; torch_load: torch.load(f, map_location='cpu') with weights_only=True, "
               "8 GiB address-space limit; torch_load_plain: a plain torch.load(f) on a CPU-only machine (only when --torch-python is given). Entries with \"file\": null are "
               "recipes: concatenate bytes.fromhex(part['hex']) * part.get('repeat', 1) and check sha256.",
        entries=ENTRIES)
    with open(path("manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(path(n)) for n in os.listdir(OUT))
    print(f"{len(ENTRIES)} entries, {len(os.listdir(OUT))} files, {total} bytes in {os.path.relpath(OUT, REPO)}")


if __name__ == "__main__":
    main()
