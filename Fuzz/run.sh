#!/usr/bin/env bash
# Builds the libFuzzer target (the VM, the container parsers, the edit planner and writer, the
# doctor and the scan; cat's printer, diff's value comparison, the export planner and the
# safetensors reader, compiled with
# -sanitize=fuzzer,address) and runs it for a bounded time over a seed corpus made of the
# committed fixtures. Any crash, leak-free OOM or timeout fails the run; crashing inputs are
# kept in .build-fuzz/artifacts for replay.
#
#   Fuzz/run.sh [SECONDS]    (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
out=.build-fuzz
mkdir -p "$out/modules" "$out/corpus" "$out/artifacts"
flags=(-sanitize=fuzzer,address -parse-as-library -O -g -wmo -I "$out/modules")

swiftc "${flags[@]}" -module-name PTViewPickle -emit-module -emit-module-path "$out/modules/PTViewPickle.swiftmodule" \
  -emit-object -o "$out/PTViewPickle.o" Sources/PTViewPickle/*.swift
swiftc "${flags[@]}" -module-name PTViewCore -emit-module -emit-module-path "$out/modules/PTViewCore.swiftmodule" \
  -emit-object -o "$out/PTViewCore.o" $(find Sources/PTViewCore -name '*.swift')
swiftc "${flags[@]}" -module-name PTViewValues -emit-module -emit-module-path "$out/modules/PTViewValues.swiftmodule" \
  -emit-object -o "$out/PTViewValues.o" $(find Sources/PTViewValues -name '*.swift')
swiftc "${flags[@]}" -module-name PTViewEdit -emit-module -emit-module-path "$out/modules/PTViewEdit.swiftmodule" \
  -emit-object -o "$out/PTViewEdit.o" $(find Sources/PTViewEdit -name '*.swift')
swiftc "${flags[@]}" -module-name PTViewJudge -emit-module -emit-module-path "$out/modules/PTViewJudge.swiftmodule" \
  -emit-object -o "$out/PTViewJudge.o" $(find Sources/PTViewJudge -name '*.swift')
# PTViewFiles (cat, diff, export planning) and the two C shims it imports; SwiftPM writes their
# module maps itself, so here they are written by hand.
for shim in CSystemShims CChecksum; do
  mkdir -p "$out/cmodules/$shim"
  printf 'module %s {\n  header "%s"\n  export *\n}\n' "$shim" \
    "$PWD/Sources/$shim/include/$shim.h" >"$out/cmodules/$shim/module.modulemap"
  clang -c -O1 -g -fsanitize=address -I "Sources/$shim/include" "Sources/$shim/$shim.c" \
    -o "$out/$shim.o"
  flags+=(-I "$out/cmodules/$shim")
done
swiftc "${flags[@]}" -module-name PTViewFiles -emit-module -emit-module-path "$out/modules/PTViewFiles.swiftmodule" \
  -emit-object -o "$out/PTViewFiles.o" Sources/PTViewFiles/*.swift
swiftc "${flags[@]}" -module-name FuzzTarget -emit-object -o "$out/FuzzTarget.o" Fuzz/FuzzTarget.swift
# (gold warns about every ASan helper symbol; the warnings are harmless.)
swiftc -sanitize=fuzzer,address "$out/PTViewPickle.o" "$out/PTViewCore.o" "$out/PTViewValues.o" \
  "$out/PTViewEdit.o" "$out/PTViewJudge.o" "$out/PTViewFiles.o" "$out/CSystemShims.o" \
  "$out/CChecksum.o" "$out/FuzzTarget.o" \
  -o "$out/fuzz-ptview" 2>&1 | grep -v "Cannot export local symbol" || true
test -x "$out/fuzz-ptview"

# Seeds: small pickles and checkpoints of every kind, plus earlier crashers.
find Tests/Fixtures/pickles Tests/Fixtures/hostile Tests/Fixtures/torch Tests/Fixtures/values \
  Tests/Fixtures/safetensors Fuzz/crashers -type f -size -64k \
  \( -name '*.pkl' -o -name '*.pt' -o -name '*.bin' -o -name '*.safetensors' -o -name 'crash-*' \) \
  -exec cp {} "$out/corpus/" \; 2>/dev/null || true
# DCP `.metadata` pickles (all named alike, so each gets its own seed name).
i=0
for m in Tests/Fixtures/dcp/*/.metadata Tests/Fixtures/dcp_hostile/*/.metadata; do
  [ -f "$m" ] && cp "$m" "$out/corpus/dcp-metadata-$i" && i=$((i + 1))
done

"$out/fuzz-ptview" "$out/corpus" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
  -rss_limit_mb=2048 -artifact_prefix="$out/artifacts/" -print_final_stats=1 2>&1 | tail -15
