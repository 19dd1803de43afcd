"""Shared helpers for Scripts/make_fixtures.py and examples/make_example.py (run with the torch venv).

* ``save_as``: torch.save with fake storage locations (torch-format.md section 7 recipe):
  a tagger registered before torch's own ``cpu`` tagger returns the location we want.
* ``scan_pids`` / ``rewrite_locations``: an opcode-level walk of a protocol-2 pickle that
  finds each persistent id's fields and rewrites the location field (torch-format.md 5.4).
  Used to fake GPU locations in TorchScript archives, where ``register_package`` has no effect.
* ``rezip``: rewrite an archive's records with ``torch._C.PyTorchFileWriter``.
"""

from __future__ import annotations

import os
import pickletools
import struct
import zipfile

import torch

# --------------------------------------------------------------------------------------------
# fake locations

_LOC = {"fn": None}


def _fake_tag(storage):
    fn = _LOC["fn"]
    if fn is None or storage.device.type != "cpu":
        return None
    loc = fn(storage)
    return loc  # None -> torch's own taggers run (cpu -> the shared constant 'cpu')


torch.serialization.register_package(-100, _fake_tag, lambda storage, location: None)


def fresh(s: str) -> str:
    """A new str object equal to s (no memo sharing, like real CUDA saves)."""
    return (s + ".")[:-1]


def save_as(obj, path, location=None, *, per_storage=None, shared=False, **kw):
    """torch.save(obj, path, **kw) with storages tagged ``location``.

    location=None: torch's own tags (cpu).  per_storage: a function storage -> location or
    None (None = torch's own tag).  shared=True: return ONE str object for every storage, so
    the pickler memoizes it (BINGET) instead of writing a fresh BINUNICODE each time.
    """
    if per_storage is not None:
        fn = lambda st: (None if (l := per_storage(st)) is None else fresh(l))  # noqa: E731
    elif location is None:
        fn = None
    elif shared:
        one = fresh(location)
        fn = lambda st: one  # noqa: E731
    else:
        fn = lambda st: fresh(location)  # noqa: E731
    _LOC["fn"] = fn
    try:
        torch.save(obj, path, **kw)
    finally:
        _LOC["fn"] = None


# --------------------------------------------------------------------------------------------
# opcode-level pickle walk


class _Item:
    __slots__ = ("op", "via", "children")

    def __init__(self, op, via, children=None):
        self.op = op  # index of the op that defined the value (a GET resolves to the PUT's value)
        self.via = via  # index of the op that pushed this stack entry
        self.children = children


_MARK = object()


def _simulate(data: bytes):
    """Return (ops, pids): ops = [(opcode, arg, pos, end)], pids = [[field items]]."""
    raw = list(pickletools.genops(data))
    ops = []
    for i, (op, arg, pos) in enumerate(raw):
        end = raw[i + 1][2] if i + 1 < len(raw) else len(data)
        ops.append((op, arg, pos, end))
    stack, memo, pids = [], {}, []
    for i, (op, arg, pos, end) in enumerate(ops):
        name = op.name
        if name == "MARK":
            stack.append(_MARK)
            continue
        if name in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[int(arg)] = stack[-1]
            continue
        if name == "MEMOIZE":
            memo[len(memo)] = stack[-1]
            continue
        if name in ("BINGET", "LONG_BINGET", "GET"):
            src = memo[int(arg)]
            stack.append(_Item(src.op, i, src.children))
            continue
        if name in ("BINPERSID", "PERSID"):
            if name == "BINPERSID":
                pid = stack.pop()
                pids.append((i, pid.children))
            else:
                pids.append((i, None))
            stack.append(_Item(i, i))
            continue
        if name == "STOP":
            break
        before, after = op.stack_before, op.stack_after
        children = None
        if pickletools.markobject in before:
            k = before.index(pickletools.markobject)
            sl = []
            while stack[-1] is not _MARK:
                sl.append(stack.pop())
            stack.pop()
            sl.reverse()
            children = sl
            for _ in range(k):
                stack.pop()
        else:
            n = len(before)
            if n:
                children = stack[-n:]
                del stack[-n:]
        for _ in after:
            stack.append(_Item(i, i, children if name.startswith("TUPLE") else None))
    return ops, pids


def scan_pids(data: bytes):
    """Each BINPERSID pid of a protocol-2 pickle as a dict of its resolved literal fields."""
    ops, pids = _simulate(data)
    out = []
    for at, fields in pids:
        if fields is None:
            out.append({"op": at, "fields": None})
            continue
        vals = []
        for f in fields:
            op, arg, _, _ = ops[f.op]
            vals.append(arg if op.name not in ("EMPTY_TUPLE",) else ())
        out.append({"op": at, "fields": vals, "items": fields})
    return out


def _binunicode(s: str) -> bytes:
    b = s.encode("utf-8")
    return b"X" + struct.pack("<I", len(b)) + b


def rewrite_locations(data: bytes, mapping) -> bytes:
    """Rewrite the location field of every storage pid.

    mapping: old location -> new location (a dict, or a callable).  Literal location strings
    are replaced in place (so a memoized slot now holds the new string); a location written
    as BINGET follows the literal it refers to.  Refuses (raises) when a rewritten memo slot
    is also read by code that is not a pid location (the torch-format 10.1 trap), because
    this simple rewriter does not move memo definitions.
    """
    if isinstance(mapping, dict):
        m = dict(mapping)
        mapping = lambda loc: m.get(loc, loc)  # noqa: E731
    ops, pids = _simulate(data)
    literal_new = {}
    location_vias = set()
    for _, fields in pids:
        if not fields or len(fields) < 4:
            continue
        f = fields[3]
        op, arg, _, _ = ops[f.op]
        if op.name not in ("BINUNICODE", "SHORT_BINUNICODE", "SHORT_BINSTRING", "BINSTRING"):
            raise ValueError(f"location is not a string literal: {op.name}")
        loc = arg.decode("ascii") if isinstance(arg, bytes) else arg
        new = mapping(loc)
        location_vias.add(f.via)
        if new != loc:
            literal_new[f.op] = new
    if not literal_new:
        return data
    # trap check: every push of a rewritten literal must be a pid location
    stack_pushes = _all_pushes(ops)
    for via, op_index in stack_pushes:
        if op_index in literal_new and via not in location_vias:
            raise ValueError("a rewritten location literal is shared with a non-location value")
    out = bytearray()
    for i, (op, arg, pos, end) in enumerate(ops):
        if i in literal_new:
            out += _binunicode(literal_new[i])
        else:
            out += data[pos:end]
    out += data[ops[-1][3]:] if ops else b""
    return bytes(out)


def _all_pushes(ops):
    """(via, defining op) for every string pushed directly or through a GET."""
    memo_src, pushes, last = {}, [], None
    for i, (op, arg, pos, end) in enumerate(ops):
        n = op.name
        if n in ("BINUNICODE", "SHORT_BINUNICODE", "SHORT_BINSTRING", "BINSTRING", "UNICODE", "STRING"):
            pushes.append((i, i))
            last = i
        elif n in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo_src[int(arg)] = last
        elif n == "MEMOIZE":
            memo_src[len(memo_src)] = last
        elif n in ("BINGET", "LONG_BINGET", "GET"):
            src = memo_src.get(int(arg))
            pushes.append((i, src))
            last = src
        else:
            last = None
    return pushes


# --------------------------------------------------------------------------------------------
# archives


def zip_records(path):
    """[(name relative to the root, bytes)] in archive order, and the root name."""
    names = zipfile.ZipFile(path).namelist()  # archive order; contents through torch's reader,
    root = names[0].split("/", 1)[0]  # which (unlike zipfile.read) does not insist on CRCs
    reader = torch._C.PyTorchFileReader(path)
    return root, [(n.split("/", 1)[1], bytes(reader.get_record(n.split("/", 1)[1]))) for n in names]


def rezip(records, dst, *, storage_alignment=64, compute_crc32=True):
    """Write records [(name, bytes)] to dst with PyTorchFileWriter (root = basename of dst minus ext)."""
    if os.path.exists(dst):
        os.remove(dst)
    w = torch._C.PyTorchFileWriter(dst, compute_crc32, storage_alignment)
    for name, data in records:
        if name == ".data/serialization_id":
            continue  # the writer makes its own
        w.write_record(name, data, len(data))
    w.write_end_of_file()
    del w


def pickle_records(names):
    """The pickles of a TorchScript archive whose storage locations matter (not .debug_pkl)."""
    return [n for n in names if n.endswith(".pkl") and not n.endswith(".debug_pkl")]
