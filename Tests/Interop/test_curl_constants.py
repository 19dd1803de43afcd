"""libcurl's numbers, as ptview declares them, against the system's curl.h.

Sources/CCurlLoader declares the option, info and error numbers it uses itself, so that the
build needs no libcurl headers (libcurl is opened with dlopen for URLs only). A wrong number
would set the wrong option silently. This test compiles a small C program against the
system's <curl/curl.h> (Debian: libcurl4-openssl-dev, a test-only dependency that
Scripts/test.sh installs) and compares every number ptview declares:

* every `PTV_*` constant of CCurlLoader.h (`PTV_CURLOPT_X` is `CURLOPT_X`, and so on);
* every `CURLcode` of `Curl.Code` in CurlHandle.swift (each line's comment names it);
* the flags CurlLoader.c passes to curl_global_init (its comment names them).

Under CI a missing header or compiler is a failure, never a skip.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
LOADER = os.path.join(REPO, "Sources", "CCurlLoader")
HEADER = os.path.join(LOADER, "include", "CCurlLoader.h")
SWIFT = os.path.join(REPO, "Sources", "PTViewRemote", "CurlHandle.swift")

# PTV_ names whose curl.h counterpart is not the name without the prefix.
SPECIAL = {"PTV_CURLPROTO_HTTP_S": "(CURLPROTO_HTTP | CURLPROTO_HTTPS)"}


def unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (Scripts/test.sh installs libcurl4-openssl-dev for this test)")
    pytest.skip(reason)


def declared() -> dict[str, str]:
    """Every number ptview declares, as a C expression of its own, by the curl.h name."""
    out: dict[str, str] = {}
    with open(HEADER, encoding="utf-8") as f:
        header = f.read()
    for name in re.findall(r"\b(PTV_[A-Z0-9_]+)\s*=", header):
        out[SPECIAL.get(name, name[len("PTV_"):])] = name
    with open(SWIFT, encoding="utf-8") as f:
        swift = f.read()
    body = re.search(r"enum Code \{(.*?)\n  \}", swift, re.S)
    assert body, "Curl.Code not found in CurlHandle.swift"
    lines = [line.strip() for line in body.group(1).splitlines() if "static let" in line]
    for line in lines:
        m = re.fullmatch(r"static let \w+: Int32 = (\d+)\s*// (CURLE_[A-Z0-9_]+)", line)
        assert m, f"a Curl.Code line without the curl.h name in a comment: {line}"
        out[m.group(2)] = m.group(1)
    with open(os.path.join(LOADER, "CurlLoader.c"), encoding="utf-8") as f:
        loader = f.read()
    init = re.findall(r"global_init\((\d+)\)[^\n]*// (CURL_GLOBAL_[A-Z_]+)", loader)
    assert len(init) == 1, "curl_global_init's flags need a comment naming them"
    out[init[0][1]] = init[0][0]
    return out


def test_every_declared_curl_number_matches_the_system_header(tmp_path):
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        unavailable("no C compiler")
    numbers = declared()
    assert len(numbers) >= 40, numbers
    lines = ["#include <stdio.h>", "#include <curl/curl.h>", '#include "CCurlLoader.h"',
             "int main(void) {"]
    for theirs, ours in sorted(numbers.items()):
        lines.append(f'  printf("%ld %ld %s\\n", (long)({ours}), (long)({theirs}), "{theirs}");')
    lines += ["  return 0;", "}"]
    source = tmp_path / "constants.c"
    source.write_text("\n".join(lines) + "\n")
    binary = tmp_path / "constants"
    built = subprocess.run([compiler, "-I", os.path.dirname(HEADER), str(source), "-o", str(binary)],
                           capture_output=True, text=True)
    if built.returncode != 0 and "curl/curl.h" in built.stderr and "No such file" in built.stderr:
        unavailable("curl/curl.h is not installed (Debian: libcurl4-openssl-dev)")
    assert built.returncode == 0, built.stderr
    printed = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout
    rows = [line.split(" ", 2) for line in printed.splitlines()]
    assert len(rows) == len(numbers)
    wrong = [f"{name}: ptview says {ours}, curl.h says {theirs}" for ours, theirs, name in rows
             if ours != theirs]
    assert not wrong, "\n".join(wrong)
