"""`ptview edit` judged by real torch (never by ptview's own output).

The fixtures are Tests/Fixtures/edit/ (Scripts/make_edit_fixtures.py: files made by DDP,
DataParallel, torch.compile, a real Lightning Trainer, plain training loops, torch.save of whole
modules, torch.jit.script; their manifest says how). The plain model classes are in
Scripts/edit_models.py. Every check compares what `ptview edit` wrote with the same operation
done in Python on a trusted `torch.load(original, weights_only=False, map_location='cpu')`:

- strip/rename/--from-error: `model.load_state_dict(torch.load(OUT), strict=True)` succeeds where
  the original raised, and every tensor is bit-identical (dtype, shape, stride, offset, bytes);
- --state-dict: equals `module.state_dict()` (same keys, same order, plain Tensors), the training
  checkpoint's state dict entry, or `torch.jit.load(f, map_location='cpu').state_dict()`;
- --extract/--drop/--keep: equal the same operation on the trusted load (order kept);
- --cast: every floating tensor equals `t.to(dtype)` bit for bit (NaN positions compared as
  NaN: torch itself canonicalises NaN bits differently by path), everything else untouched,
  views still share one storage;
- refusals exit 1 (64 for usage, 2 for an unreadable input) and write nothing;
- every output loads with a plain `torch.load(OUT)` (weights_only=True, no map_location) on this
  CPU-only machine, and with mmap=True; the input is byte-identical after every command.

Tests are grouped by feature, so an option that is not implemented fails in its own tests only.

    PTVIEW=.build/debug/ptview $VENV/bin/python -m pytest -q Tests/Interop/test_edit.py
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import traceback
import warnings
import zipfile
from collections import OrderedDict

import pytest

from interop_support import PTVIEW, REPO, same_tensor, same_value, torch

import edit_models  # noqa: E402  (Scripts/ is on sys.path through interop_support)

warnings.filterwarnings("ignore")

EDIT = os.path.join(REPO, "Tests", "Fixtures", "edit")
with open(os.path.join(EDIT, "manifest.json"), encoding="utf-8") as _f:
    MANIFEST = {row["file"]: row for row in json.load(_f)["fixtures"]}

WRAPPED = ["ddp.pt", "dataparallel.pt", "compiled.pt", "ddp_compiled.pt", "compiled_ddp.pt"]
CAST_NAMES = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16,
              "fp32": torch.float32, "float32": torch.float32, "fp64": torch.float64, "float64": torch.float64}


# ---------------------------------------------------------------------------------------------
# running ptview


def fixture(name: str) -> str:
    return os.path.join(EDIT, name)


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def edit(src: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`ptview edit SRC ARGS...`; asserts the input is byte-identical afterwards."""
    before = sha256(src) if os.path.isfile(src) else None
    result = subprocess.run([PTVIEW, "edit", src, *args], capture_output=True, text=True, input=stdin, timeout=600)
    if before is not None and "--in-place" not in args:
        assert sha256(src) == before, f"ptview edit {' '.join(args)} changed its input {src}"
    return result


def edit_ok(src: str, out: str, *args: str, stdin: str | None = None, plain_load: bool = True):
    """Runs an edit that must succeed; returns torch.load(OUT) with torch's defaults."""
    result = edit(src, *args, "-o", out, stdin=stdin)
    assert result.returncode == 0, f"ptview edit {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}"
    assert os.path.isfile(out), "exit 0 but no output file"
    assert zipfile.is_zipfile(out), "the output is not a torch zip archive"
    if not plain_load:
        return None
    loaded = torch.load(out)  # weights_only=True, no map_location: must work on this CPU-only machine
    mapped = torch.load(out, mmap=True)
    assert same_value(mapped, loaded), "torch.load(OUT, mmap=True) differs from torch.load(OUT)"
    return loaded


def refused(result: subprocess.CompletedProcess, code: int = 1) -> None:
    assert result.returncode == code, (f"expected exit {code}, got {result.returncode}; "
                                       f"stdout={result.stdout.strip()!r} stderr={result.stderr.strip()!r}")
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines, "a refusal must say why on stderr"
    if code == 1:
        assert len(lines) == 1, f"a refusal is one clear line on stderr, got {len(lines)}: {result.stderr!r}"


# ---------------------------------------------------------------------------------------------
# trusted torch, and the same operations in Python


def trusted(name: str):
    """The original, loaded by torch without weights_only (these are our own trusted fixtures)."""
    return torch.load(fixture(name), weights_only=False, map_location="cpu")


def model_for(name: str) -> torch.nn.Module:
    return getattr(edit_models, MANIFEST[name]["model_class"].split(".", 1)[1])()


def strict_error(model: torch.nn.Module, sd) -> str:
    """The text torch raises for load_state_dict(sd, strict=True); fails if it loads."""
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as error:
        return str(error)
    raise AssertionError("the original state dict loads strict: the fixture proves nothing")


def loads_strict(model: torch.nn.Module, sd) -> None:
    result = model.load_state_dict(sd, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def resolve(obj, path: str):
    """The value at a dotted key path; a dict key may itself contain dots (the longest key that
    matches wins), list/tuple items and int dict keys are named by their decimal text."""
    parts = path.split(".")
    while parts:
        if isinstance(obj, dict):
            for n in range(len(parts), 0, -1):
                name = ".".join(parts[:n])
                match = [k for k in obj if str(k) == name]
                if match:
                    obj, parts = obj[match[0]], parts[n:]
                    break
            else:
                raise KeyError(path)
        elif isinstance(obj, (list, tuple)):
            obj, parts = obj[int(parts[0])], parts[1:]
        else:
            raise KeyError(path)
    return obj


def strip(sd, prefix: str):
    return OrderedDict((k[len(prefix):] if k.startswith(prefix) else k, v) for k, v in sd.items())


def rename_key(key: str, old: str, new: str) -> str:
    if old == "":
        return new + key
    if old.endswith("."):
        return new + key[len(old):] if key.startswith(old) else key
    if key == old:
        return new
    if key.startswith(old + "."):
        return new + key[len(old):]
    return key


def rename(sd, old: str, new: str):
    return OrderedDict((rename_key(k, old, new), v) for k, v in sd.items())


def glob(pattern: str, path: str) -> bool:
    return fnmatch.fnmatchcase(path, pattern)  # `*` crosses dots; the patterns here use no [ ] ?


def children(node):
    if isinstance(node, dict):
        return list(node.items())
    return list(enumerate(node))


def rebuild(node, items):
    if isinstance(node, dict):
        out = type(node)() if type(node) in (dict, OrderedDict) else OrderedDict()
        for k, v in items:
            out[k] = v
        return out
    return type(node)(v for _, v in items)


def drop(node, patterns, prefix=""):
    """Removes every entry (with its subtree) whose dotted path matches a pattern."""
    items = []
    for k, v in children(node):
        path = f"{prefix}{k}"
        if any(glob(p, path) for p in patterns):
            continue
        items.append((k, drop(v, patterns, path + ".") if isinstance(v, (dict, list, tuple)) else v))
    return rebuild(node, items)


def keep(node, patterns, prefix=""):
    """Keeps entries whose path matches (whole subtree) and the containers leading to them."""
    items = []
    for k, v in children(node):
        path = f"{prefix}{k}"
        if any(glob(p, path) for p in patterns):
            items.append((k, v))
        elif isinstance(v, (dict, list, tuple)):
            sub = keep(v, patterns, path + ".")
            if children(sub):
                items.append((k, sub))
    return rebuild(node, items)


def map_tensors(node, fn):
    if isinstance(node, torch.Tensor):
        return fn(node)
    if isinstance(node, dict):
        return rebuild(node, [(k, map_tensors(v, fn)) for k, v in node.items()])
    if isinstance(node, (list, tuple)):
        return type(node)(map_tensors(v, fn) for v in node)
    return node


def tensors(node, prefix=""):
    """[(dotted path, tensor)] in walk order."""
    if isinstance(node, torch.Tensor):
        return [(prefix.rstrip("."), node)]
    if isinstance(node, (dict, list, tuple)):
        out = []
        for k, v in children(node):
            out += tensors(v, f"{prefix}{k}.")
        return out
    return []


def bits(t: torch.Tensor) -> torch.Tensor:
    t = t.contiguous().reshape(-1)
    if t.dtype == torch.bool:
        return t.view(torch.uint8)
    return t.view({1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()])


def same_bits_nan_aware(got: torch.Tensor, want: torch.Tensor) -> str | None:
    """None when equal bit for bit, NaN positions compared as 'both NaN'; else a reason."""
    if got.dtype != want.dtype or tuple(got.shape) != tuple(want.shape):
        return f"{got.dtype}{tuple(got.shape)} != {want.dtype}{tuple(want.shape)}"
    if got.numel() == 0:
        return None
    a, b = bits(got), bits(want)
    if torch.equal(a, b):
        return None
    if got.is_floating_point():
        na, nb = got.float().isnan().reshape(-1), want.float().isnan().reshape(-1)
        if torch.equal(na, nb) and torch.equal(a[~na], b[~nb]):
            return None
        bad = ((a != b) & ~(na & nb)).nonzero().reshape(-1)[:4].tolist()
        return f"differs at flat index {bad}: got {got.reshape(-1)[bad].tolist()} want {want.reshape(-1)[bad].tolist()}"
    return "bytes differ"


def cast_problem(got, want_src, dtype, key) -> str | None:
    """None when `got` is what torch's `want_src.to(dtype)` gives (floating) or `want_src` itself."""
    if want_src.is_floating_point() and not want_src.is_quantized:
        reason = same_bits_nan_aware(got, want_src.to(dtype))
        if reason is None and type(got) is not type(want_src):
            reason = f"a {type(got).__name__}, not a {type(want_src).__name__}"
        return None if reason is None else f"{key}: {want_src.dtype} -> {dtype}: {reason}"
    if not same_tensor(got, want_src):
        return f"{key}: {want_src.dtype} must be untouched (got {got.dtype})"
    if want_src.is_quantized and (got.q_scale() != want_src.q_scale() or got.q_zero_point() != want_src.q_zero_point()):
        return f"{key}: quantization parameters changed"
    return None


def assert_cast_all(pairs, dtype):
    """pairs: [(key, got, original)]; reports every wrong tensor at once."""
    problems = [p for key, got, want in pairs if (p := cast_problem(got, want, dtype, key))]
    assert not problems, "\n".join(problems)


def storage_groups(node):
    """Groups of tensor paths that share one storage (only groups of two or more)."""
    groups = {}
    for path, t in tensors(node):
        if t.layout == torch.strided and not t.is_quantized:
            groups.setdefault(t.untyped_storage().data_ptr(), []).append(path)
    return [g for g in groups.values() if len(g) > 1]


def assert_same_sharing(got, want):
    got_ptr = {p: t.untyped_storage().data_ptr() for p, t in tensors(got) if t.layout == torch.strided}
    for group in storage_groups(want):
        assert len({got_ptr[p] for p in group}) == 1, f"{group} no longer share one storage"


def locations(path: str) -> dict[str, int]:
    """Storage locations as saved: {location: count}, seen by a recording map_location."""
    seen: dict[str, int] = {}

    def spy(storage, location):
        seen[location] = seen.get(location, 0) + 1
        return storage

    torch.load(path, map_location=spy, weights_only=True)
    return seen


# ---------------------------------------------------------------------------------------------
# the fixtures themselves (so a wrong fixture is not mistaken for a ptview bug)


def test_fixture_manifest_matches_files():
    for name, row in MANIFEST.items():
        assert sha256(fixture(name)) == row["sha256"], f"{name} changed since the manifest was written"
    for name in WRAPPED + ["ddp_cuda0.pt"]:
        sd = trusted(name)
        assert all(k.startswith(MANIFEST[name]["prefix"]) for k in sd), name
        strict_error(model_for(name), sd)
        loads_strict(model_for(name), strip(sd, MANIFEST[name]["prefix"]))


# ---------------------------------------------------------------------------------------------
# --strip-prefix


STRIP_CASES = [(n, mode) for n in WRAPPED for mode in ("auto", "explicit")]
STRIP_CASES += [("ddp_compiled.pt", "chain"), ("compiled_ddp.pt", "chain")]


@pytest.mark.parametrize("name,mode", STRIP_CASES)
def test_strip_prefix(name, mode, tmp_path):
    prefix = MANIFEST[name]["prefix"]
    if mode == "auto":
        ops = ["--strip-prefix", "auto"]
    elif mode == "explicit":
        ops = ["--strip-prefix", prefix]
    else:  # one component at a time, in order
        first, second = prefix[:-1].split(".")
        ops = ["--strip-prefix", first + ".", "--strip-prefix", second + "."]
    original = trusted(name)
    strict_error(model_for(name), original)
    out = edit_ok(fixture(name), str(tmp_path / "out.pt"), *ops)
    loads_strict(model_for(name), out)
    assert same_value(out, strip(original, prefix))


@pytest.mark.parametrize("name", ["ddp_cuda0.pt"])
def test_strip_prefix_with_device_move(name, tmp_path):
    original = trusted(name)
    assert set(locations(fixture(name))) == {"cuda:0"}
    out = edit_ok(fixture(name), str(tmp_path / "out.pt"), "--strip-prefix", "auto", "--to", "cpu")
    assert set(locations(str(tmp_path / "out.pt"))) == {"cpu"}
    loads_strict(model_for(name), out)
    assert same_value(out, strip(original, "module."))


def test_lightning_extract_and_strip(tmp_path):
    ckpt = trusted("lightning.ckpt")
    strict_error(edit_models.EditNet(), ckpt["state_dict"])
    out = edit_ok(fixture("lightning.ckpt"), str(tmp_path / "out.pt"), "--extract", "state_dict", "--strip-prefix", "model.")
    loads_strict(edit_models.EditNet(), out)
    assert same_value(out, strip(ckpt["state_dict"], "model."))


# ---------------------------------------------------------------------------------------------
# --rename


RENAME_CASES = [
    ("ddp.pt", [], [("module.", "")], True),
    ("ddp.pt", [], [("module", "net")], False),
    ("compiled.pt", [], [("_orig_mod.features", "backbone"), ("_orig_mod.head", "classifier")], False),
    ("train_net.pt", ["--extract", "net"], [("module.", ""), ("features.0", "features.conv")], False),
    ("module_cnn.pt", ["--state-dict"], [("heads.cls", "heads.main")], False),  # heads.cls_aux.* untouched
    ("lightning.ckpt", ["--extract", "state_dict"], [("model.", "")], True),
]


@pytest.mark.parametrize("name,root,rules,strict", RENAME_CASES,
                         ids=[f"{c[0]}-{'+'.join(o + '=' + n for o, n in c[2])}" for c in RENAME_CASES])
def test_rename(name, root, rules, strict, tmp_path):
    want = trusted(name)
    if root == ["--extract", "net"]:
        want = want["net"]
    elif root == ["--extract", "state_dict"]:
        want = want["state_dict"]
    elif root == ["--state-dict"]:
        want = want.state_dict()
    ops = list(root)
    for old, new in rules:
        ops += ["--rename", f"{old}={new}"]
        want = rename(want, old, new)
    out = edit_ok(fixture(name), str(tmp_path / "out.pt"), *ops)
    assert list(out) == list(want)
    assert same_value(out, want)
    if strict:
        loads_strict(model_for(name), out)


def test_rename_empty_old_adds_a_prefix(tmp_path):
    """Plain keys -> a DataParallel-wrapped model: `--rename =module.` prefixes every key."""
    sd = trusted("train_model_state_dict.pt")["model_state_dict"]
    target = torch.nn.DataParallel(edit_models.EditNet())
    strict_error(target, sd)
    out = edit_ok(fixture("train_model_state_dict.pt"), str(tmp_path / "out.pt"),
                  "--extract", "model_state_dict", "--rename", "=module.")
    loads_strict(target, out)
    assert same_value(out, OrderedDict(("module." + k, v) for k, v in sd.items()))


# ---------------------------------------------------------------------------------------------
# --state-dict


def difference(a: torch.Tensor, b: torch.Tensor) -> str:
    """What same_tensor() found different, for the failure message."""
    fields = {"dtype": lambda t: t.dtype, "shape": lambda t: tuple(t.shape), "stride": lambda t: t.stride(),
              "offset": lambda t: t.storage_offset(), "device": lambda t: t.device,
              "requires_grad": lambda t: t.requires_grad}
    diffs = [f"{n} {f(a)} != {f(b)}" for n, f in fields.items() if f(a) != f(b)]
    return "; ".join(diffs) or "storage bytes differ"


def assert_plain_state_dict(out, want):
    assert type(out) is OrderedDict, f"--state-dict wrote a {type(out).__name__}, not an OrderedDict"
    assert list(out) == list(want), "keys or their order differ from torch's state_dict()"
    for k, v in out.items():
        assert type(v) is torch.Tensor, f"{k} is a {type(v).__name__}, not a plain Tensor"
        assert same_tensor(v, want[k]), f"{k} differs from torch's state_dict()[{k!r}]: {difference(v, want[k])}"


@pytest.mark.parametrize("name,extra", [("module_cnn.pt", []), ("module_tied.pt", []),
                                        ("module_cnn_cuda0.pt", ["--to", "cpu"])])
def test_state_dict_of_whole_module(name, extra, tmp_path):
    module = trusted(name)
    assert isinstance(module, torch.nn.Module)
    want = module.state_dict()
    out = edit_ok(fixture(name), str(tmp_path / "out.pt"), "--state-dict", *extra)
    assert_plain_state_dict(out, want)
    loads_strict(model_for(name), out)


def test_state_dict_leaves_out_non_persistent_buffers_and_none(tmp_path):
    out = edit_ok(fixture("module_cnn.pt"), str(tmp_path / "out.pt"), "--state-dict")
    assert not {"scratch", "maybe", "unused"} & set(out), "non-persistent or None entries listed"
    assert not {"stem.0.bias", "blocks.0.conv.bias", "blocks.1.conv.bias", "heads.cls_aux.bias"} & set(out)
    assert list(out)[:2] == ["scale", "pos"], "a module's own params and buffers come before its children's"


def test_state_dict_keeps_tied_storage(tmp_path):
    out = edit_ok(fixture("module_tied.pt"), str(tmp_path / "out.pt"), "--state-dict")
    assert out["embed.weight"].untyped_storage().data_ptr() == out["head.weight"].untyped_storage().data_ptr()
    assert out["enc.weight"].untyped_storage().data_ptr() == out["enc_alias.weight"].untyped_storage().data_ptr()


def test_state_dict_of_module_inside_a_dict(tmp_path):
    want = trusted("module_in_dict.pt")["model"].state_dict()
    out = edit_ok(fixture("module_in_dict.pt"), str(tmp_path / "out.pt"), "--extract", "model", "--state-dict")
    assert_plain_state_dict(out, want)


TRAINING = [("train_loop.pt", []), ("train_model_state_dict.pt", []), ("train_net.pt", []),
            ("lightning.ckpt", []), ("train_loop_cuda0.pt", ["--to", "cpu"])]


@pytest.mark.parametrize("name,extra", TRAINING)
def test_state_dict_of_training_checkpoint(name, extra, tmp_path):
    want = resolve(trusted(name), MANIFEST[name]["state_dict_path"])
    out = edit_ok(fixture(name), str(tmp_path / "out.pt"), "--state-dict", *extra)
    assert_plain_state_dict(out, want)


def test_state_dict_refuses_several_candidates(tmp_path):
    out = tmp_path / "out.pt"
    result = edit(fixture("train_ema.pt"), "--state-dict", "-o", str(out))
    refused(result, 1)
    assert "state_dict" in result.stderr and "state_dict_ema" in result.stderr, result.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name,extra", [("ts_script.pt", []), ("ts_device.pt", []), ("ts_attrs.pt", []),
                                        ("ts_script_cuda0.pt", ["--to", "cpu"]),
                                        ("ts_device_cuda0.pt", ["--to", "cpu"])])
def test_state_dict_of_torchscript(name, extra, tmp_path):
    want = torch.jit.load(fixture(name), map_location="cpu").state_dict()
    out = edit_ok(fixture(name), str(tmp_path / "out.pt"), "--state-dict", *extra)
    assert_plain_state_dict(out, want)


# ---------------------------------------------------------------------------------------------
# --extract, --drop, --keep


EXTRACT_CASES = [
    ("lightning.ckpt", "state_dict", []),
    ("lightning.ckpt", "optimizer_states.0", []),
    ("lightning.ckpt", "callbacks", []),
    ("lightning.ckpt", "hyper_parameters", []),
    ("train_loop.pt", "model", []),
    ("train_loop.pt", "optimizer", []),
    ("train_loop.pt", "optimizer.state.0", []),
    ("train_loop.pt", "model.head.weight", []),  # a key with dots inside a dict: the root becomes one tensor
    ("train_model_state_dict.pt", "model_state_dict", []),
    ("train_net.pt", "net", []),
    ("train_loop_cuda0.pt", "model", ["--to", "cpu"]),
]


@pytest.mark.parametrize("name,path,extra", EXTRACT_CASES, ids=[f"{c[0]}-{c[1]}" for c in EXTRACT_CASES])
def test_extract(name, path, extra, tmp_path):
    want = resolve(trusted(name), path)
    out = edit_ok(fixture(name), str(tmp_path / "out.pt"), "--extract", path, *extra)
    assert same_value(out, want)
    assert type(out) is type(want)


DROP_KEEP_CASES = [
    ("train_loop.pt", ["--drop", "args", "--drop", "best_acc"]),  # what weights_only refused is gone
    ("train_loop.pt", ["--drop", "optimizer.state", "--drop", "args", "--drop", "best_acc"]),
    ("train_loop.pt", ["--drop", "model.*running_*", "--drop", "args", "--drop", "best_acc"]),
    ("train_loop.pt", ["--keep", "model", "--keep", "epoch"]),
    ("train_loop.pt", ["--keep", "model.head.*"]),
    ("train_loop_cuda0.pt", ["--drop", "args", "--drop", "best_acc", "--to", "cpu"]),
    ("ddp.pt", ["--drop", "*.num_batches_tracked"]),
    ("ddp.pt", ["--keep", "module.features.*"]),
    ("lightning.ckpt", ["--drop", "optimizer_states", "--drop", "loops", "--drop", "callbacks"]),
    ("lightning.ckpt", ["--keep", "state_dict.model.head.*"]),
    ("train_ema.pt", ["--drop", "state_dict_ema", "--drop", "args"]),
]


@pytest.mark.parametrize("name,ops", DROP_KEEP_CASES, ids=[f"{c[0]}-{' '.join(c[1])}" for c in DROP_KEEP_CASES])
def test_drop_keep(name, ops, tmp_path):
    want = trusted(name)
    drops = [ops[i + 1] for i in range(len(ops) - 1) if ops[i] == "--drop"]
    keeps = [ops[i + 1] for i in range(len(ops) - 1) if ops[i] == "--keep"]
    if drops:
        want = drop(want, drops)
    if keeps:
        want = keep(want, keeps)
    out = edit_ok(fixture(name), str(tmp_path / "out.pt"), *ops)
    assert same_value(out, want)
    assert [p for p, _ in tensors(out)] == [p for p, _ in tensors(want)]


# ---------------------------------------------------------------------------------------------
# --cast


@pytest.mark.parametrize("name", ["cast.pt", "cast_bigendian.pt"])
@pytest.mark.parametrize("spelling", list(CAST_NAMES))
def test_cast_values(name, spelling, tmp_path):
    dtype = CAST_NAMES[spelling]
    original = torch.load(fixture(name), map_location="cpu")
    out = edit_ok(fixture(name), str(tmp_path / "out.pt"), "--cast", spelling)
    assert list(out) == list(original)
    assert_cast_all([(key, out[key], t) for key, t in original.items()], dtype)
    # Converted records get their CRC-32 after the data is written: Python's zipfile checks
    # every record's checksum against its bytes.
    with zipfile.ZipFile(tmp_path / "out.pt") as archive:
        assert archive.testzip() is None


@pytest.mark.parametrize("name", ["cast.pt", "cast_bigendian.pt"])
@pytest.mark.parametrize("spelling", ["bf16", "fp16", "fp64"])
def test_cast_keeps_layout_and_sharing(name, spelling, tmp_path):
    original = torch.load(fixture(name), map_location="cpu")
    out = edit_ok(fixture(name), str(tmp_path / "out.pt"), "--cast", spelling)
    assert storage_groups(original), "the fixture has views sharing a storage"
    assert_same_sharing(out, original)
    for key, t in original.items():
        if t.is_quantized:
            continue
        assert out[key].stride() == t.stride() and out[key].storage_offset() == t.storage_offset(), key


@pytest.mark.parametrize("name,ops,root", [
    ("train_loop_cuda0.pt", ["--extract", "model", "--cast", "bf16", "--to", "cpu"], "model"),
    ("train_loop_cuda0.pt", ["--extract", "model", "--cast", "fp16", "--map", "cuda:0=cpu"], "model"),
    ("lightning.ckpt", ["--cast", "fp16"], None),
    ("ddp_cuda0.pt", ["--strip-prefix", "auto", "--cast", "bfloat16", "--to", "cpu"], None),
])
def test_cast_with_other_edits(name, ops, root, tmp_path):
    dtype = CAST_NAMES[ops[ops.index("--cast") + 1]]
    want = trusted(name)
    if root:
        want = want[root]
    if "--strip-prefix" in ops:
        want = strip(want, MANIFEST[name]["prefix"])
    out = edit_ok(fixture(name), str(tmp_path / "out.pt"), *ops)
    got_t, want_t = tensors(out), tensors(want)
    assert [p for p, _ in got_t] == [p for p, _ in want_t]
    assert_cast_all([(path, g, w) for (path, g), (_, w) in zip(got_t, want_t)], dtype)
    # everything that is not a tensor is unchanged
    assert same_value(map_tensors(out, lambda t: None), map_tensors(want, lambda t: None))
    assert_same_sharing(out, want)


# ---------------------------------------------------------------------------------------------
# --from-error


FROM_ERROR_CASES = [
    ("ddp.pt", None, "EditNet", []),
    ("dataparallel.pt", None, "EditNet", []),
    ("compiled.pt", None, "EditNet", []),
    ("ddp_compiled.pt", None, "EditNet", []),
    ("compiled_ddp.pt", None, "EditNet", []),
    ("ddp_cuda0.pt", None, "EditNet", ["--to", "cpu"]),
    ("lightning.ckpt", "state_dict", "EditNet", []),
    ("train_net.pt", "net", "EditNet", []),
    ("train_model_state_dict.pt", "model_state_dict", "DataParallel", []),  # keys must GAIN 'module.'
    ("train_model_state_dict.pt", "model_state_dict", "compile", []),  # keys must gain '_orig_mod.'
]


def target_model(kind: str) -> torch.nn.Module:
    if kind == "DataParallel":
        return torch.nn.DataParallel(edit_models.EditNet())
    if kind == "compile":
        return torch.compile(edit_models.EditNet())
    return edit_models.EditNet()


@pytest.mark.parametrize("via", ["file", "stdin", "traceback"])
@pytest.mark.parametrize("name,path,target,extra", FROM_ERROR_CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in FROM_ERROR_CASES])
def test_from_error(name, path, target, extra, via, tmp_path):
    original = trusted(name)
    sd = original[path] if path else original
    try:
        target_model(target).load_state_dict(sd, strict=True)
    except RuntimeError as error:  # the real text torch raised, or the whole pasted traceback
        message = traceback.format_exc() if via == "traceback" else str(error)
    else:
        raise AssertionError("the original loads strict: nothing to learn from")
    root = ["--extract", path] if path else []
    out_path = str(tmp_path / "out.pt")
    if via == "stdin":
        out = edit_ok(fixture(name), out_path, *root, "--from-error", "-", *extra, stdin=message)
    else:
        err = tmp_path / "error.txt"
        err.write_text(message, encoding="utf-8")
        out = edit_ok(fixture(name), out_path, *root, "--from-error", str(err), *extra)
    loads_strict(target_model(target), out)
    assert same_value(list(out.values()), list(sd.values())), "values changed (or their order)"


# ---------------------------------------------------------------------------------------------
# device moves combined with key edits


def test_only_limits_the_device_move(tmp_path):
    name = "train_loop_cuda0.pt"
    out_path = str(tmp_path / "out.pt")
    edit_ok(fixture(name), out_path, "--drop", "args", "--drop", "best_acc", "--to", "cpu", "--only", "model.*",
            plain_load=False)
    want = drop(trusted(name), ["args", "best_acc"])
    seen = {}

    def spy(storage, location):
        seen.setdefault(location, 0)
        seen[location] += 1
        return storage

    got = torch.load(out_path, map_location=spy)
    assert same_value(got, want)
    n_model = len(want["model"])
    n_cuda = sum(1 for p, t in tensors(want["optimizer"]) if not p.endswith(".step"))
    assert seen.get("cpu", 0) == n_model + len(want["optimizer"]["state"]), seen
    assert seen.get("cuda:0", 0) == n_cuda, seen


def test_custom_device(tmp_path):
    src = fixture("ddp_cuda0.pt")
    out = tmp_path / "out.pt"
    refused(edit(src, "--to", "banana", "-o", str(out)), 1)
    assert not out.exists()
    result = edit(src, "--to", "banana", "--custom-device", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert set(locations(str(out))) == {"banana"}
    assert same_value(torch.load(str(out), map_location="cpu"), trusted("ddp_cuda0.pt"))


# ---------------------------------------------------------------------------------------------
# refusals, usage, output handling


REFUSALS = [
    ("rename_collision", "ddp.pt", ["--rename", "module.features.0=module.features.1"], 1),
    ("extract_unknown", "train_loop.pt", ["--extract", "nope"], 1),
    ("extract_unknown_nested", "lightning.ckpt", ["--extract", "state_dict.model.nope"], 1),
    ("to_banana", "ddp_cuda0.pt", ["--to", "banana"], 1),
    ("to_cuda0_typo", "ddp_cuda0.pt", ["--to", "cuda0"], 1),
    ("map_to_banana", "ddp_cuda0.pt", ["--map", "cuda:0=banana"], 1),
    ("strip_nothing", "ddp.pt", ["--strip-prefix", "nope."], 1),
    ("strip_auto_nothing", "train_model_state_dict.pt", ["--extract", "model_state_dict", "--strip-prefix", "auto"], 1),
    ("state_dict_candidates", "train_ema.pt", ["--state-dict"], 1),
    ("usage_bad_rename", "ddp.pt", ["--rename", "no-equals-sign"], 64),
    # The issue: "cast of an unsupported dtype" is a refused request (1), not a usage error.
    ("cast_unsupported", "cast.pt", ["--cast", "int8"], 1),
]


@pytest.mark.parametrize("case,name,ops,code", REFUSALS, ids=[c[0] for c in REFUSALS])
def test_refusal_writes_nothing(case, name, ops, code, tmp_path):
    out = tmp_path / "out.pt"
    refused(edit(fixture(name), *ops, "-o", str(out)), code)
    assert os.listdir(tmp_path) == [], f"{case}: something was written: {os.listdir(tmp_path)}"


def test_usage_and_unreadable_input(tmp_path):
    refused(edit(fixture("ddp.pt"), "--strip-prefix", "auto"), 64)  # neither -o nor --in-place
    refused(edit(str(tmp_path / "missing.pt"), "--strip-prefix", "auto", "-o", str(tmp_path / "o.pt")), 2)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 this is not a checkpoint")
    refused(edit(str(bad), "--strip-prefix", "auto", "-o", str(tmp_path / "o.pt")), 2)
    assert sorted(os.listdir(tmp_path)) == ["bad.pt"]


def test_existing_output_needs_force(tmp_path):
    out = tmp_path / "out.pt"
    out.write_bytes(b"keep me")
    refused(edit(fixture("ddp.pt"), "--strip-prefix", "auto", "-o", str(out)), 1)
    assert out.read_bytes() == b"keep me"
    result = edit(fixture("ddp.pt"), "--strip-prefix", "auto", "-o", str(out), "--force")
    assert result.returncode == 0, result.stderr
    loads_strict(edit_models.EditNet(), torch.load(str(out)))
    assert sorted(os.listdir(tmp_path)) == ["out.pt"]


def test_in_place(tmp_path):
    copy = tmp_path / "ddp.pt"
    shutil.copyfile(fixture("ddp_cuda0.pt"), copy)
    result = edit(str(copy), "--strip-prefix", "auto", "--to", "cpu", "--in-place")
    assert result.returncode == 0, result.stderr
    loaded = torch.load(str(copy))
    loads_strict(edit_models.EditNet(), loaded)
    assert same_value(loaded, strip(trusted("ddp_cuda0.pt"), "module."))
    assert sorted(os.listdir(tmp_path)) == ["ddp.pt"], "no temporary file left behind"


def test_json_report_and_no_progress(tmp_path):
    out = str(tmp_path / "out.pt")
    result = edit(fixture("ddp.pt"), "--strip-prefix", "auto", "--json", "--no-progress", "-o", out)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert isinstance(report, dict)
    loads_strict(edit_models.EditNet(), torch.load(out))


# ---------------------------------------------------------------------------------------------
# inputs torch refuses: no edit may copy the defect into a file that looks fine


def test_record_size_mismatch_is_refused_unless_dropped(tmp_path):
    """zip_storage_too_big.pt: record data/0 holds 8 bytes more than its storage declares, which
    torch.load refuses. Any edit that keeps that storage is refused by name; dropping the one
    tensor that reads it writes a file torch loads."""
    src = os.path.join(REPO, "Tests", "Fixtures", "hostile", "zip_storage_too_big.pt")
    with pytest.raises(RuntimeError, match="does not match expected size"):
        torch.load(src, map_location="cpu")
    out = tmp_path / "out.pt"
    for args in (["--to", "cpu"], ["--cast", "bf16"], ["--rename", "=x."]):
        result = edit(src, *args, "-o", str(out))
        refused(result, 1)
        assert "data/0" in result.stderr and "conv.weight" in result.stderr, result.stderr
        assert not out.exists()
    remap = subprocess.run([PTVIEW, "remap", src, "--to", "cpu", "-o", str(out)], capture_output=True, text=True)
    refused(remap, 1)
    assert not out.exists()
    kept = edit_ok(src, str(out), "--drop", "conv.weight")
    # The fixture is sd_cpu.pt with data/0 grown (Scripts/make_hostile.py): the rest is its.
    want = torch.load(os.path.join(REPO, "Tests", "Fixtures", "torch", "sd_cpu.pt"), map_location="cpu")
    del want["conv.weight"]
    assert list(kept) == list(want)
    for k in want:
        assert same_tensor(kept[k], want[k]), k
