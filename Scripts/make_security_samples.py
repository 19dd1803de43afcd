#!/usr/bin/env python3
"""Writes ptview's own adversarial samples for `ptview scan` into Tests/Fixtures/security/extra/
and their expected verdicts into Tests/Fixtures/security/extra.tsv.

Every pickle here is assembled opcode by opcode from bytes. Nothing is ever unpickled, and
nothing imports torch or numpy: some of these files would run commands if loaded. Never pass
them to pickle.load, torch.load(weights_only=False), numpy.load(allow_pickle=True) or joblib.

Usage: python3 Scripts/make_security_samples.py  (from the repository root)
"""
import io
import os
import struct
import zipfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "security")
OUT = os.path.join(ROOT, "extra")
ROWS = []


# ---------------------------------------------------------------------------------------------
# Opcode helpers (the byte values are pickle's opcodes; see pickletools)

def proto(n): return b"\x80" + bytes([n])
def frame(n): return b"\x95" + struct.pack("<Q", n)
def glob(module, name): return b"c" + module.encode() + b"\n" + name.encode() + b"\n"
def inst(module, name): return b"i" + module.encode() + b"\n" + name.encode() + b"\n"
def u(s):  # BINUNICODE
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b
def su(s):  # SHORT_BINUNICODE (protocol 4)
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b
def sbs(s):  # SHORT_BINSTRING (protocol 1)
    b = s.encode()
    return b"U" + bytes([len(b)]) + b
def string0(s): return b"S" + repr(s).encode() + b"\n"  # protocol 0 STRING
def binbytes(b): return b"B" + struct.pack("<I", len(b)) + b
def sbb(b): return b"C" + bytes([len(b)]) + b
def binint1(n): return b"K" + bytes([n])
def binint(n): return b"J" + struct.pack("<i", n)
def binput(n): return b"q" + bytes([n])
def binget(n): return b"h" + bytes([n])
MARK, STOP, TUPLE, TUPLE1, TUPLE2, TUPLE3 = b"(", b".", b"t", b"\x85", b"\x86", b"\x87"
REDUCE, BUILD, NEWOBJ, EMPTY_TUPLE, EMPTY_DICT, EMPTY_LIST = b"R", b"b", b"\x81", b")", b"}", b"]"
SETITEM, SETITEMS, APPENDS, NONE, NEWTRUE, NEWFALSE = b"s", b"u", b"e", b"N", b"\x88", b"\x89"
STACK_GLOBAL, MEMOIZE, POP, OBJ, EXT1 = b"\x93", b"\x94", b"0", b"o", b"\x82"
BINFLOAT = b"G"


def call(module, name, *args):
    """GLOBAL module name, args as a tuple, REDUCE (protocol 2)."""
    return glob(module, name) + MARK + b"".join(args) + TUPLE + REDUCE


def legacy_stream(main):
    """A legacy torch.save stream: magic, protocol, sys_info, MAIN, storage keys."""
    magic = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e"
    protocol = proto(2) + b"M\xe9\x03" + STOP
    sys_info = proto(2) + EMPTY_DICT + MARK + u("protocol_version") + b"M\xe9\x03" + u("little_endian") + NEWTRUE + SETITEMS + STOP
    keys = proto(2) + EMPTY_LIST + STOP
    return magic + protocol + sys_info + main + keys


def zip_bytes(members, compression=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data, compress_type=compression)
    return buf.getvalue()


def npy_object(pickle_bytes):
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    total = 10 + len(header) + 1
    header += b" " * ((64 - total % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + pickle_bytes


def ndarray_pickle(element):
    """numpy's object-array pickle: _reconstruct(ndarray, (0,), b'b'), BUILD with a list holding ELEMENT."""
    return (proto(2) + glob("numpy.core.multiarray", "_reconstruct") + glob("numpy", "ndarray")
            + binint1(0) + TUPLE1 + sbb(b"b") + TUPLE3 + REDUCE
            + MARK + binint1(1) + binint1(1) + TUPLE1 + call("numpy", "dtype", u("O8"), NEWFALSE, NEWTRUE)
            + MARK + binint1(3) + u("|") + NONE + NONE + NONE + binint(-1) + binint(-1) + binint1(63) + TUPLE + BUILD
            + NEWFALSE + EMPTY_LIST + element + b"a" + TUPLE + BUILD + STOP)


def add(name, data, verdict, why):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    ROWS.append((name, verdict, why))


# ---------------------------------------------------------------------------------------------

def main():
    os.makedirs(OUT, exist_ok=True)
    os_system_id = call("os", "system", u("id"))

    add("dangerous_before_corrupt_tail.pkl", proto(2) + os_system_id + b"\xff\xfe garbage",
        "dangerous", "os.system called, then bytes that are not opcodes: the call already ran")
    add("dangerous_before_truncation.pkl", proto(2) + call("subprocess", "Popen", MARK + u("sh") + u("-c") + u("id") + b"l") + u("cut here") [:-3],
        "dangerous", "subprocess.Popen, then a truncated BINUNICODE")

    # FRAME says 2 bytes: 'B' and one length byte. pickle.loads reads BINBYTES(263) over the
    # payload; a file-object unpickler (torch's zip loader) drops the rest of the frame, reads
    # a 1-byte BINBYTES and then executes the hidden GLOBAL/REDUCE.
    hidden = glob("posix", "system") + u("echo hidden") + TUPLE1 + REDUCE + POP
    pad = 256 - 2 - len(hidden)
    # 'B', then bytes-mode length [0, 1, 0, 0] = 256; the file reader's length is [1, 0, 0, 0] = 1.
    body = b"B" + b"\x00\x01\x00\x00" + b"\x00" + b"\x00" + hidden + NONE * pad
    lying = proto(4) + MARK + frame(2) + body + b"1" + NONE + STOP
    add("lying_frame_file_reader.pkl", lying, "dangerous", "FRAME lies about its length: posix.system runs only for a file reader")

    memo_sg = (proto(4) + su("subprocess") + MEMOIZE + su("check_output") + MEMOIZE + POP + POP
               + binget(0) + binget(1) + STACK_GLOBAL + EMPTY_LIST + su("ls") + b"a" + TUPLE1 + REDUCE + STOP)
    add("memoized_stack_global.pkl", memo_sg, "dangerous", "STACK_GLOBAL from memoized strings (subprocess.check_output)")

    sg_binstring = proto(4) + sbs("os") + sbs("system") + STACK_GLOBAL + su("id") + TUPLE1 + REDUCE + STOP
    add("stack_global_binstring.pkl", sg_binstring, "dangerous", "STACK_GLOBAL fed by SHORT_BINSTRING (str in Python 3)")

    dotted = proto(4) + su("argparse") + su("_os.system") + STACK_GLOBAL + su("id") + TUPLE1 + REDUCE + STOP
    add("dotted_name_reexport.pkl", dotted, "dangerous", "argparse._os.system: a dotted name reaching os through a harmless module")

    add("inst_exec_proto0.pkl", MARK + string0("print(1)") + inst("__builtin__", "exec") + STOP,
        "dangerous", "INST __builtin__.exec (protocol 0)")
    add("obj_eval_proto1.pkl", MARK + glob("__builtin__", "eval") + sbs("1+1") + OBJ + STOP,
        "dangerous", "OBJ with builtins.eval (protocol 1)")
    add("inst_noargs_function.pkl", MARK + inst("builtins", "breakpoint") + STOP,
        "dangerous", "INST of a function without arguments: CPython calls it")

    getattr_chain = proto(2) + glob("builtins", "getattr") + MARK + call("builtins", "__import__", u("os")) + u("system") + TUPLE + REDUCE + MARK + u("id") + TUPLE + REDUCE + STOP
    add("getattr_chain.pkl", getattr_chain, "dangerous", "getattr(__import__('os'), 'system')('id'): calls a call's result")

    build_module = proto(4) + su("json") + su("decoder") + STACK_GLOBAL + EMPTY_DICT + su("scanstring") + su("x") + SETITEM + BUILD + STOP
    add("build_on_module.pkl", build_module, "dangerous", "BUILD sets attributes of the module json.decoder")

    add("unlisted_stdlib_gadget.pkl", proto(2) + call("zipapp", "create_archive", u("/tmp/src"), u("/tmp/out.pyz")) + STOP,
        "dangerous", "zipapp.create_archive: a standard-library function on no list")
    add("unlisted_torch_gadget.pkl", proto(2) + call("torch.testing._internal.common_utils", "shell", MARK + u("id") + b"l") + STOP,
        "dangerous", "a PyTorch function that is not a data reconstructor")
    add("third_party_code_argument.pkl", proto(2) + call("somepkg.tools", "run_snippet", u("import os; os.system('id')")) + STOP,
        "dangerous", "a third-party function given Python code as a string")
    recon = proto(2) + glob("copyreg", "_reconstructor") + MARK + glob("__main__", "Sink") + glob("wave", "Wave_write") + u("/tmp/x.wav") + TUPLE + REDUCE + STOP
    add("reconstructor_base_init.pkl", recon, "dangerous", "copyreg._reconstructor with a base class whose __init__ opens a file")

    inner_zip = zip_bytes([("archive/data.pkl", proto(2) + os_system_id + STOP), ("archive/version", b"3\n")])
    add("nested_zip.zip", zip_bytes([("outer/readme.txt", b"hello\n"), ("outer/inner.zip", inner_zip)]),
        "dangerous", "a torch zip inside a zip (stored)")
    add("nested_zip_deflated.zip", zip_bytes([("inner.pt", zip_bytes([("archive/data.pkl", proto(2) + os_system_id + STOP)], zipfile.ZIP_DEFLATED))], zipfile.ZIP_DEFLATED),
        "dangerous", "a deflated zip inside a deflated zip")

    evil_element = call("subprocess", "getoutput", u("id"))
    add("object_array_dangerous.npy", npy_object(ndarray_pickle(evil_element)), "dangerous", "an object .npy whose element is subprocess.getoutput('id')")
    add("object_array_dangerous.npz", zip_bytes([("a.npy", npy_object(ndarray_pickle(binint1(7)))), ("b.npy", npy_object(ndarray_pickle(evil_element)))]),
        "dangerous", "an .npz whose second array pickles a call")
    add("object_array_safe.npy", npy_object(ndarray_pickle(u("text"))), "safe", "an object .npy holding a string")

    plain = zip_bytes([("archive/data.pkl", proto(2) + call("builtins", "eval", u("1+1")) + STOP), ("archive/version", b"3\n")])
    flagged = bytearray(plain)
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        at = 0
        while True:
            at = flagged.find(sig, at)
            if at < 0:
                break
            flag_at = at + 6 if sig == b"PK\x03\x04" else at + 8
            flagged[flag_at] |= 1
            at += 4
    add("encrypted_flag_plain_data.zip", bytes(flagged), "dangerous", "encryption flag set on plain (unencrypted) data, as torch ignores it")

    mismatch = bytearray(zip_bytes([("archive/data.pkl", proto(2) + call("builtins", "exec", u("print(1)")) + STOP)]))
    at = mismatch.find(b"PK\x03\x04")
    mismatch[at + 30:at + 30 + len("archive/data.pkl")] = b"archive/notes.txt"[:len("archive/data.pkl")]
    add("local_central_name_mismatch.zip", bytes(mismatch), "dangerous", "local header and central directory name the entry differently")

    add("sevenzip_header.7z", b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\x00" * 24 + proto(4) + b"payload", "unscannable", "7z archive: not read")
    add("gzip_pickle.gz", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\x00" * 16, "unscannable", "gzip-compressed: not read")
    add("not_a_pickle.txt", b"hello, this is a text file\n", "unscannable", "plain text, not a pickle")
    add("truncated_safe_dict.pkl", proto(2) + glob("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE + MARK + u("a") + binint1(1),
        "unscannable", "plain data, cut off before STOP: what follows is unknown")

    main_dangerous = proto(2) + call("os", "system", u("echo legacy")) + STOP
    add("legacy_container_dangerous.pt", legacy_stream(main_dangerous), "dangerous", "the main pickle of a legacy torch.save stream calls os.system")
    main_safe = proto(2) + glob("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE + MARK + u("epoch") + binint1(3) + u("lr") + BINFLOAT + struct.pack(">d", 0.1) + SETITEMS + STOP
    add("legacy_container_safe.pt", legacy_stream(main_safe), "safe", "a legacy stream holding plain data")

    second = MARK + string0("id") + inst("os", "system") + STOP
    add("second_pickle_dangerous.pkl", proto(2) + EMPTY_LIST + STOP + second, "dangerous", "a harmless pickle followed by a protocol-0 one calling os.system")

    # numpy only: an array and a scalar, as numpy pickles them.
    numpy_only = (proto(2) + EMPTY_DICT + MARK
                  + u("array") + glob("numpy.core.multiarray", "_reconstruct") + glob("numpy", "ndarray") + binint1(0) + TUPLE1 + sbb(b"b") + TUPLE3 + REDUCE
                  + MARK + binint1(1) + binint1(2) + TUPLE1 + call("numpy", "dtype", u("f8"), NEWFALSE, NEWTRUE)
                  + MARK + binint1(3) + u("<") + NONE + NONE + NONE + binint(-1) + binint(-1) + binint1(0) + TUPLE + BUILD
                  + NEWFALSE + binbytes(b"\x00" * 16) + TUPLE + BUILD
                  + u("best") + glob("numpy._core.multiarray", "scalar") + call("numpy", "dtype", u("f8"), NEWFALSE, NEWTRUE) + sbb(struct.pack("<d", 0.5)) + TUPLE2 + REDUCE
                  + SETITEMS + STOP)
    add("numpy_only_safe.pkl", numpy_only, "safe", "numpy array and scalar reconstruction only")
    add("slice_frozenset_safe.pkl", proto(2) + call("builtins", "slice", binint1(1), binint1(5)) + call("builtins", "frozenset", EMPTY_LIST) + TUPLE2 + STOP,
        "safe", "builtins.slice and frozenset: plain data")

    net = (proto(2) + glob("__main__", "Net") + EMPTY_TUPLE + NEWOBJ + EMPTY_DICT + MARK + u("training") + NEWTRUE
           + u("_modules") + EMPTY_DICT + MARK + u("fc") + glob("torch.nn.modules.linear", "Linear") + EMPTY_TUPLE + NEWOBJ
           + EMPTY_DICT + u("in_features") + binint1(4) + SETITEM + BUILD + SETITEMS + SETITEMS + BUILD + STOP)
    add("model_class.pkl", net, "suspicious", "a pickled model: __main__.Net and torch Linear via NEWOBJ + BUILD")
    add("namespace.pkl", proto(2) + glob("argparse", "Namespace") + EMPTY_TUPLE + NEWOBJ + EMPTY_DICT + u("lr") + binint1(1) + SETITEM + BUILD + STOP,
        "suspicious", "argparse.Namespace")
    add("defaultdict.pkl", proto(2) + call("collections", "defaultdict", glob("builtins", "list")) + STOP, "suspicious", "collections.defaultdict(list)")
    add("third_party_reconstructor.pkl", proto(2) + call("pandas._libs.tslibs.timestamps", "_unpickle_timestamp", binint(1600000000), NONE, NONE, binint1(10)) + STOP,
        "suspicious", "a third-party reconstructor with plain arguments")
    add("ext_registry.pkl", proto(2) + EXT1 + b"\x05" + EMPTY_TUPLE + REDUCE + STOP, "suspicious", "calls an object from copyreg's extension registry")

    inner_plain = legacy_stream(proto(2) + EMPTY_LIST + STOP)
    add("load_from_bytes_plain.pkl", proto(2) + call("torch.storage", "_load_from_bytes", binbytes(inner_plain)) + STOP,
        "suspicious", "torch.storage._load_from_bytes over an embedded plain legacy stream (what pickle.dumps(tensor) writes)")
    inner_evil = legacy_stream(proto(2) + os_system_id + STOP)
    add("load_from_bytes_dangerous.pkl", proto(2) + call("torch.storage", "_load_from_bytes", binbytes(inner_evil)) + STOP,
        "dangerous", "torch.storage._load_from_bytes over an embedded stream that calls os.system")
    add("pickle_loads_nested.pkl", proto(2) + call("pickle", "loads", binbytes(proto(2) + EMPTY_LIST + STOP)) + STOP,
        "dangerous", "pickle.loads of embedded bytes: a nested loader")

    torch1 = zip_bytes([("archive/data.pkl", proto(2) + EMPTY_DICT + STOP), ("archive/version", b"3\n")])
    torch2 = zip_bytes([("archive/data.pkl", proto(2) + call("posix", "system", u("id")) + STOP), ("archive/version", b"3\n")])
    add("concatenated_zips.distcp", torch1 + torch2, "dangerous", "two torch zips back to back (like a .distcp), the second dangerous")

    with open(os.path.join(ROOT, "extra.tsv"), "w") as f:
        f.write("file\texpected\twhy\n")
        for name, verdict, why in ROWS:
            f.write(f"{name}\t{verdict}\t{why}\n")
    print(f"wrote {len(ROWS)} samples to {OUT}")


if __name__ == "__main__":
    main()
