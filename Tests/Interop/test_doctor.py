"""Interop test for `ptview doctor`: real PyTorch is the judge.

For every fixture in Tests/Fixtures/torch and for cases generated here with real torch
(cuda-tagged via the torch-format section 7 recipe, numpy scalars, argparse.Namespace, whole
modules, protocols 1/3/4/5, TorchScript, legacy, meta, mps, ...), it runs `ptview doctor FILE`
and, in a separate subprocess, a plain `torch.load(FILE)` on this CPU-only machine, and checks
that exit 0 <=> torch loaded and exit 3/4 <=> torch raised (exit 2, unreadable, must also mean
torch raised). Where doctor says 3 it also runs the suggested `ptview remap` (when the remap
subcommand exists) and checks that plain torch.load of the output succeeds; for the generated
cases it runs every suggested `ptview edit` line too (test_doctor_edit.py judges the
repository's fixtures bit for bit).

Run:  PTVIEW=.build/debug/ptview /root/.cache/ptview/venv/bin/python -m pytest Tests/Interop/test_doctor.py
  or  PTVIEW=.build/debug/ptview /root/.cache/ptview/venv/bin/python Tests/Interop/test_doctor.py
With CI=true it fails (never skips) when torch cannot be imported.
"""
import json
import os
import shlex
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(REPO, "Tests", "Fixtures", "torch")
PTVIEW = os.environ.get("PTVIEW", os.path.join(REPO, ".build", "debug", "ptview"))
if not os.path.isabs(PTVIEW):
    PTVIEW = os.path.join(REPO, PTVIEW)

try:
    import torch  # noqa: F401
    HAVE_TORCH = True
except Exception:  # pragma: no cover
    HAVE_TORCH = False

# A plain torch.load in a fresh interpreter: the file's own pickle never runs in this process.
LOADER = r"""
import sys, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, sys.argv[2])
import torch
try:
    torch.load(sys.argv[1])
except BaseException as e:
    print(type(e).__name__ + ": " + str(e)[:300].replace("\n", " "))
    sys.exit(1)
print("ok")
"""


def torch_loads(path):
    """(loaded?, message) from a plain torch.load(path) in a separate process."""
    r = subprocess.run([sys.executable, "-c", LOADER, path, os.path.join(REPO, "Scripts")],
                       capture_output=True, text=True, timeout=600)
    return r.returncode == 0, (r.stdout + r.stderr).strip()[-400:]


def doctor(path):
    r = subprocess.run([PTVIEW, "doctor", "--json", path], capture_output=True, text=True, timeout=600)
    report = None
    try:
        report = json.loads(r.stdout)
    except ValueError:
        pass
    return r.returncode, report, r.stdout + r.stderr


def remap_available():
    r = subprocess.run([PTVIEW, "remap", "--help"], capture_output=True, text=True)
    if r.returncode != 0:
        return False
    probe = subprocess.run([PTVIEW, "remap", "/nonexistent.pt", "-o", "/tmp/ptview-probe-out.pt", "--to", "cpu"],
                           capture_output=True, text=True)
    return "not implemented" not in (probe.stdout + probe.stderr)


# ---------------------------------------------------------------------------------------------
# Cases generated with real torch

GENERATOR = r"""
import argparse, collections, os, sys, torch, numpy as np
out = sys.argv[1]
sys.path.insert(0, sys.argv[2])
_LOC = {"v": None}
def fake_tag(storage):
    if _LOC["v"] is not None and storage.device.type == "cpu":
        return (_LOC["v"] + ".")[:-1]
    return None
torch.serialization.register_package(-100, fake_tag, lambda storage, location: None)
def save_as(obj, name, location=None, **kw):
    _LOC["v"] = location
    try:
        torch.save(obj, os.path.join(out, name), **kw)
    finally:
        _LOC["v"] = None
torch.manual_seed(0)
sd = collections.OrderedDict(w=torch.randn(3, 4), b=torch.zeros(4))
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__(); self.fc = torch.nn.Linear(4, 2)
    def forward(self, x): return self.fc(x)
save_as(sd, "gen_cpu.pt")
for tag in ["cuda:0", "cuda:3", "xpu:0", "mps", "meta", "npu:0", "hpu:0", "privateuseone:0", "cpu:0", "cuda"]:
    save_as(sd, "gen_" + tag.replace(":", "_") + ".pt", tag)
save_as(sd, "gen_legacy_cpu.pt", None, _use_new_zipfile_serialization=False)
save_as(sd, "gen_legacy_cuda0.pt", "cuda:0", _use_new_zipfile_serialization=False)
save_as({"sd": sd, "best": np.float64(0.5)}, "gen_numpy_scalar.pt")
save_as({"sd": sd, "arr": np.arange(4, dtype=np.int32)}, "gen_numpy_array.pt")
save_as({"args": argparse.Namespace(lr=0.1), "sd": sd}, "gen_namespace.pt")
save_as({"args": argparse.Namespace(lr=0.1)}, "gen_namespace_cuda0.pt", "cuda:0")
save_as(Net(), "gen_whole_module.pt")
for p in [1, 3, 4, 5]:
    save_as(sd, f"gen_proto{p}.pt", None, pickle_protocol=p)
save_as(sd, "gen_proto4_cuda0.pt", "cuda:0", pickle_protocol=4)
save_as({"s": slice(1, 2)}, "gen_slice.pt")
save_as({"f": frozenset([1])}, "gen_frozenset.pt")
save_as({"d": collections.defaultdict(list)}, "gen_defaultdict.pt")
save_as({"c": collections.Counter(a=1), "set": {1, 2}, "b": b"xy", "z": complex(1, 2), "big": 2**70}, "gen_containers.pt")
save_as({"layout": torch.sparse_coo}, "gen_layout.pt")
save_as({"dt": torch.float16, "dev": torch.device("cuda", 1), "size": torch.Size([2, 3])}, "gen_torch_objects.pt")
save_as({"m": torch.empty(2, 3, device="meta")}, "gen_meta_tensor.pt")
save_as({"p": torch.nn.Parameter(torch.ones(2))}, "gen_parameter.pt")
save_as({"q": torch.quantize_per_tensor(torch.ones(4), 0.1, 0, torch.quint8)}, "gen_quantized.pt")
save_as({"t": torch.ones(2, dtype=torch.float8_e4m3fn)}, "gen_float8.pt")
save_as({"sp": torch.eye(3).to_sparse()}, "gen_sparse.pt")
torch.jit.save(torch.jit.script(Net()), os.path.join(out, "gen_torchscript.pt"))
torch.jit.save(torch.jit.trace(Net(), torch.ones(1, 4)), os.path.join(out, "gen_torchscript_traced.pt"))
with open(os.path.join(out, "gen_bare_pickle.pkl"), "wb") as f:
    import pickle; pickle.dump({"a": 1}, f, protocol=2)
with open(os.path.join(out, "gen_text.txt"), "w") as f:
    f.write("not a checkpoint\n")
print("generated")
"""


def generated_cases(tmp):
    # A real file: torch.jit.script reads the source of the classes it compiles.
    script = os.path.join(os.path.dirname(tmp), "generate_cases.py")
    with open(script, "w") as f:
        f.write(GENERATOR)
    r = subprocess.run([sys.executable, script, tmp, os.path.join(REPO, "Scripts")],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    return sorted(os.path.join(tmp, f) for f in os.listdir(tmp))


def fixture_cases():
    out = []
    for dirpath, _, files in os.walk(FIXTURES):
        for f in files:
            # An X.index.json means its folder (issue 12): doctor judges every shard, which
            # test_folders.py checks against torch; torch.load of the JSON itself is not the
            # question doctor answers for it any more.
            if f.endswith((".txt", ".json")):
                continue
            out.append(os.path.join(dirpath, f))
    return sorted(out)


def check(path, use_remap, failures, tmp):
    code, report, text = doctor(path)
    loaded, message = torch_loads(path)
    name = os.path.relpath(path, REPO) if path.startswith(REPO) else os.path.basename(path)
    if path.endswith(".safetensors"):
        # torch.load hands .safetensors paths to the safetensors package; doctor assumes it exists.
        have = subprocess.run([sys.executable, "-c", "import safetensors"], capture_output=True).returncode == 0
        if not have:
            ok = code == 0 and "safetensors is not installed" in message
            print(f"{'ok ' if ok else 'BAD'} {name}: doctor {code}, torch needs the safetensors package")
            if not ok:
                failures.append(f"{name}: doctor {code}; torch: {message}")
            return
    if code == 0:
        ok = loaded
    elif code in (2, 3, 4):
        ok = not loaded
    else:
        ok = False
    print(f"{'ok ' if ok else 'BAD'} {name}: doctor {code}, torch {'loaded' if loaded else 'raised: ' + message[:120]}")
    if not ok:
        failures.append(f"{name}: doctor exit {code} but torch {'loaded' if loaded else 'raised ' + message}\n{text[-1500:]}")
        return
    edits = [c for c in (report or {}).get("fix_commands", []) if c.get("kind") == "edit"]
    if edits and not path.startswith(REPO):
        # A generated case (the repository's fixtures are judged bit for bit, on copies, by
        # test_doctor_edit.py): run each suggested edit as printed; plain torch.load must take it.
        if code != 4:
            failures.append(f"{name}: an edit fix with exit {code}")
        for fix in edits:
            r = subprocess.run([PTVIEW] + fix["arguments"], capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                failures.append(f"{name}: suggested edit failed ({r.returncode}): {r.stdout}{r.stderr}")
                continue
            loaded_after, message_after = torch_loads(fix["output"])
            print(f"    {'ok ' if loaded_after else 'BAD'} after {fix['command']}: {'loaded' if loaded_after else message_after[:120]}")
            if not loaded_after:
                failures.append(f"{name}: torch.load fails after the suggested edit: {message_after}")
    if code == 3 and use_remap and report and report.get("remap"):
        out = os.path.join(tmp, "remapped-" + os.path.basename(path))
        argv = shlex.split(report["remap"])
        argv[0] = PTVIEW
        argv[argv.index("-o") + 1] = out
        r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            failures.append(f"{name}: suggested remap failed ({r.returncode}): {r.stdout}{r.stderr}")
            return
        loaded_after, message_after = torch_loads(out)
        print(f"    {'ok ' if loaded_after else 'BAD'} after remap: {'loaded' if loaded_after else message_after[:120]}")
        if not loaded_after:
            failures.append(f"{name}: torch.load still fails after the suggested remap: {message_after}")


def run_all():
    if not HAVE_TORCH:
        if os.environ.get("CI") == "true":
            raise AssertionError("torch cannot be imported, and CI=true: the doctor interop test cannot be skipped")
        print("torch is not importable: skipping the doctor interop test (set CI=true to make this fatal)")
        return []
    assert os.path.exists(PTVIEW), f"ptview binary not found at {PTVIEW} (set PTVIEW)"
    use_remap = remap_available()
    if not use_remap:
        print("note: `ptview remap` is not available yet; the remap round-trip is not checked")
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        gen = os.path.join(tmp, "gen")
        os.makedirs(gen)
        for path in fixture_cases() + generated_cases(gen):
            check(path, use_remap, failures, tmp)
    return failures


def test_doctor_predicts_torch_load():
    failures = run_all()
    assert not failures, "\n".join(failures)


if __name__ == "__main__":
    failures = run_all()
    for f in failures:
        print("FAIL", f)
    print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
    sys.exit(1 if failures else 0)
