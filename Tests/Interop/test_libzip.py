"""libzip is opened with dlopen at the first compressed record, never linked.

torch.save writes stored records, so most runs inflate nothing and, since libzip is no longer
linked, never map it (nor the libcrypto, libbz2 and libz it needs): about 1 ms of every run's
startup (docs/decisions.md). Judged here: a checkpoint whose every record is deflated (torch
itself loads it) still lists exactly what torch loads; without libzip (`PTVIEW_LIBZIP` names a
missing file) that file is a one-line error, exit 2, while a stored checkpoint still lists; the
dynamic loader's own trace shows when libzip is mapped; and the binary links none of them.

    PTVIEW=.build/debug/ptview $VENV/bin/python -m pytest Tests/Interop/test_libzip.py
"""
from __future__ import annotations

import os
import subprocess
import zipfile

import pytest

from interop_support import FIXTURES, PTVIEW, ls_json, torch
import torch_facts

STORED = os.path.join(FIXTURES, "sd_cpu.pt")


def run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([PTVIEW, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def deflated(tmp_path_factory) -> str:
    """A real torch.save checkpoint rewritten with every record deflated (as zip tools and
    some legacy writers leave them); torch.load reads it, which the test checks first."""
    folder = tmp_path_factory.mktemp("deflated")
    plain = str(folder / "plain.pt")
    torch.manual_seed(7)
    torch.save({"w": torch.randn(5, 3), "b": torch.arange(4, dtype=torch.int64),
                "h": torch.randn(2, 2).half()}, plain)
    path = str(folder / "deflated.pt")
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            out.writestr(info.filename, source.read(info.filename))
    with zipfile.ZipFile(path) as check:
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in check.infolist())
    loaded = torch.load(path, map_location="cpu")
    assert set(loaded) == {"w", "b", "h"}
    return path


def test_deflated_records_still_list_what_torch_loads(deflated):
    facts = {f["key"]: f for f in torch_facts.facts(deflated)}
    listed = {e["key"]: e for e in ls_json(deflated)}
    assert set(listed) == set(facts)
    for key, fact in facts.items():
        for field in ("dtype", "shape", "stride", "offset", "storage", "nbytes"):
            assert listed[key].get(field) == fact.get(field), (key, field)


def test_without_libzip_a_compressed_record_is_one_line_and_stored_files_still_list(deflated):
    missing = {"PTVIEW_LIBZIP": "/nonexistent/libzip.so.4"}
    result = run(["ls", deflated], env=missing)
    assert result.returncode == 2 and result.stdout == "", result
    assert result.stderr.count("\n") == 1, result.stderr
    assert "reading compressed zip entries needs libzip (Debian: apt-get install libzip4)" \
        in result.stderr, result.stderr
    assert "plain/" in result.stderr, result.stderr  # the record that needed it
    plain = run(["ls", STORED], env=missing)
    assert plain.returncode == 0 and plain.stdout == run(["ls", STORED]).stdout, plain.stderr


def test_libzip_is_mapped_only_when_a_record_is_compressed(deflated):
    result = run(["ls", STORED], env={"LD_DEBUG": "files"})
    assert result.returncode == 0 and "calling init" in result.stderr
    for name in ("libzip.so", "libcrypto.so", "libbz2.so"):
        assert name not in result.stderr, name
    result = run(["ls", deflated], env={"LD_DEBUG": "files"})
    assert result.returncode == 0 and "libzip.so.4" in result.stderr


def test_binary_links_neither_libzip_nor_what_it_needs():
    linked = subprocess.run(["ldd", PTVIEW], capture_output=True, text=True, check=True).stdout
    for name in ("libzip.so", "libcrypto.so", "libbz2.so", "libz.so"):
        assert name not in linked, linked
