#!/usr/bin/env bash
# The explorer's speed numbers (issue 4): first screen and 1,000 key presses on an
# 80,000-tensor checkpoint (20,000 weights + an Adam state for each, like make_big.py's
# many_cuda0.pt), measured in a release build through the fake backend.
#
#   Benchmarks/tui_bench.sh [PYTHON_WITH_TORCH] [FILE]
#
# FILE defaults to /tmp/ptview-bench/many_cuda0.pt and is made with torch when missing.
set -euo pipefail
PYTHON=${1:-/root/.cache/ptview/venv/bin/python}
FILE=${2:-/tmp/ptview-bench/many_cuda0.pt}
cd "$(dirname "$0")/.."
if [[ ! -f $FILE ]]; then
  mkdir -p "$(dirname "$FILE")"
  "$PYTHON" - "$FILE" <<'PY'
import sys, torch
torch.serialization.register_package(1, lambda o: "cuda:0", lambda o, l: None)
many = {"model": {f"layer{i}.w": torch.randn(8) for i in range(20000)}}
many["optimizer"] = {"state": {i: {"step": torch.tensor(5.0), "exp_avg": torch.zeros(8), "exp_avg_sq": torch.zeros(8)}
                               for i in range(20000)}, "param_groups": [{"lr": 1e-3, "params": list(range(20000))}]}
torch.save(many, sys.argv[1])
PY
fi
PTVIEW_BENCH_FILE=$FILE swift test -c release -Xswiftc -enable-testing --scratch-path .build-bench \
  --filter 'PTViewTUITests.BenchmarkTests' 2>&1 | sed -n '/^benchmark/,/1000 KEYS/p;/GRAPH VIEW/p;/✘/p'
