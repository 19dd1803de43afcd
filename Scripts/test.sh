#!/usr/bin/env bash
# Sets up everything the tests need and runs every test: formatting lint, the Swift test
# suites, the interop suites against real PyTorch, the terminal end-to-end runs, installing
# (setup.sh into a prefix, the .deb with dpkg: needs root, as CI is), and a bounded fuzzing
# run. CI calls this script (.ci/run).
#
#   bash Scripts/test.sh
#
# PyTorch (with its CUDA wheels, ~5 GB; it runs on the CPU) is installed from the package
# index into a venv kept outside the checkout, so repeated runs reuse it:
#   PTVIEW_VENV (default ~/.cache/ptview/venv)
# FUZZ_SECONDS (default 60) bounds the fuzzing run.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { echo; echo "=== $* ($(( $(date +%s) - start )) s)"; }

step "system packages"
source Scripts/apt_packages.sh
# libcurl4 for the remote tests (ptview opens it for URLs; the build does not link it), openssl
# for their certificates; libcurl4-openssl-dev for curl.h only, test-only: the curl numbers
# CCurlLoader declares are compared with it (Tests/Interop/test_curl_constants.py). The last
# six for the install test: the man page, each shell's completion, the .deb.
ensure_packages libzip-dev libncursesw5-dev pkg-config libcurl4 libcurl4-openssl-dev openssl tmux \
  python3-venv fonts-dejavu-core man-db bash-completion zsh fish dpkg-dev binutils

step "python venv with torch"
venv="${PTVIEW_VENV:-$HOME/.cache/ptview/venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import torch, numpy, pytest, PIL, joblib, safetensors, huggingface_hub, moto.server, boto3, transformers, accelerate" 2>/dev/null; then
  # moto[server] and boto3: the local S3 server of the remote-checkpoint tests; transformers
  # and accelerate make and judge the folder fixtures.
  "$venv/bin/pip" install -q --disable-pip-version-check torch numpy pytest pillow joblib \
    safetensors huggingface_hub "moto[server]" boto3 transformers accelerate
fi
"$venv/bin/python" -c "import torch; print('torch', torch.__version__)"

step "swift format lint"
swift format lint --strict --recursive Sources Tests Package.swift

step "swift build"
swift build --build-tests
swift build --product ptview
ptview="$(pwd)/.build/debug/ptview"

step "swift test"
swift test --skip-build

step "interop with real torch"
PTVIEW="$ptview" "$venv/bin/python" -m pytest -q Tests/Interop

step "terminal end to end"
if [ -x Tests/EndToEnd/tui/run.sh ]; then
  Tests/EndToEnd/tui/run.sh "$ptview" "$venv/bin/python"
fi

step "install: setup.sh into a prefix, the .deb installed and removed (a release build)"
Tests/Install/run.sh

step "fuzzing (${FUZZ_SECONDS:-60} s)"
Fuzz/run.sh "${FUZZ_SECONDS:-60}"

step "all tests passed"
