#!/usr/bin/env python3
"""Write the pickle-VM differential corpus under Tests/Fixtures/pickles/ (plain python3, no torch):

    python3 Scripts/make_pickle_corpus.py

* ``<name>.p<N>.pkl``   a value pickled by CPython's C pickler at protocol N (0..5)
* ``<name>.p<N>.json``  its CANONICAL STRUCTURE (format below), obtained by unpickling the bytes
                        with CPython's own unpickler, whose find_class returns symbolic stand-ins
                        and whose persistent_load returns a recorder: CPython's real memo / stack /
                        mark semantics build the graph, and nothing from the file is executed.
* ``asm_<name>.pkl`` + ``.json`` + ``.asm.txt``  hand-assembled pickles for opcodes Python 3's
                        pickler never emits (the .asm.txt lists every opcode with its offset).
* ``concat_two_pickles.pkl`` + ``.json`` (a JSON ARRAY, one canonical value per pickle).
* ``pickletools-opcodes.tsv``  the opcode table from ``pickletools.opcodes``.
* ``*.dis.txt``         ``python3 -m pickletools FILE`` output for a dozen pickles.
* ``manifest.json``     every file, what it holds, what was refused, cross-checks.

Canonical JSON (what the Swift VM must produce for the same bytes):
  {"t":"none"} {"t":"bool","v":true} {"t":"int","v":"-123"} {"t":"float","bits":"<16 hex, big-endian>"}
  {"t":"str","hex":"<utf-8, surrogatepass>"} {"t":"bytes","hex":...} {"t":"bytearray","id":K,"hex":...}
  {"t":"tuple","items":[...]} {"t":"list","id":K,"items":[...]} {"t":"dict","id":K,"items":[[k,v],...]}
  {"t":"set","id":K,"items":[...]} {"t":"frozenset","items":[...]}   (set items sorted by canonical text)
  {"t":"global","module":m,"name":n}   (raw names, no fix_imports mapping)
  {"t":"reduce","id":K,"callable":c,"args":a,"mutations":[...]}
  {"t":"newobj","id":K,"cls":c,"args":a,"mutations":[...]}
  {"t":"newobj_ex","id":K,"cls":c,"args":a,"kwargs":k,"mutations":[...]}
  {"t":"persid","id":K,"pid":p}    {"t":"ref","id":K}
  mutations: {"op":"build","state":s} {"op":"setitem","key":k,"value":v} {"op":"append","value":v}
Ids: list/dict/set/bytearray/reduce/newobj/newobj_ex/persid get 0,1,2,... in depth-first pre-order
of first visit (fields in the order written above); later visits are {"t":"ref","id":K}.
STRING / BINSTRING / SHORT_BINSTRING are decoded as the unpickler does with encoding='latin1'.
"""

from __future__ import annotations

import copyreg
import io
import json
import os
import pickle
import pickletools
import shutil
import struct
import subprocess
import sys
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(REPO, "Tests", "Fixtures", "pickles")
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
sys.setrecursionlimit(100000)

import pickle_corpus_classes as pcc  # noqa: E402

PROTOCOLS = [0, 1, 2, 3, 4, 5]

# =============================================================================================
# the canonicalizer


class Node:
    """Base of every recorded call result: records the mutations the unpickler applies."""

    kind = "?"

    def __init__(self):
        self.mutations = []

    def __setstate__(self, state):  # BUILD
        self.mutations.append(("build", state))

    def __setitem__(self, key, value):  # SETITEM / SETITEMS on a non-dict
        self.mutations.append(("setitem", key, value))

    def append(self, value):  # APPEND / APPENDS on a non-list (no `extend`: CPython then appends one by one)
        self.mutations.append(("append", value))

    def __call__(self, *args):  # a recorded result used as a callable by a later REDUCE
        return ReduceNode(self, args)


class ReduceNode(Node):
    kind = "reduce"

    def __init__(self, func, args):
        super().__init__()
        self.func, self.args = func, args


class NewObjNode(Node):
    kind = "newobj"

    def __init__(self, cls, args, kwargs=None):
        super().__init__()
        self.cls, self.args, self.kwargs = cls, args, kwargs
        if kwargs is not None:
            self.kind = "newobj_ex"


class PersidNode(Node):
    kind = "persid"

    def __init__(self, pid):
        super().__init__()
        self.pid = pid


class StandInMeta(type):
    """Metaclass of global stand-ins: calling the stand-in (REDUCE, INST/OBJ with args) records a reduce."""

    def __call__(cls, *args, **kwargs):
        if kwargs:
            raise TypeError("a stand-in called with keyword arguments")
        return ReduceNode(cls, args)


def _standin_new(cls, *args, **kwargs):
    """``cls.__new__(cls, *args)``: NEWOBJ, and INST/OBJ with empty args (CPython's rule)."""
    return NewObjNode(cls, args, kwargs if kwargs else None)


def make_standin(module, name):
    # a real `type` (NEWOBJ requires one); one new stand-in per find_class call
    return StandInMeta("StandIn", (), {"__new__": _standin_new, "_module": module, "_name": name,
                                        "__module__": "standin"})


def make_ext_standin(code):
    t = make_standin(None, None)
    t._ext = code
    return t


def is_standin(o):
    return isinstance(o, StandInMeta)


class CanonUnpickler(pickle._Unpickler):
    """CPython's pure-Python reference Unpickler (Lib/pickle.py) with symbolic globals.

    The pure-Python one is used (and cross-checked against the C one, see ``canonical_c``)
    because NEWOBJ_EX with empty kwargs cannot be told apart from NEWOBJ through ``__new__``
    alone: only the NEWOBJ_EX handler is overridden here, to record its kwargs dict.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def find_class(self, module, name):  # raw names: no fix_imports mapping, nothing imported
        return make_standin(module, name)

    def persistent_load(self, pid):
        return PersidNode(pid)

    def load_newobj_ex(self):
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        if not isinstance(cls, type) or not isinstance(args, tuple) or not isinstance(kwargs, dict):
            raise pickle.UnpicklingError("NEWOBJ_EX operands of the wrong type")
        self.append(NewObjNode(cls, args, kwargs))

    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex

    def get_extension(self, code):
        # EXT1/EXT2/EXT4: CPython looks the code up in copyreg's extension registry (empty here,
        # and never consulted): record the code symbolically instead.
        self.append(make_ext_standin(code))

    def load_newobj(self):
        # CPython: cls.__new__(cls, *args).  With stand-ins the class can be a recorded call
        # result (protocol 2/3 pickle a nested class as getattr(Outer, 'Inner')); the real
        # unpickler would hold a real class there, so record a newobj of that node.
        args = self.stack.pop()
        cls = self.stack.pop()
        if isinstance(cls, Node):
            if not isinstance(args, tuple):
                raise pickle.UnpicklingError("NEWOBJ args must be a tuple")
            self.append(NewObjNode(cls, args))
        else:
            self.append(cls.__new__(cls, *args))

    dispatch[pickle.NEWOBJ[0]] = load_newobj


class CanonUnpicklerC(pickle.Unpickler):
    """The C unpickler with the same stand-ins (used only for the cross-check)."""

    def find_class(self, module, name):
        return make_standin(module, name)

    def persistent_load(self, pid):
        return PersidNode(pid)


def fbits(x: float) -> str:
    return struct.pack(">d", x).hex()


def canon_text(node) -> str:
    return json.dumps(node, sort_keys=True, separators=(",", ":"))


class Canon:
    def __init__(self):
        self.ids = {}

    def new_id(self, o):
        k = len(self.ids)
        self.ids[id(o)] = (k, o)  # keep o alive so id() is never reused
        return k

    def sorted_items(self, items):
        # sort key: the item's canonical text rendered with a snapshot of the id map (ids the
        # snapshot rendering assigns are thrown away); for immutable items it is context-free.
        keyed = []
        for it in items:
            snap = Canon()
            snap.ids = dict(self.ids)
            keyed.append((canon_text(snap.walk(it)), it))
        keyed.sort(key=lambda kv: kv[0])
        return [it for _, it in keyed]

    def walk(self, o):
        if o is None:
            return {"t": "none"}
        if type(o) is bool:
            return {"t": "bool", "v": o}
        if type(o) is int:
            return {"t": "int", "v": str(o)}
        if type(o) is float:
            return {"t": "float", "bits": fbits(o)}
        if type(o) is str:
            return {"t": "str", "hex": o.encode("utf-8", "surrogatepass").hex()}
        if type(o) is bytes:
            return {"t": "bytes", "hex": o.hex()}
        if type(o) is tuple:
            return {"t": "tuple", "items": [self.walk(x) for x in o]}
        if type(o) is frozenset:
            return {"t": "frozenset", "items": [self.walk(x) for x in self.sorted_items(o)]}
        if is_standin(o):
            if getattr(o, "_ext", None) is not None:
                return {"t": "ext", "code": str(o._ext)}
            return {"t": "global", "module": o._module, "name": o._name}
        if id(o) in self.ids:
            return {"t": "ref", "id": self.ids[id(o)][0]}
        if type(o) is bytearray:
            return {"t": "bytearray", "id": self.new_id(o), "hex": bytes(o).hex()}
        if type(o) is list:
            k = self.new_id(o)
            return {"t": "list", "id": k, "items": [self.walk(x) for x in o]}
        if type(o) is dict:
            k = self.new_id(o)
            items = []
            for kk, vv in o.items():
                ck = self.walk(kk)
                items.append([ck, self.walk(vv)])
            return {"t": "dict", "id": k, "items": items}
        if type(o) is set:
            k = self.new_id(o)
            return {"t": "set", "id": k, "items": [self.walk(x) for x in self.sorted_items(o)]}
        if isinstance(o, ReduceNode):
            k = self.new_id(o)
            d = {"t": "reduce", "id": k}
            d["callable"] = self.walk(o.func)
            d["args"] = self.walk(o.args)
            d["mutations"] = self.mutations(o)
            return d
        if isinstance(o, NewObjNode):
            k = self.new_id(o)
            d = {"t": o.kind, "id": k}
            d["cls"] = self.walk(o.cls)
            d["args"] = self.walk(o.args)
            if o.kind == "newobj_ex":
                d["kwargs"] = self.walk(o.kwargs)
            d["mutations"] = self.mutations(o)
            return d
        if isinstance(o, PersidNode):
            k = self.new_id(o)
            return {"t": "persid", "id": k, "pid": self.walk(o.pid)}
        raise TypeError(f"unexpected object in the unpickled graph: {type(o)}")

    def mutations(self, o):
        out = []
        for m in o.mutations:
            if m[0] == "build":
                out.append({"op": "build", "state": self.walk(m[1])})
            elif m[0] == "setitem":
                kk = self.walk(m[1])
                out.append({"op": "setitem", "key": kk, "value": self.walk(m[2])})
            else:
                out.append({"op": "append", "value": self.walk(m[1])})
        return out


def canonical(data: bytes):
    """Canonical structure of the first pickle in ``data`` (pure-Python CPython unpickler)."""
    return Canon().walk(CanonUnpickler(io.BytesIO(data), encoding="latin1").load())


def canonical_c(data: bytes):
    return Canon().walk(CanonUnpicklerC(io.BytesIO(data), encoding="latin1").load())


def has_newobj_ex(data: bytes) -> bool:
    return any(op.name == "NEWOBJ_EX" for op, _, _ in pickletools.genops(data))


def cross_check(data, can, label):
    """Compare with the C unpickler: True, or why the comparison does not apply."""
    if has_newobj_ex(data):
        return "skipped: NEWOBJ_EX (indistinguishable from NEWOBJ through __new__)"
    try:
        c = canonical_c(data)
    except Exception as e:  # noqa: BLE001
        return f"skipped: the C unpickler refuses the stand-in graph ({type(e).__name__}: {e})"
    if c != can:
        raise AssertionError(f"{label}: C and Python unpicklers disagree")
    return True


def dumps_json(v) -> str:
    return json.dumps(v, separators=(",", ":")) + "\n"


# =============================================================================================
# the values


class PidPickler(pickle.Pickler):
    """Pickles StorageMarker objects through persistent ids, like torch.save does with storages."""

    def persistent_id(self, obj):
        if isinstance(obj, pcc.StorageMarker):
            if obj.key.startswith("str:"):
                return obj.key[4:]  # a plain string pid (tar-era torch)
            return ("storage", pcc.FakeStorage, obj.key, "cpu", obj.numel)
        return None


class PyPidPickler(pickle._Pickler):
    def persistent_id(self, obj):
        return PidPickler.persistent_id(self, obj)


def nested(depth, leaf, wrap):
    v = leaf
    for _ in range(depth):
        v = wrap(v)
    return v


def build_values():
    V = OrderedDict()
    V["none"] = None
    V["bools"] = [True, False]
    V["small_ints"] = [0, 1, -1, 127, 128, 255, 256, 65535, 65536, -129, 2**31 - 1, -(2**31)]
    V["big_ints"] = [2**31, -(2**31) - 1, 2**63, -(2**63), 2**64, 10**30, -(10**30), 2**2039 - 1]
    V["long4_ints"] = [2**2100 + 1, -(2**2100)]  # > 255 bytes: LONG4
    neg_nan = struct.unpack(">d", bytes.fromhex("fff8000000000000"))[0]
    payload_nan = struct.unpack(">d", bytes.fromhex("7ff0000000000001"))[0]
    V["floats"] = [0.0, -0.0, 1.5, -2.25, 0.1, 1e300, 5e-324, 2.2250738585072014e-308, float("inf"), float("-inf"),
                   float("nan"), neg_nan, payload_nan]
    V["strings"] = ["", "a", "hello world", "caf\u00e9", "\u65e5\u672c\u8a9e", "emoji \U0001F600\U0001F389",
                    "ctl \x00\n\r\t\\ \x7f \u0080 \u20ac", "quote ' \" end", "x" * 300]
    V["lone_surrogates"] = ["\ud800", "a\udfffb", "\udbff\udc00 pair written separately"]
    V["bytes"] = [b"", b"\x00\xff", b"abc", bytes(range(256))]
    V["bytearrays"] = [bytearray(b"abc"), bytearray(), bytearray(range(250, 256))]
    V["tuples"] = [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), ((), ((),))]
    V["nested_containers"] = [1, [2, [3, []]], (4, 5), {"a": [6], "b": {"c": (7, [8])}}]
    V["dict_keys"] = {1: "one", -2: "neg", (1, 2): "tuple", "s": "str", None: 0, 2.5: "float", b"k": "bytes",
                      frozenset({1}): "frozenset", (): "empty tuple"}
    V["empty_dict_list"] = [{}, [], ()]
    V["ordered_dict"] = OrderedDict([("b", 1), ("a", 2), ("c", OrderedDict())])
    V["sets"] = [{3, 1, 2}, set(), frozenset({"x", "y"}), frozenset(), {(1, 2), (0,), "s", None, 1.5}]
    shared_list = [1]
    shared_dict = {"k": "v"}
    V["shared_refs"] = [shared_list, shared_list, {"a": shared_list, "b": shared_dict}, shared_dict, (shared_list,)]
    s = "shared string"
    V["shared_immutables"] = [s, s, (1, 2), (1, 2), 10**20, 10**20]
    self_list = []
    self_list.append(self_list)
    V["cycle_list_self"] = self_list
    self_dict = {}
    self_dict["self"] = self_dict
    self_dict["list"] = [self_dict]
    V["cycle_dict"] = self_dict
    inner = []
    rec_tuple = (inner, "payload")
    inner.append(rec_tuple)
    V["cycle_tuple_via_list"] = rec_tuple
    V["deep_lists"] = nested(200, "leaf", lambda v: [v])
    V["deep_tuples"] = nested(200, 0, lambda v: (v,))
    V["deep_dicts"] = nested(100, None, lambda v: {"d": v})
    strs = [f"memo-string-{i:03d}" for i in range(300)]
    V["many_memo"] = [strs, list(strs)]  # the second list repeats 300 memoized strings: LONG_BINGET
    V["instance_plain"] = pcc.Plain(3, "three")
    V["instance_reduce"] = pcc.WithReduce(5)
    V["instance_reduce_ex"] = pcc.WithReduceEx("v")
    V["instance_state"] = pcc.WithState(9)
    V["instance_slots"] = pcc.WithSlots(1, [2])
    V["instance_getnewargs"] = pcc.WithNewArgs(4, "m")
    V["instance_getnewargs_ex"] = pcc.WithNewArgsEx(7, scale=0.5, name="kw")
    V["instance_nested_class"] = pcc.Outer.Inner()
    shared_obj = pcc.Plain([1, 2], None)
    V["instance_shared"] = [shared_obj, shared_obj, {"again": shared_obj}]
    V["globals"] = [pcc.Plain, OrderedDict, len, pcc.Outer.Inner, type(None)]
    V["complex_numbers"] = [complex(1, 2), complex(-0.0, float("inf"))]
    st0, st1 = pcc.StorageMarker("0", 6), pcc.StorageMarker("1", 3)
    V["persistent_ids"] = OrderedDict([
        ("weight", pcc.FakeTensor(st0, (2, 3))),
        ("weight_again", pcc.FakeTensor(st0, (6,))),  # same storage: the pid is written again
        ("bias", pcc.FakeTensor(st1, (3,))),
        ("raw", pcc.StorageMarker("str:tensor_7", 0)),  # a string pid
    ])
    return V


# =============================================================================================
# hand-assembled pickles


def u8(n):
    return struct.pack("<B", n)


def u16(n):
    return struct.pack("<H", n)


def u32(n):
    return struct.pack("<I", n)


def i32(n):
    return struct.pack("<i", n)


def u64(n):
    return struct.pack("<Q", n)


def asm(*parts):
    """parts: (bytes, comment) pairs.  Returns (data, listing)."""
    data, lines, off = b"", [], 0
    for b, comment in parts:
        lines.append(f"{off:6d}  {b.hex(' '):<60s}  {comment}")
        data += b
        off += len(b)
    return data, "\n".join(lines) + "\n"


def frame(payload_parts):
    """FRAME opcode + u64 length covering the given parts; returns a flat parts list."""
    n = sum(len(b) for b, _ in payload_parts)
    return [(b"\x95" + u64(n), f"FRAME {n}")] + payload_parts


GLOBAL_PLAIN = (b"cpickle_corpus_classes\nPlain\n", "GLOBAL 'pickle_corpus_classes Plain'")


def hand_assembled():
    H = OrderedDict()
    H["inst_no_args"] = asm(
        (b"(", "MARK"),
        (b"ipickle_corpus_classes\nPlain\n", "INST 'pickle_corpus_classes Plain' with no args -> newobj, args ()"),
        (b"}", "EMPTY_DICT"), (b"X" + u32(1) + b"a", "BINUNICODE 'a'"), (b"K\x01", "BININT1 1"),
        (b"s", "SETITEM"), (b"b", "BUILD"), (b".", "STOP"))
    H["inst_with_args"] = asm(
        (b"(", "MARK"), (b"I1\n", "INT 1"), (b"S'two'\n", "STRING 'two'"),
        (b"ipickle_corpus_classes\nPlain\n", "INST with 2 args -> reduce(Plain, (1, 'two'))"),
        (b".", "STOP"))
    H["obj_no_args"] = asm(
        (b"(", "MARK"), GLOBAL_PLAIN, (b"o", "OBJ with no args -> newobj, args ()"), (b".", "STOP"))
    H["obj_with_args"] = asm(
        (b"(", "MARK"), GLOBAL_PLAIN, (b"K\x05", "BININT1 5"), (b"N", "NONE"),
        (b"o", "OBJ -> reduce(Plain, (5, None))"), (b".", "STOP"))
    H["persid_text"] = asm(
        (b"(", "MARK"), (b"Ptensor_0\n", "PERSID 'tensor_0' (text pid)"), (b"Ptensor_0\n", "PERSID 'tensor_0' again (a new persid node)"),
        (b"l", "LIST"), (b".", "STOP"))
    H["binpersid"] = asm(
        (b"\x80\x02", "PROTO 2"), (b"(", "MARK"), (b"X" + u32(7) + b"storage", "BINUNICODE 'storage'"),
        (b"q\x00", "BINPUT 0"), (b"ctorch\nFloatStorage\n", "GLOBAL 'torch FloatStorage'"),
        (b"X" + u32(1) + b"0", "BINUNICODE '0'"), (b"X" + u32(6) + b"cuda:0", "BINUNICODE 'cuda:0'"),
        (b"K\x0c", "BININT1 12"), (b"t", "TUPLE"), (b"Q", "BINPERSID"), (b"q\x01", "BINPUT 1 (the persid result)"),
        (b"h\x01", "BINGET 1 (the same persid node)"), (b"\x86", "TUPLE2"), (b".", "STOP"))
    H["py2_strings"] = asm(
        (b"(", "MARK"),
        (b"S'plain'\n", "STRING 'plain'"),
        (b"S'esc\\x00\\n\\'q'\n", "STRING with escapes: \\x00 \\n \\' (Python-literal style)"),
        (b'S"dq"\n', "STRING with double quotes"),
        (b"T" + i32(3) + b"\xe9\xe8\xff", "BINSTRING 3 bytes e9 e8 ff -> latin1 'éèÿ'"),
        (b"U\x04" + b"ab\x00\x80", "SHORT_BINSTRING 4 bytes 61 62 00 80 -> latin1"),
        (b"U\x00", "SHORT_BINSTRING '' (empty)"),
        (b"l", "LIST"), (b".", "STOP"))
    H["unicode_raw_escape"] = asm(
        (b"(", "MARK"),
        (b"Vcaf\xc3\xa9 \\u20ac \\U0001f600 back\\\\slash\n",
         "UNICODE (raw-unicode-escape): bytes c3 a9 are two latin-1 chars (U+00C3 U+00A9), \\u20ac and \\U0001f600 "
         "are escapes, a backslash before anything else stays literal"),
        (b"V\n", "UNICODE ''"),
        (b"l", "LIST"), (b".", "STOP"))
    H["int_text"] = asm(
        (b"(", "MARK"), (b"I01\n", "INT I01 -> True"), (b"I00\n", "INT I00 -> False"), (b"I42\n", "INT 42"),
        (b"I-7\n", "INT -7"), (b"I0\n", "INT 0 (not a bool)"), (b"I123456789012345678901234567890\n", "INT beyond 64 bits"),
        (b"L123456789012345678901234567890L\n", "LONG with trailing L"), (b"L-5\n", "LONG -5 without L"),
        (b"l", "LIST"), (b".", "STOP"))
    big = (2**2100 + 7).to_bytes(264, "little", signed=True)
    neg = (-(2**40)).to_bytes(6, "little", signed=True)
    H["long_binary"] = asm(
        (b"\x80\x02", "PROTO 2"), (b"(", "MARK"),
        (b"\x8b" + i32(len(big)) + big, f"LONG4 {len(big)} bytes = 2**2100 + 7"),
        (b"\x8b" + i32(0), "LONG4 0 bytes = 0"),
        (b"\x8a" + u8(len(neg)) + neg, "LONG1 6 bytes = -(2**40)"),
        (b"\x8a\x00", "LONG1 0 bytes = 0"),
        (b"\x8a\x01\xff", "LONG1 ff = -1"),
        (b"\x8a\x02\xff\x00", "LONG1 ff 00 = 255"),
        (b"l", "LIST"), (b".", "STOP"))
    H["floats"] = asm(
        (b"(", "MARK"), (b"F3.25\n", "FLOAT 3.25"), (b"F-0.0\n", "FLOAT -0.0"), (b"Fnan\n", "FLOAT nan"),
        (b"Finf\n", "FLOAT inf"), (b"F1e-320\n", "FLOAT subnormal"),
        (b"G" + struct.pack(">d", 0.1), "BINFLOAT 0.1 (big-endian)"),
        (b"G" + bytes.fromhex("fff8000000000001"), "BINFLOAT a negative NaN with payload"),
        (b"l", "LIST"), (b".", "STOP"))
    H["memo_text_dup_pop"] = asm(
        (b"(", "MARK"),
        (b"(l", "MARK LIST -> []"), (b"p0\n", "PUT 0"),
        (b"g0\n", "GET 0 (the same list)"),
        (b"2", "DUP (the same list again)"),
        (b"I1\n", "INT 1"), (b"0", "POP (drops 1)"),
        (b"(", "MARK"), (b"I2\n", "INT 2"), (b"I3\n", "INT 3"), (b"1", "POP_MARK (drops MARK 2 3)"),
        (b"p1\n", "PUT 1 (memoizes the DUP'd list: same object)"),
        (b"g1\n", "GET 1"),
        (b"t", "TUPLE -> (L, L, L, L)"), (b".", "STOP"))
    H["proto4_big_records"] = asm(
        (b"\x80\x04", "PROTO 4"), (b"(", "MARK"),
        (b"\x8d" + u64(len("h\u00e9 \U0001F600".encode())) + "h\u00e9 \U0001F600".encode(),
         "BINUNICODE8 8 bytes: 'h', U+00E9, ' ', U+1F600 in UTF-8"),
        (b"\x8e" + u64(3) + b"\x00\x01\x02", "BINBYTES8 3 bytes"),
        (b"\x8e" + u64(0), "BINBYTES8 0 bytes"),
        (b"\x8c\x03abc", "SHORT_BINUNICODE 'abc'"),
        (b"C\x02\xfe\xff", "SHORT_BINBYTES fe ff"),
        (b"B" + u32(1) + b"z", "BINBYTES 'z'"),
        (b"l", "LIST"), (b".", "STOP"))
    H["bytearray8"] = asm(
        (b"\x80\x05", "PROTO 5"),
        (b"\x96" + u64(3) + b"abc", "BYTEARRAY8 3 bytes"), (b"\x94", "MEMOIZE (slot 0)"),
        (b"h\x00", "BINGET 0 (the same bytearray)"),
        (b"\x96" + u64(0), "BYTEARRAY8 0 bytes (another object)"),
        (b"\x87", "TUPLE3"), (b".", "STOP"))
    f1 = [(b"\x80\x04", "PROTO 4 (inside frame 1)"), (b"]", "EMPTY_LIST"), (b"\x94", "MEMOIZE 0"),
          (b"(", "MARK"), (b"K\x01", "BININT1 1"), (b"K\x02", "BININT1 2")]
    f2 = [(b"\x8c\x05hello", "SHORT_BINUNICODE 'hello' (frame 2)"), (b"\x94", "MEMOIZE 1")]
    f3 = [(b"h\x01", "BINGET 1"), (b"e", "APPENDS"), (b".", "STOP")]
    data_parts = frame(f1) + frame(f2) + frame(f3)
    H["frames"] = asm(*data_parts)
    H["stack_global_memo"] = asm(
        (b"\x80\x04", "PROTO 4"),
        (b"\x8c\x15pickle_corpus_classes", "SHORT_BINUNICODE 'pickle_corpus_classes'"), (b"\x94", "MEMOIZE 0"),
        (b"\x8c\x0bOuter.Inner", "SHORT_BINUNICODE 'Outer.Inner' (dotted qualname)"), (b"\x94", "MEMOIZE 1"),
        (b"\x93", "STACK_GLOBAL -> global pickle_corpus_classes Outer.Inner"), (b"\x94", "MEMOIZE 2"),
        (b")", "EMPTY_TUPLE"), (b"\x81", "NEWOBJ"), (b"\x94", "MEMOIZE 3"),
        (b"h\x00", "BINGET 0 (memoized module string)"),
        (b"\x8c\x05Plain", "SHORT_BINUNICODE 'Plain'"), (b"\x94", "MEMOIZE 4"),
        (b"\x93", "STACK_GLOBAL -> global pickle_corpus_classes Plain"), (b"\x94", "MEMOIZE 5"),
        (b"h\x02", "BINGET 2 (the Outer.Inner global again)"),
        (b"\x87", "TUPLE3"), (b".", "STOP"))
    H["sets"] = asm(
        (b"\x80\x04", "PROTO 4"),
        (b"\x8f", "EMPTY_SET"), (b"\x94", "MEMOIZE 0"),
        (b"(", "MARK"), (b"K\x03", "BININT1 3"), (b"K\x01", "BININT1 1"), (b"\x90", "ADDITEMS"),
        (b"(", "MARK"), (b"K\x02", "BININT1 2"), (b"K\x01", "BININT1 1 (duplicate)"), (b"\x90", "ADDITEMS"),
        (b"(", "MARK"), (b"\x8c\x01b", "SHORT_BINUNICODE 'b'"), (b"\x8c\x01a", "SHORT_BINUNICODE 'a'"),
        (b"\x91", "FROZENSET"),
        (b"(", "MARK"), (b"\x91", "FROZENSET (empty)"),
        (b"\x87", "TUPLE3"), (b".", "STOP"))
    H["newobj_ex"] = asm(
        (b"\x80\x04", "PROTO 4"),
        (b"\x8c\x15pickle_corpus_classes", "SHORT_BINUNICODE 'pickle_corpus_classes'"),
        (b"\x8c\x0dWithNewArgsEx", "SHORT_BINUNICODE 'WithNewArgsEx'"), (b"\x93", "STACK_GLOBAL"),
        (b"K\x07", "BININT1 7"), (b"\x85", "TUPLE1 (args)"),
        (b"}", "EMPTY_DICT"), (b"(", "MARK"), (b"\x8c\x05scale", "SHORT_BINUNICODE 'scale'"),
        (b"G" + struct.pack(">d", 0.5), "BINFLOAT 0.5"), (b"u", "SETITEMS (kwargs)"),
        (b"\x92", "NEWOBJ_EX"),
        (b"}", "EMPTY_DICT"), (b"\x8c\x01n", "SHORT_BINUNICODE 'n'"), (b"K\x07", "BININT1 7"), (b"s", "SETITEM"),
        (b"b", "BUILD"),
        (b"\x8c\x15pickle_corpus_classes", "SHORT_BINUNICODE 'pickle_corpus_classes'"),
        (b"\x8c\x0dWithNewArgsEx", "SHORT_BINUNICODE 'WithNewArgsEx'"), (b"\x93", "STACK_GLOBAL"),
        (b")", "EMPTY_TUPLE"), (b"}", "EMPTY_DICT"), (b"\x92", "NEWOBJ_EX with empty args and kwargs"),
        (b"\x86", "TUPLE2"), (b".", "STOP"))
    H["mutations_on_reduce"] = asm(
        (b"\x80\x02", "PROTO 2"),
        (b"ccollections\nOrderedDict\n", "GLOBAL 'collections OrderedDict'"), (b")", "EMPTY_TUPLE"), (b"R", "REDUCE"),
        (b"(", "MARK"), (b"X" + u32(1) + b"b", "BINUNICODE 'b'"), (b"K\x01", "BININT1 1"),
        (b"X" + u32(1) + b"a", "BINUNICODE 'a'"), (b"K\x02", "BININT1 2"), (b"u", "SETITEMS on a reduce result"),
        (b"X" + u32(1) + b"c", "BINUNICODE 'c'"), (b"K\x03", "BININT1 3"), (b"s", "SETITEM on a reduce result"),
        (b"c__builtin__\nset\n", "GLOBAL '__builtin__ set' (raw py2 name)"), (b")", "EMPTY_TUPLE"), (b"R", "REDUCE"),
        (b"K\x09", "BININT1 9"), (b"a", "APPEND on a reduce result"),
        (b"(", "MARK"), (b"K\x0a", "BININT1 10"), (b"K\x0b", "BININT1 11"), (b"e", "APPENDS (one append each)"),
        (b"}", "EMPTY_DICT"), (b"b", "BUILD on a reduce result"),
        (b"\x86", "TUPLE2"), (b".", "STOP"))
    H["ext_codes"] = asm(
        (b"\x80\x02", "PROTO 2"), (b"(", "MARK"),
        (b"\x82\x01", "EXT1 1"), (b"\x83" + u16(0x1234), "EXT2 0x1234"), (b"\x84" + i32(0x12345678), "EXT4 0x12345678"),
        (b"\x82\xff", "EXT1 255"), (b")", "EMPTY_TUPLE"), (b"R", "REDUCE (calls the extension object)"),
        (b"\x82\x01", "EXT1 1 again (a fresh lookup, same canonical form)"),
        (b"l", "LIST"), (b".", "STOP"))
    return H


def concat_two():
    a, la = asm((b"\x80\x02", "PROTO 2 (pickle 1)"), (b"]", "EMPTY_LIST"), (b"q\x00", "BINPUT 0"),
                (b"X" + u32(5) + b"first", "BINUNICODE 'first'"), (b"a", "APPEND"), (b".", "STOP"))
    b, lb = asm((b"\x80\x02", "PROTO 2 (pickle 2, its own memo)"), (b"}", "EMPTY_DICT"), (b"q\x00", "BINPUT 0"),
                (b"X" + u32(6) + b"second", "BINUNICODE 'second'"), (b"h\x00", "BINGET 0 (this pickle's dict)"),
                (b"s", "SETITEM"), (b".", "STOP"))
    shifted = "\n".join(f"{int(line[:6]) + len(a):6d}{line[6:]}" for line in lb.splitlines()) + "\n"
    return a + b, la + shifted, [a, b]


# =============================================================================================
# files


def write(name, data, mode="wb"):
    p = os.path.join(OUT, name)
    with open(p, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
        f.write(data)
    return p


def opcode_table():
    rows = ["name\tcode\targ\targ_n\tproto\tstack_before\tstack_after"]
    for op in pickletools.opcodes:
        arg = op.arg
        rows.append("\t".join([
            op.name,
            f"{ord(op.code.encode('latin-1')):02x}",
            arg.name if arg is not None else "-",
            str(arg.n) if arg is not None else "-",
            str(op.proto),
            ",".join(s.name for s in op.stack_before) or "-",
            ",".join(s.name for s in op.stack_after) or "-",
        ]))
    return "\n".join(rows) + "\n"


DIS_GOLDENS = ["scalars_like", "strings.p0", "strings.p4", "instance_plain.p0", "instance_plain.p2", "instance_reduce.p1",
               "cycle_tuple_via_list.p1", "cycle_tuple_via_list.p3", "persistent_ids.p0", "persistent_ids.p2",
               "instance_getnewargs_ex.p4", "bytearrays.p5", "many_memo.p2", "floats.p0", "asm_memo_text_dup_pop",
               "asm_frames"]


def main():
    if os.environ.get("PYTHONHASHSEED") != "0":
        # set and frozenset pickles follow iteration order, which follows str hashing: fix it
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable] + sys.argv)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    manifest = OrderedDict(generator="Scripts/make_pickle_corpus.py", python=sys.version.split()[0],
                           canonicalizer="pickle._Unpickler subclass (CPython 3.11 Lib/pickle.py), encoding='latin1'; "
                                         "cross-checked against the C pickle.Unpickler where no NEWOBJ_EX occurs",
                           values=[], refused=[], hand_assembled=[], dis_goldens=[])
    copyreg_before = dict(copyreg._extension_registry)
    values = build_values()
    for name, value in values.items():
        for proto in PROTOCOLS:
            buf = io.BytesIO()
            try:
                PidPickler(buf, protocol=proto).dump(value)
            except Exception as e:  # noqa: BLE001 - CPython refused: record it
                manifest["refused"].append({"value": name, "protocol": proto, "exception": type(e).__name__,
                                            "message": str(e).splitlines()[0]})
                continue
            data = buf.getvalue()
            pybuf = io.BytesIO()
            PyPidPickler(pybuf, protocol=proto).dump(value)
            can = canonical(data)
            c_check = cross_check(data, can, f"{name}.p{proto}")
            base = f"{name}.p{proto}"
            write(base + ".pkl", data)
            write(base + ".json", dumps_json(can), "w")
            manifest["values"].append({"file": base + ".pkl", "value": name, "protocol": proto, "size": len(data),
                                       "py_pickler_identical": pybuf.getvalue() == data,
                                       "c_unpickler_agrees": c_check,
                                       "opcodes": sorted({op.name for op, _, _ in pickletools.genops(data)})})
    for name, (data, listing) in hand_assembled().items():
        base = f"asm_{name}"
        can = canonical(data)
        write(base + ".pkl", data)
        write(base + ".json", dumps_json(can), "w")
        write(base + ".asm.txt", listing, "w")
        c_check = cross_check(data, can, base)
        manifest["hand_assembled"].append({"file": base + ".pkl", "size": len(data), "c_unpickler_agrees": c_check,
                                           "opcodes": sorted({op.name for op, _, _ in pickletools.genops(data)})})
    data, listing, parts = concat_two()
    write("concat_two_pickles.pkl", data)
    write("concat_two_pickles.asm.txt", listing, "w")
    f = io.BytesIO(data)
    cans = []
    for _ in parts:
        cans.append(Canon().walk(CanonUnpickler(f, encoding="latin1").load()))  # a fresh unpickler (memo) per pickle
    assert f.tell() == len(data)
    write("concat_two_pickles.json", dumps_json(cans), "w")
    manifest["hand_assembled"].append({"file": "concat_two_pickles.pkl", "size": len(data), "pickles": len(parts),
                                       "note": "two pickles back to back; the .json is an ARRAY, one canonical value "
                                               "per pickle, each with its own memo and its own id numbering"})
    write("pickletools-opcodes.tsv", opcode_table(), "w")

    # dis goldens, exactly as the CLI prints them
    write("scalars_like.p2.pkl", pickle.dumps([None, True, 1, -1, 300, 70000, 2**40, 1.5, "s", b"b", (), [], {}], 2))
    write("scalars_like.p2.json", dumps_json(canonical(open(os.path.join(OUT, "scalars_like.p2.pkl"), "rb").read())), "w")
    manifest["values"].append({"file": "scalars_like.p2.pkl", "value": "scalars_like", "protocol": 2,
                               "note": "small mixed list, for the dis golden"})
    for g in DIS_GOLDENS:
        fname = g + (".p2.pkl" if g == "scalars_like" else ".pkl")
        r = subprocess.run([sys.executable, "-m", "pickletools", fname], cwd=OUT, capture_output=True, text=True,
                           encoding="utf-8", env=dict(os.environ, PYTHONIOENCODING="utf-8"))
        if r.returncode != 0:
            manifest["dis_goldens"].append({"file": fname, "error": r.stderr.strip().splitlines()[-1]})
            continue
        write(fname + ".dis.txt", r.stdout, "w")
        manifest["dis_goldens"].append({"file": fname, "golden": fname + ".dis.txt"})
    assert copyreg._extension_registry == copyreg_before
    write("manifest.json", json.dumps(manifest, indent=1) + "\n", "w")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"{len(os.listdir(OUT))} files, {total} bytes in {os.path.relpath(OUT, REPO)}")


if __name__ == "__main__":
    main()
