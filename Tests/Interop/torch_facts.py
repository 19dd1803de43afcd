"""What real PyTorch says is inside a checkpoint, in ptview's ``ls --json`` shape.

Run with the venv that has torch (``/root/.cache/ptview/venv/bin/python``).

    from torch_facts import facts
    entries = facts("Tests/Fixtures/torch/sd_cuda0.pt")

``facts(path)`` returns a list of dicts, one per tensor *path* (a tied tensor
reachable under two keys appears twice), in the order torch's unpickler
finished building each tensor (ties broken by walk order).  Each dict has the
fields of design.md section 3:

    path, key, dtype, shape, stride, offset, device, storage, nbytes, requires_grad

plus, only where they apply:

    layout    torch's layout name ("strided", "sparse_coo", "sparse_csr", ...) for
              tensors that are not plain strided tensors (see ``kind``)
    kind      how torch rebuilt it when it is not a plain ``_rebuild_tensor*``:
              "quantized", "sparse", "nested", "meta" (real meta tensor, no storage),
              "subclass" (``_rebuild_from_type_v2``), "wrapper_subclass",
              "device_from_cpu" (``_rebuild_device_tensor_from_cpu_tensor``)
    storages  the component storages such a tensor is built from: a list of
              {"role", "storage", "device", "dtype", "shape", "stride", "offset", "nbytes"}
    optional  true for tensors a ptview listing MAY show but need not: module
              tensors outside ``state_dict()`` (non-persistent buffers) and
              TorchScript constants (path ["CONSTANTS", "c<i>"])

How the facts are obtained (nothing here parses the container itself):

* zip / legacy / tar files: ``torch.load(path, weights_only=False,
  map_location=<recorder>, pickle_module=<recorder module>)``.  The recorder
  ``map_location`` callable records the location string torch passes for each
  storage and returns the storage unchanged.  The recorder pickle module's
  Unpickler wraps the ``persistent_load`` torch installs, so each storage torch
  returns is mapped (by its StorageImpl address, ``_cdata``, which also
  separates 0-byte storages) to its key and location.  ``find_class`` wraps
  torch's ``_rebuild_*`` functions to learn the finishing order and the
  components of sparse / quantized / nested / ... tensors.
  NOTE: this executes the pickle (weights_only=False): only use it on trusted
  files (our own fixtures).
* TorchScript: ``torch.jit.load(path, map_location="cpu")`` gives the
  ``state_dict()`` keys, dtypes, shapes, strides, offsets and requires_grad;
  the storage record and saved location of each tensor come from unpickling
  ``data.pkl`` / ``constants.pkl`` with CPython's Unpickler, torch's own
  rebuild functions and a ``persistent_load`` that reads the records through
  ``torch._C.PyTorchFileReader``; every tensor matched that way is checked to
  be equal (metadata and bytes) to the one ``torch.jit.load`` produced.

Comparing with ``ptview ls --json``: index both lists by ``key`` (keys are
unique per file except for deliberately duplicated paths, which carry the same
facts), compare the common fields, and allow keys with ``"optional": true`` to
be missing from ptview's output.  ``compare(expected, actual)`` does exactly
that and returns a list of human-readable differences.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import sys
import types
import warnings
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCRIPTS = os.path.join(REPO, "Scripts")
if SCRIPTS not in sys.path:  # whole-model fixtures pickle classes from Scripts/fixture_models.py
    sys.path.insert(0, SCRIPTS)

FIELDS = ["path", "key", "dtype", "shape", "stride", "offset", "device", "storage", "nbytes", "requires_grad"]
LEGACY_MAGIC = bytes.fromhex("80028a0a6cfc9c46f9206aa850192e")

# ---------------------------------------------------------------------------------------------
# small helpers


def dtype_name(dt) -> str:
    s = str(dt)
    return s[len("torch."):] if s.startswith("torch.") else s


def layout_name(lay) -> str:
    s = str(lay)
    return s[len("torch."):] if s.startswith("torch.") else s


_PACKED_BITS = {}
for _n, _b in (("quint4x2", 4), ("quint2x4", 2)):
    if hasattr(torch, _n):
        _PACKED_BITS[getattr(torch, _n)] = _b


def tensor_nbytes(t) -> int:
    """The tensor's own element count x element size; packed dtypes count bytes."""
    n = t.numel()
    bits = _PACKED_BITS.get(t.dtype)
    if bits is not None:
        return (n * bits + 7) // 8
    # float4_e2m1fn_x2 and bits* have element_size 1 and one element per byte already.
    return n * t.element_size()


def container_kind(path: str) -> str:
    """zip / torchscript / pt2 / legacy / tar / safetensors / dcp / index / unknown."""
    if os.path.isdir(path):
        return "dcp" if os.path.exists(os.path.join(path, ".metadata")) else "unknown"
    if path.endswith(".index.json"):
        return "index"
    with open(path, "rb") as f:
        head = f.read(512)
    if head[:4] == b"PK\x03\x04":
        names = zipfile.ZipFile(path).namelist()
        short = {n.split("/", 1)[1] if "/" in n else n for n in names}
        if "constants.pkl" in short:
            return "torchscript"
        if "data.pkl" in short:
            return "zip"
        if "archive_format" in short:
            return "pt2"
        return "zip-other"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if head.startswith(LEGACY_MAGIC) or (head[:1] == b"\x80" and LEGACY_MAGIC[2:12] in head[:32]):
        return "legacy"
    if len(head) >= 9 and head[8:9] == b"{":
        return "safetensors"
    return "unknown"


# ---------------------------------------------------------------------------------------------
# recorder used for torch.load


class _Recorder:
    def __init__(self, kind: str, record_dir: str = "data"):
        self.kind = kind  # zip / legacy / tar / torchscript
        self.record_dir = record_dir
        self.loc_by_cdata: dict[int, str] = {}
        self.storage_info: dict[int, dict] = {}  # StorageImpl address -> {"record", "location"}
        self.keep: list = []  # keeps storages alive so addresses are never reused
        self.finish: dict[int, int] = {}  # id(obj) -> finishing index (last wins)
        self.special: dict[int, dict] = {}  # id(result) -> {"kind", "components", "device"?}
        self.counter = 0
        self.pending_tar_args = None

    # -- map_location callable -------------------------------------------------------------
    def map_location(self, storage, location):
        self.loc_by_cdata[storage._cdata] = location
        if self.kind == "tar" and self.pending_tar_args is not None:
            key, loc, _stype = self.pending_tar_args
            self._note_storage(storage, str(key), location)
            self.pending_tar_args = None
        self.keep.append(storage)
        return storage

    def _note_storage(self, untyped, record, location):
        cd = untyped._cdata
        old = self.storage_info.get(cd)
        if old is not None and (old["record"], old["location"]) != (record, location):
            raise AssertionError(f"storage {cd} seen as {old} and as {(record, location)}")
        self.storage_info[cd] = {"record": record, "location": location}
        self.keep.append(untyped)

    # -- persistent_load wrapper -----------------------------------------------------------
    def wrap_persistent_load(self, func):
        def persistent_load(pid):
            result = func(pid)
            if isinstance(pid, tuple) and len(pid) >= 5:
                tag = pid[0].decode("ascii") if isinstance(pid[0], bytes) else pid[0]
                if tag == "storage":
                    key = pid[2].decode("ascii") if isinstance(pid[2], bytes) else str(pid[2])
                    pid_loc = pid[3].decode("ascii") if isinstance(pid[3], bytes) else pid[3]
                    untyped = result._untyped_storage if isinstance(result, torch.storage.TypedStorage) else result
                    loc = self.loc_by_cdata.get(untyped._cdata, pid_loc)
                    if loc != pid_loc:
                        raise AssertionError(f"map_location saw {loc!r} but the pid says {pid_loc!r}")
                    record = f"{self.record_dir}/{key}" if self.kind in ("zip", "torchscript") else key
                    self._note_storage(untyped, record, loc)
            return result

        return persistent_load

    # -- rebuild-function wrappers -----------------------------------------------------------
    def _finished(self, obj):
        self.finish[id(obj)] = self.counter
        self.counter += 1
        self.keep.append(obj)
        return obj

    def wrap_global(self, mod, name, obj):
        full = f"{mod}.{name}"
        rec = self
        if full in ("torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
                    "torch._utils._rebuild_tensor_v3", "torch._utils._rebuild_parameter",
                    "torch._utils._rebuild_parameter_with_state"):
            def f(*a, **k):
                return rec._finished(obj(*a, **k))
        elif full == "torch._utils._rebuild_qtensor":
            def f(storage, offset, size, stride, qparams, *rest):
                r = obj(storage, offset, size, stride, qparams, *rest)
                comps = [("data", r)]
                if qparams[0] in (torch.per_channel_affine, torch.per_channel_affine_float_qparams):
                    comps += [("scales", qparams[1]), ("zero_points", qparams[2])]
                rec.special[id(r)] = {"kind": "quantized", "components": comps}
                return rec._finished(r)
        elif full == "torch._utils._rebuild_sparse_tensor":
            def f(layout, data):
                r = obj(layout, data)
                if layout == torch.sparse_coo:
                    comps = [("indices", data[0]), ("values", data[1])]
                else:
                    names = {torch.sparse_csr: ("crow_indices", "col_indices"),
                             torch.sparse_bsr: ("crow_indices", "col_indices"),
                             torch.sparse_csc: ("ccol_indices", "row_indices"),
                             torch.sparse_bsc: ("ccol_indices", "row_indices")}[layout]
                    comps = [(names[0], data[0]), (names[1], data[1]), ("values", data[2])]
                rec.special[id(r)] = {"kind": "sparse", "components": comps}
                return rec._finished(r)
        elif full == "torch._utils._rebuild_nested_tensor":
            def f(buffer, sizes, strides, offsets):
                r = obj(buffer, sizes, strides, offsets)
                comps = [("buffer", buffer), ("sizes", sizes), ("strides", strides), ("offsets", offsets)]
                rec.special[id(r)] = {"kind": "nested", "components": comps}
                return rec._finished(r)
        elif full == "torch._utils._rebuild_meta_tensor_no_storage":
            def f(*a):
                r = obj(*a)
                rec.special[id(r)] = {"kind": "meta", "components": []}
                return rec._finished(r)
        elif full in ("torch._utils._rebuild_device_tensor_from_cpu_tensor",
                      "torch._utils._rebuild_device_tensor_from_numpy"):
            def f(data, dtype, device, requires_grad):
                # torch refuses a callable map_location here; record the saved device
                # string and rebuild on the CPU instead.
                tls = torch.serialization._serialization_tls
                saved, tls.map_location = tls.map_location, None
                try:
                    r = obj(data, dtype, "cpu", requires_grad)
                finally:
                    tls.map_location = saved
                comps = [("data", data)] if isinstance(data, torch.Tensor) else []
                rec.special[id(r)] = {"kind": "device_from_cpu", "components": comps, "device": str(device)}
                return rec._finished(r)
        elif full == "torch._utils._rebuild_wrapper_subclass":
            def f(cls, dtype, size, stride, storage_offset, layout, device, requires_grad):
                tls = torch.serialization._serialization_tls
                saved, tls.map_location = tls.map_location, None
                try:
                    r = obj(cls, dtype, size, stride, storage_offset, layout, device, requires_grad)
                finally:
                    tls.map_location = saved
                rec.special[id(r)] = {"kind": "wrapper_subclass", "components": [], "device": str(device)}
                return rec._finished(r)
        elif full == "torch._tensor._rebuild_from_type_v2":
            def f(func, new_type, args, state):
                r = obj(func, new_type, args, state)
                if type(r) is not torch.Tensor and type(r) is not torch.nn.Parameter:
                    # the inner function (a wrapped global too) may have registered the
                    # tensor it built as special; carry that kind over to the subclass
                    prev = rec._last_special_for(r)
                    info = dict(prev) if prev else {"kind": "subclass", "components": []}
                    info["subclass"] = f"{type(r).__module__}.{type(r).__qualname__}"
                    rec.special[id(r)] = info
                return rec._finished(r)
        else:
            return obj
        f.__name__ = name
        return f

    def _last_special_for(self, r):
        # _rebuild_from_type_v2 calls func(*args) then maybe as_subclass: the special info, if
        # any, was registered for the object func returned (the most recent one).
        if not self.special:
            return None
        last_id = next(reversed(self.special))
        info = self.special[last_id]
        if info["kind"] in ("meta", "wrapper_subclass", "device_from_cpu", "quantized", "sparse", "nested"):
            # only accept it if it was the last thing finished
            if self.finish.get(last_id) == self.counter - 1:
                return info
        return None

    # -- a pickle_module for torch.load ------------------------------------------------------
    def pickle_module(self):
        rec = self

        class Unpickler(pickle.Unpickler):
            @property
            def persistent_load(self):  # noqa: D401 - property used to intercept torch's assignment
                return pickle.Unpickler.persistent_load.__get__(self)

            @persistent_load.setter
            def persistent_load(self, func):
                pickle.Unpickler.persistent_load.__set__(self, rec.wrap_persistent_load(func))

            def find_class(self, mod, name):
                return rec.wrap_global(mod, name, super().find_class(mod, name))

        def load(f, **kw):
            obj = pickle.load(f, **kw)
            if rec.kind == "tar" and isinstance(obj, tuple) and len(obj) == 3 and isinstance(obj[1], str):
                rec.pending_tar_args = obj  # (key, location, storage_type) of the next storage
            return obj

        m = types.ModuleType("ptview_recording_pickle")
        m.Unpickler = Unpickler
        m.Pickler = pickle.Pickler
        m.load = load
        m.dump = pickle.dump
        m.loads = pickle.loads
        m.dumps = pickle.dumps
        m.UnpicklingError = pickle.UnpicklingError
        m.__version__ = "ptview"
        return m

    # -- describing tensors -------------------------------------------------------------------
    def storage_of(self, t):
        try:
            us = t.untyped_storage()
        except Exception:
            return None
        return self.storage_info.get(us._cdata)

    def dense_fields(self, t):
        info = self.storage_of(t)
        try:
            stride = list(t.stride())
        except Exception:
            stride = None
        try:
            offset = t.storage_offset()
        except Exception:
            offset = None
        if t.device.type == "meta":
            device, storage = "meta", None
        elif info is not None:
            device, storage = info["location"], info["record"]
        else:
            device, storage = str(t.device), None
        return {
            "dtype": dtype_name(t.dtype),
            "shape": list(t.shape),
            "stride": stride,
            "offset": offset,
            "device": device,
            "storage": storage,
            "nbytes": tensor_nbytes(t),
            "requires_grad": bool(t.requires_grad),
        }

    def describe(self, t):
        sp = self.special.get(id(t))
        if sp is None:
            if type(t) not in (torch.Tensor, torch.nn.Parameter) and not t.is_sparse and not t.is_nested:
                # a subclass that was not built by a wrapped function (should not happen)
                sp = {"kind": "subclass", "components": []}
            else:
                return self.dense_fields(t)
        kind = sp["kind"]
        comps = []
        for role, ct in sp["components"]:
            c = {"role": role}
            c.update(self.dense_fields(ct))
            del c["requires_grad"]
            comps.append(c)
        e = {}
        if kind in ("sparse", "nested"):
            e["dtype"] = dtype_name(t.dtype)
            e["shape"] = None if kind == "nested" else list(t.shape)
            e["stride"] = None
            e["offset"] = None
            devs = sorted({c["device"] for c in comps})
            e["device"] = devs[0] if len(devs) == 1 else ",".join(devs)
            e["storage"] = None
            e["nbytes"] = sum(c["nbytes"] for c in comps)
            e["requires_grad"] = bool(t.requires_grad)
            if kind == "nested":
                e["nested_sizes"] = [list(x) for x in t._nested_tensor_size().tolist()]
        else:
            e = self.dense_fields(t)
            if kind in ("device_from_cpu", "wrapper_subclass"):
                e["device"] = sp["device"]
                if kind == "device_from_cpu" and comps:
                    e["storage"] = comps[0]["storage"]
                    e["offset"] = comps[0]["offset"]
                if kind == "wrapper_subclass":
                    e["storage"] = None
            if kind == "meta":
                e["device"], e["storage"] = "meta", None
        e["layout"] = "nested" if kind == "nested" else layout_name(t.layout)
        e["kind"] = kind
        if "subclass" in sp:
            e["subclass"] = sp["subclass"]
        if comps:
            e["storages"] = comps
        return e


# ---------------------------------------------------------------------------------------------
# walking the loaded object


def _walk(obj, path, out, active):
    if isinstance(obj, torch.Tensor):
        out.append((path, obj, False))
        return
    if id(obj) in active:
        return
    if isinstance(obj, torch.nn.Module):
        sd = obj.state_dict(keep_vars=True)
        for k, v in sd.items():
            if isinstance(v, torch.Tensor):
                out.append((path + [k], v, False))
        for k, v in obj.named_buffers(remove_duplicate=False):
            if k not in sd and isinstance(v, torch.Tensor):
                out.append((path + [k], v, True))
        return
    active.add(id(obj))
    try:
        if isinstance(obj, dict):
            for k, v in obj.items():
                _walk(v, path + [str(k)], out, active)
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                _walk(v, path + [str(i)], out, active)
        elif hasattr(obj, "__dict__") and not isinstance(obj, (type, types.ModuleType, types.FunctionType)):
            for k, v in vars(obj).items():
                _walk(v, path + [str(k)], out, active)
    finally:
        active.discard(id(obj))


def _entries(rec, found):
    entries = []
    for walk_idx, (path, t, optional) in enumerate(found):
        e = {"path": path, "key": ".".join(path)}
        e.update(rec.describe(t))
        if optional:
            e["optional"] = True
        order = rec.finish.get(id(t), 10**9)
        entries.append((order, walk_idx, e))
    entries.sort(key=lambda x: (x[0], x[1]))
    return [e for _, _, e in entries]


# ---------------------------------------------------------------------------------------------
# public API


def facts(path: str) -> list[dict]:
    """Tensor facts for ``path`` as torch sees them (see the module docstring)."""
    kind = container_kind(path)
    if kind == "torchscript":
        return _facts_torchscript(path)
    if kind not in ("zip", "legacy", "tar"):
        raise ValueError(f"{path}: torch cannot list a {kind} container with torch.load")
    rec = _Recorder(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obj = torch.load(path, weights_only=False, map_location=rec.map_location,
                         pickle_module=rec.pickle_module())
    found = []
    _walk(obj, [], found, set())
    result = _entries(rec, found)
    rec.keep.append(obj)
    return result


# -- TorchScript ---------------------------------------------------------------------------------


class _ScriptObject:
    """Stand-in for a ``__torch__.*`` class: keeps the state dict BUILD gives it."""

    _qualname = "?"

    def __setstate__(self, state):
        self.__dict__["_ts_state"] = state


def _facts_torchscript(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = torch.jit.load(path, map_location="cpu")
    sd = module.state_dict(keep_vars=True)

    reader = torch._C.PyTorchFileReader(path)
    records = set(reader.get_all_records())
    rec = _Recorder("torchscript")
    classes = {}

    def unpickle(record_name, record_dir):
        rec.record_dir = record_dir

        def persistent_load(pid):
            tag, stype, key, location, numel = pid
            dtype = torch.uint8 if stype is torch.UntypedStorage else stype.dtype
            nbytes = numel * torch._utils._element_size(dtype)
            name = f"{record_dir}/{key}"
            if reader.get_record_size(name) >= nbytes:
                us = reader.get_storage_from_record(name, nbytes, torch.UntypedStorage)
                us = us._typed_storage()._untyped_storage
            else:  # e.g. traced_inputs/<k> records can be shorter than the pid says
                us = torch.UntypedStorage(nbytes)
            return torch.storage.TypedStorage(wrap_storage=us, dtype=dtype, _internal=True)

        class U(pickle.Unpickler):
            def find_class(self, mod, name):
                if mod.startswith("__torch__"):
                    k = (mod, name)
                    if k not in classes:
                        classes[k] = type(name, (_ScriptObject,), {"_qualname": f"{mod}.{name}"})
                    return classes[k]
                if "Storage" in name:
                    try:
                        return torch.serialization.StorageType(name)
                    except KeyError:
                        pass
                if mod == "torch.jit._pickle" or mod.startswith("torch") or mod in ("collections", "builtins"):
                    return rec.wrap_global(mod, name, super().find_class(mod, name))
                raise pickle.UnpicklingError(f"unexpected global {mod}.{name}")

        u = U(io.BytesIO(reader.get_record(record_name)))
        u.persistent_load = rec.wrap_persistent_load(persistent_load)
        return u.load()

    root = unpickle("data.pkl", "data")
    consts = unpickle("constants.pkl", "constants") if "constants.pkl" in records else ()

    def attr(obj, name):
        if isinstance(obj, _ScriptObject):
            return obj.__dict__["_ts_state"][name]
        raise KeyError(name)

    found = []
    for k, jt in sd.items():
        cur = root
        for part in k.split("."):
            cur = attr(cur, part)
        if not isinstance(cur, torch.Tensor):
            raise AssertionError(f"{path}: state_dict key {k} is not a tensor in data.pkl")
        _check_same(path, k, jt, cur)
        found.append(([k], cur, False, jt))
    for i, ct in enumerate(consts if isinstance(consts, tuple) else ()):
        if isinstance(ct, torch.Tensor):
            found.append((["CONSTANTS", f"c{i}"], ct, True, ct))

    entries = []
    for walk_idx, (p, t, optional, jt) in enumerate(found):
        e = {"path": p, "key": ".".join(p)}
        e.update(rec.dense_fields(t))
        e["requires_grad"] = bool(jt.requires_grad)
        if optional:
            e["optional"] = True
        # constants come from a second pickle: order them after every data.pkl tensor
        order = rec.finish.get(id(t), 10**9) + (10**6 if optional else 0)
        entries.append((order, walk_idx, e))
    entries.sort(key=lambda x: (x[0], x[1]))
    return [e for _, _, e in entries]


def _check_same(path, key, a, b):
    if (a.dtype, tuple(a.shape), tuple(a.stride()), a.storage_offset()) != (
        b.dtype, tuple(b.shape), tuple(b.stride()), b.storage_offset()
    ):
        raise AssertionError(f"{path}: {key}: torch.jit.load and data.pkl disagree on metadata")
    if not torch.equal(a.detach().cpu().contiguous().view(-1).view(torch.uint8) if a.numel() else a.detach(),
                       b.detach().contiguous().view(-1).view(torch.uint8) if b.numel() else b.detach()):
        raise AssertionError(f"{path}: {key}: torch.jit.load and data.pkl disagree on values")


# ---------------------------------------------------------------------------------------------
# comparison helper for the future ptview-vs-torch interop test


def compare(expected: list[dict], actual: list[dict]) -> list[str]:
    """Key-by-key diff of torch facts against ``ptview ls --json`` output."""
    problems = []
    exp = {}
    for e in expected:
        exp.setdefault(e["key"], e)
    act = {}
    for a in actual:
        if a["key"] in act and a != act[a["key"]]:
            problems.append(f"{a['key']}: listed twice with different facts")
        act.setdefault(a["key"], a)
    for k, e in exp.items():
        a = act.get(k)
        if a is None:
            if not e.get("optional"):
                problems.append(f"{k}: missing from ptview")
            continue
        for f in FIELDS + ["layout", "kind", "storages"]:
            if f in e and e[f] != a.get(f):
                problems.append(f"{k}: {f}: torch {e[f]!r} != ptview {a.get(f)!r}")
    for k in act:
        if k not in exp:
            problems.append(f"{k}: listed by ptview but not by torch")
    return problems


def dumps(entries: list[dict]) -> str:
    """The committed ``*.expected.json`` text: one entry per line."""
    if not entries:
        return "[]\n"
    return "[\n" + ",\n".join(json.dumps(e, ensure_ascii=False) for e in entries) + "\n]\n"


if __name__ == "__main__":
    for p in sys.argv[1:]:
        sys.stdout.write(dumps(facts(p)))
