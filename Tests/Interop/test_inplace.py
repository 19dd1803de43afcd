"""`--in-place` edits by appending, and `ptview repair`, judged by real torch and Python's zipfile.

- `remap/edit FILE --in-place` on zip and TorchScript files keeps the original bytes as a
  prefix of the result (nothing before the old end is written), and the result loads with a
  plain `torch.load(FILE)` and `torch.load(FILE, mmap=True)` equal, bit for bit, to the original
  loaded with map_location='cpu' (TorchScript: `torch.jit.load`); `zipfile` opens and testzips
  it; storage records keep their offsets (still 64-byte aligned); repeated edits append again.
- A torn append (the appended tail cut at every byte of the marker, in the pickle, the
  directory and the end records; or with pages of it lost as zeros) is named by readers, and
  `ptview repair` gives back the original bytes exactly; repair of intact files changes nothing;
  hostile tails (fake markers, zero padding) are never truncated.
- `--compact` rewrites in torch's own layout; `--cast` and legacy files fall back to a rewrite.

    PTVIEW=.build/debug/ptview $VENV/bin/python -m pytest -q Tests/Interop/test_inplace.py
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import warnings
import zipfile
from collections import OrderedDict

import pytest

from interop_support import FIXTURES, PTVIEW, REPO, data_offsets, manifest, ptview, same_value, torch

warnings.filterwarnings("ignore")
MANIFEST = manifest()
EDIT = os.path.join(REPO, "Tests", "Fixtures", "edit")
MARKER = 64
MAGIC = b"ptview append\x00\x00\x00"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def copy(src: str, tmp_path, name: str | None = None) -> str:
    dst = str(tmp_path / (name or os.path.basename(src)))
    shutil.copyfile(src, dst)
    return dst


def fresh_load(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def check_zip(path: str) -> None:
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
    roots = {n.split("/", 1)[0] for n in names}
    assert len(roots) == 1, roots


def zip_fixtures() -> list[str]:
    out = []
    for name, item in sorted(MANIFEST.items()):
        if item.get("container") not in ("zip", "torchscript"):
            continue
        locations = set(item.get("locations") or [])
        if not locations or locations <= {"cpu"}:
            continue
        if item.get("container") == "zip" and not item.get("torch_load_cpu", {}).get("ok"):
            continue
        out.append(name)
    return out


def assert_torch_equal(path: str, original: str, container: str) -> None:
    if container == "torchscript":
        result = fresh_load(f"import torch; torch.jit.load({path!r}); print('ok')")
        assert result.returncode == 0, result.stderr[-2000:]
        loaded = torch.jit.load(path)
        want = torch.jit.load(original, map_location="cpu")
        assert same_value(dict(loaded.state_dict()), dict(want.state_dict()))
        return
    result = fresh_load(f"import torch; torch.load({path!r}); print('ok')")
    assert result.returncode == 0, result.stderr[-2000:]
    want = torch.load(original, map_location="cpu")
    assert same_value(torch.load(path), want)
    assert same_value(torch.load(path, mmap=True), want)


@pytest.mark.parametrize("name", zip_fixtures())
def test_in_place_remap_appends(name, tmp_path):
    src = os.path.join(FIXTURES, name)
    path = copy(src, tmp_path)
    before = read(path)
    offsets = data_offsets(path)
    report = json.loads(ptview("remap", path, "--in-place", "--to", "cpu", "--json").stdout)
    after = read(path)
    assert report["in_place"]["mode"] == "append", report["in_place"]
    assert report["in_place"]["old_size"] == len(before)
    assert after[: len(before)] == before, "a byte before the old end was written"
    assert len(after) == len(before) + report["in_place"]["appended_bytes"]
    assert_torch_equal(path, src, MANIFEST[name]["container"])
    check_zip(path)
    # Every storage record is where it was, and still aligned.
    now = data_offsets(path)
    for record, offset in offsets.items():
        if "/data/" in record or "/constants/" in record:
            assert now[record] == offset, record
            assert offset % 64 == 0 or MANIFEST[name]["container"] == "torchscript"
    # Intact: repair changes nothing; info lists the superseded pickle.
    repaired = ptview("repair", path)
    assert "intact" in repaired.stdout and read(path) == after
    info = json.loads(ptview("info", "--json", path).stdout)
    assert info["appended"]["edits"] == 1
    assert info["appended"]["original_size"] == len(before)
    assert any(s["name"].endswith("/data.pkl") for s in info["appended"]["superseded"]) or \
        MANIFEST[name]["container"] == "torchscript"
    assert "--compact" in info["appended"]["compact"]
    assert "appended: 1 in-place edit" in ptview("info", path).stdout


def test_repeated_in_place_edits(tmp_path):
    src = os.path.join(FIXTURES, "sd_cuda0.pt")
    path = copy(src, tmp_path)
    sizes = [os.path.getsize(path)]
    for args in (["--map", "cuda:0=cuda:1"], ["--map", "cuda:1=cuda:0"], ["--to", "cpu"]):
        prefix = read(path)
        ptview("remap", path, "--in-place", *args)
        assert read(path)[: len(prefix)] == prefix
        sizes.append(os.path.getsize(path))
        check_zip(path)
        assert ptview("repair", path).returncode == 0 and os.path.getsize(path) == sizes[-1]
    assert sizes == sorted(sizes) and len(set(sizes)) == 4
    assert_torch_equal(path, src, "zip")
    info = json.loads(ptview("info", "--json", path).stdout)
    assert info["appended"]["edits"] == 3 and info["appended"]["original_size"] == sizes[0]
    # --compact: torch's own layout again, smaller, no appends left.
    ptview("remap", path, "--in-place", "--compact", "--to", "cpu")
    assert os.path.getsize(path) < sizes[-1]
    assert "appended" not in json.loads(ptview("info", "--json", path).stdout)
    assert_torch_equal(path, src, "zip")
    check_zip(path)
    fresh = str(tmp_path / "fresh" / os.path.basename(path))
    os.makedirs(os.path.dirname(fresh))
    ptview("remap", src, "--to", "cpu", "-o", fresh)
    assert read(fresh) == read(path), "--compact differs from a fresh remap of the original"


def test_edit_operations_in_place(tmp_path):
    src = os.path.join(EDIT, "ddp_cuda0.pt")
    path = copy(src, tmp_path)
    want = torch.load(src, map_location="cpu")
    original = read(path)
    for args in (["--strip-prefix", "module."], ["--rename", "head.=classifier."], ["--drop", "features.1.num_batches_tracked"],
                 ["--to", "cpu"]):
        result = subprocess.run([PTVIEW, "edit", path, "--in-place", *args, "--json"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["in_place"]["mode"] == "append"
        assert read(path)[: len(original)] == original
        check_zip(path)
    got = torch.load(path)
    expected = OrderedDict()
    for key, value in want.items():
        key = key[len("module."):]
        if key == "features.1.num_batches_tracked":
            continue
        if key.startswith("head."):
            key = "classifier." + key[len("head."):]
        expected[key] = value
    assert same_value(got, expected)
    assert same_value(torch.load(path, mmap=True), expected)


def test_state_dict_in_place_of_torchscript(tmp_path):
    src = os.path.join(EDIT, "ts_script_cuda0.pt")
    path = copy(src, tmp_path)
    original = read(path)
    result = subprocess.run([PTVIEW, "edit", path, "--in-place", "--state-dict", "--to", "cpu", "--json"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["in_place"]["mode"] == "append"
    assert read(path)[: len(original)] == original
    want = torch.jit.load(src, map_location="cpu").state_dict()
    got = torch.load(path)  # a plain torch.save file now: weights_only works
    assert same_value(dict(got), dict(want))
    assert same_value(dict(torch.load(path, mmap=True)), dict(want))
    check_zip(path)


def test_torchscript_code_rewrite_in_place(tmp_path):
    src = os.path.join(EDIT, "ts_device_cuda0.pt")
    path = copy(src, tmp_path)
    original = read(path)
    ptview("remap", path, "--in-place", "--to", "cpu")
    assert read(path)[: len(original)] == original
    with zipfile.ZipFile(path) as archive:
        code = [archive.read(n) for n in archive.namelist() if n.endswith(".py")]
    assert not any(b'torch.device("cuda:0")' in c for c in code)
    loaded = torch.jit.load(path)
    assert same_value(dict(loaded.state_dict()), dict(torch.jit.load(src, map_location="cpu").state_dict()))


def test_cast_and_legacy_fall_back_to_a_rewrite(tmp_path):
    path = copy(os.path.join(EDIT, "cast.pt"), tmp_path)
    report = json.loads(ptview("edit", path, "--in-place", "--cast", "bf16", "--json").stdout)
    assert report["in_place"]["mode"] == "rewrite" and "--cast" in report["in_place"]["reason"]
    text = ptview("edit", path, "--in-place", "--cast", "fp32").stdout
    assert "rewritten whole, not appended" in text
    legacy = copy(os.path.join(FIXTURES, "legacy_cuda0.pt"), tmp_path)
    report = json.loads(ptview("remap", legacy, "--in-place", "--to", "cpu", "--json").stdout)
    assert report["in_place"]["mode"] == "rewrite"
    assert same_value(torch.load(legacy), torch.load(os.path.join(FIXTURES, "legacy_cuda0.pt"), map_location="cpu"))
    assert sorted(os.listdir(tmp_path)) == ["cast.pt", "legacy_cuda0.pt"]


def test_compact_needs_in_place(tmp_path):
    result = ptview("remap", os.path.join(FIXTURES, "sd_cuda0.pt"), "--to", "cpu", "--compact",
                    "-o", str(tmp_path / "x.pt"), check=False)
    assert result.returncode == 64 and "--in-place" in result.stderr


def test_failed_append_leaves_the_file_as_it_was(tmp_path):
    path = copy(os.path.join(FIXTURES, "sd_cuda0.pt"), tmp_path)
    before = read(path)
    # A file-size limit just above the file's size: the append fails part way (EFBIG).
    blocks = len(before) // 1024 + 1
    result = subprocess.run(["bash", "-c", f"ulimit -f {blocks}; exec {PTVIEW} remap {path} --in-place --to cpu"],
                            capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "as it was" in result.stderr
    assert read(path) == before
    assert os.listdir(tmp_path) == ["sd_cuda0.pt"]


# ---------------------------------------------------------------------------------------------
# torn appends


@pytest.fixture(scope="module")
def appended(tmp_path_factory):
    """An original and the same file after one in-place remap (a big pickle, so the tail is
    more than a few pages), plus a TorchScript pair."""
    folder = tmp_path_factory.mktemp("torn")
    pairs = {}
    for name in ("sd_many.pt", "sd_cuda0.pt", "ts_scripted_cuda0.pt"):
        path = copy(os.path.join(FIXTURES, name), folder)
        original = read(path)
        ptview("remap", path, "--in-place", "--to", "cpu")
        pairs[name] = (original, read(path))
    # A second append on top of the first: tearing it gives back the first.
    path = copy(os.path.join(FIXTURES, "sd_cuda0.pt"), folder, "twice.pt")
    ptview("remap", path, "--in-place", "--map", "cuda:0=cuda:1")
    once = read(path)
    ptview("remap", path, "--in-place", "--to", "cpu")
    pairs["twice.pt"] = (once, read(path))
    return pairs


def cut_points(original: bytes, final: bytes) -> list[int]:
    n, total = len(original), len(final)
    tail = final[n:]
    cd = tail.rfind(b"PK\x06\x06")
    directory = final.rfind(b"PK\x01\x02", n)
    first_cd = final.find(b"PK\x01\x02", n)
    points = set(range(n + 1, n + MARKER + 2))  # every byte of the marker, and the first after
    step = max(1, (first_cd - n) // 12)
    points |= set(range(n + MARKER, first_cd, step))  # through the records
    points |= set(range(first_cd - 70, first_cd + 5))  # around the trailer
    points |= {first_cd + 1, (first_cd + directory) // 2, directory + 3}
    points |= set(range(n + cd - 2, total))  # the end records, byte by byte
    return sorted(p for p in points if n < p < total)


def assert_reader_names_torn(path: str, verbs=("ls", "info")) -> None:
    for verb in verbs:
        result = subprocess.run([PTVIEW, verb, path], capture_output=True, text=True)
        assert result.returncode == 2, (verb, result.returncode, result.stdout[-300:])
        assert "ptview repair" in result.stderr and "torn append" in result.stderr, result.stderr


@pytest.mark.parametrize("name", ["sd_many.pt", "sd_cuda0.pt", "ts_scripted_cuda0.pt", "twice.pt"])
def test_torn_tail_is_named_and_repaired(name, appended, tmp_path):
    original, final = appended[name]
    path = str(tmp_path / name)
    points = cut_points(original, final)
    assert len(points) > 100
    for k, cut in enumerate(points):
        with open(path, "wb") as f:
            f.write(final[:cut])
        if k % 7 == 0:
            assert_reader_names_torn(path)
        if k % 29 == 0:
            assert_reader_names_torn(path, ("tree", "dis", "doctor", "scan"))
        dry = ptview("repair", path, "--dry-run", "--json", check=False)
        assert dry.returncode == 0, (cut, dry.stderr)
        assert json.loads(dry.stdout)["state"] == "torn" and os.path.getsize(path) == cut
        result = ptview("repair", path, check=False)
        assert result.returncode == 0, (cut, result.stderr)
        assert sha256(read(path)) == sha256(original), f"cut at {cut} (+{cut - len(original)}) not restored"
    # The restored file is intact and repair leaves it alone.
    assert "intact" in ptview("repair", path).stdout and read(path) == original


@pytest.mark.parametrize("name", ["sd_many.pt", "sd_cuda0.pt"])
def test_lost_pages_are_repaired(name, appended, tmp_path):
    """Power loss with delayed allocation: the file has its new length but some pages of the
    append read as zeros (the marker, the pickle, the directory, or all of it)."""
    original, final = appended[name]
    n = len(original)
    path = str(tmp_path / name)
    first_cd = final.find(b"PK\x01\x02", n)
    holes = [(n, n + MARKER), (n, n + 4096), (n + MARKER + 100, n + MARKER + 300),
             (first_cd, first_cd + 200), (len(final) - 98, len(final)), (n, len(final)),
             (n + 10, n + 20)]
    for start, end in holes:
        damaged = bytearray(final)
        damaged[start:end] = bytes(min(end, len(final)) - start)
        with open(path, "wb") as f:
            f.write(damaged)
        if start == n and end >= len(final):
            # Nothing of the append survives: zeros alone are no evidence of one.
            result = ptview("repair", path, check=False)
            assert result.returncode == 1 and read(path) == bytes(damaged)
            continue
        if (start, end) != (n + 10, n + 20):
            assert_reader_names_torn(path)
        result = ptview("repair", path, check=False)
        assert result.returncode == 0, (start, end, result.stderr)
        assert read(path) == original, (start, end)


def test_repair_of_untouched_files_changes_nothing(tmp_path):
    for name in ("sd_cpu.pt", "ts_scripted.pt", "sd_many.pt", "sd_nocrc.pt", "sd_align4096.pt"):
        path = copy(os.path.join(FIXTURES, name), tmp_path)
        before = read(path)
        result = ptview("repair", path)
        assert "intact" in result.stdout
        assert json.loads(ptview("repair", path, "--json").stdout)["changed"] is False
        assert read(path) == before


def test_hostile_tails_are_not_truncated(tmp_path):
    src = os.path.join(FIXTURES, "sd_cpu.pt")
    original = read(src)
    n = len(original)

    def block(old_size: int, role: int, tail_crc: int | None = None) -> bytes:
        import zlib

        tail_len = min(old_size, 65536)
        if tail_crc is None:
            tail_crc = zlib.crc32(original[max(0, old_size - tail_len):old_size]) if old_size <= n else 0
        body = MAGIC + struct.pack("<IIQQII", 1, 64, old_size, tail_len, tail_crc, role) + bytes(12)
        return body + struct.pack("<I", zlib.crc32(body))

    cases = {
        "absurd_size": original + block(10**15, 0),
        "wrong_size": original + block(n - 100, 0),
        "wrong_crc": original + block(n, 0, tail_crc=1234),
        "garbage": original + b"hello, this is not an append" * 5,
        "zeros": original + bytes(5000),
        "marker_only_trailer_before_nothing": original + block(n + 7, 1),
    }
    for case, data in cases.items():
        path = str(tmp_path / f"{case}.pt")
        with open(path, "wb") as f:
            f.write(data)
        result = ptview("repair", path, check=False)
        assert result.returncode == 1, (case, result.stdout, result.stderr)
        assert len([ln for ln in result.stderr.splitlines() if ln.strip()]) == 1
        assert read(path) == data, f"{case}: repair changed the file"
    # A ptview marker inside a record of a file ptview never edited: intact, unchanged.
    inner = str(tmp_path / "inner.pt")
    torch.save({"x": torch.frombuffer(bytearray(block(100, 1) + block(100, 0)), dtype=torch.uint8)}, inner)
    before = read(inner)
    assert "intact" in ptview("repair", inner).stdout and read(inner) == before
    assert ptview("ls", inner).returncode == 0


def test_explorer_and_other_readers_accept_appended_files(tmp_path):
    path = copy(os.path.join(FIXTURES, "train_ckpt_cuda0.pt"), tmp_path)
    ptview("remap", path, "--in-place", "--to", "cpu")
    for verb in (["ls"], ["tree"], ["dis"], ["scan"], ["doctor"]):
        result = subprocess.run([PTVIEW, *verb, path], capture_output=True, text=True)
        assert result.returncode in (0, 3, 4), (verb, result.stderr)
        assert "torn" not in result.stderr


def test_an_edit_that_changes_nothing_writes_nothing(tmp_path):
    # torch's own pickle is normalised once (ptview re-encodes it); after that, nothing to do.
    path = copy(os.path.join(FIXTURES, "sd_cpu.pt"), tmp_path)
    ptview("remap", path, "--in-place", "--to", "cpu")
    before = read(path)
    report = json.loads(ptview("remap", path, "--in-place", "--to", "cpu", "--json").stdout)
    assert report["in_place"]["mode"] == "unchanged" and read(path) == before
    # The same remap twice: the second finds the file already as asked.
    path = copy(os.path.join(FIXTURES, "sd_cuda1.pt"), tmp_path)
    ptview("remap", path, "--in-place", "--to", "cpu")
    once = read(path)
    assert "needed no change" in ptview("remap", path, "--in-place", "--to", "cpu").stdout
    assert read(path) == once


def test_hard_linked_file_is_not_appended_to_unless_asked(tmp_path):
    """An append writes into the inode, so every hard link would change: refused with one line
    (nothing written) unless --hard-links; --compact renames a new file over this name only,
    leaving the other link's bytes as they were."""
    src = os.path.join(FIXTURES, "sd_cuda0.pt")
    path = copy(src, tmp_path)
    other = str(tmp_path / "other_link.pt")
    os.link(path, other)
    before = read(path)
    for verb in (["remap", "--to", "cpu"], ["edit", "--to", "cpu"]):
        result = ptview(verb[0], path, "--in-place", *verb[1:], check=False)
        assert result.returncode == 1 and result.stdout == "", result.stdout
        assert result.stderr.count("\n") == 1 and "hard links" in result.stderr, result.stderr
        assert "--hard-links" in result.stderr
        assert read(path) == before and read(other) == before
    compact = ptview("remap", path, "--in-place", "--compact", "--to", "cpu", "--json")
    assert json.loads(compact.stdout)["in_place"]["mode"] != "append"
    assert read(other) == before and os.stat(path).st_ino != os.stat(other).st_ino
    assert_torch_equal(path, src, "zip")
    # Asked for: the append goes through, and both names show it.
    path2 = copy(src, tmp_path, "again.pt")
    other2 = str(tmp_path / "again_link.pt")
    os.link(path2, other2)
    report = json.loads(ptview("remap", path2, "--in-place", "--hard-links", "--to", "cpu",
                               "--json").stdout)
    assert report["in_place"]["mode"] == "append"
    assert read(other2) == read(path2) and read(path2)[: len(before)] == before
    assert_torch_equal(other2, src, "zip")
