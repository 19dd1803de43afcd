#!/usr/bin/env bash
# Sets ptview up on a Debian machine with the Swift 6.3 toolchain: installs the C libraries it
# links (libzip, ncursesw) when they are missing, builds a release binary, and opens the
# explorer on the bundled example checkpoint (a model saved on a GPU: cuda:0 tensors).
#
#   bash Scripts/setup.sh             # install, build, open the example
#   bash Scripts/setup.sh --no-open   # install and build only
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages ptview needs to build and run (pkg-config finds libzip).
source Scripts/apt_packages.sh
ensure_packages libzip-dev libncursesw5-dev pkg-config

command -v swift >/dev/null || { echo "setup: the Swift 6.3 toolchain is required (swift.org/install)" >&2; exit 1; }
# The Swift runtime linked in: the binary runs without the toolchain's libraries and starts
# a few milliseconds sooner (it is run once per file by scripts).
swift build -c release --static-swift-stdlib --product ptview
echo "setup: built $(pwd)/.build/release/ptview"

if [ "${1:-}" != "--no-open" ]; then
  exec .build/release/ptview examples/gpu_checkpoint.pt
fi
