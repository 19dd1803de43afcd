#!/usr/bin/env bash
# Regenerates screenshots/*.png from real runs of the explorer in tmux.
#
#   Scripts/screenshots.sh [PTVIEW_BINARY] [PYTHON_WITH_PILLOW]
#
# Each picture is the real binary on examples/gpu_checkpoint.pt, or on a test fixture for the
# safety pictures (copied to a temporary folder, so nothing is written beside the originals),
# driven with tmux send-keys, captured with
# capture-pane -e (text and colours), and drawn by Scripts/render_screenshot.py (Pillow,
# DejaVu Sans Mono from fonts-dejavu-core).
set -euo pipefail
cd "$(dirname "$0")/.."
PTVIEW=$(realpath "${1:-.build/debug/ptview}")
PYTHON=${2:-/root/.cache/ptview/venv/bin/python}
OUT=screenshots
WORK=$(mktemp -d)
TMUX_CMD=(tmux -u -L "ptview-shots-$$" -f /dev/null)
trap '"${TMUX_CMD[@]}" kill-server >/dev/null 2>&1; rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
cp examples/gpu_checkpoint.pt "$WORK/gpu_checkpoint.pt"
cp Tests/Fixtures/security/files/fk_injected_exec_state_dict.pt "$WORK/injected_state_dict.pt"
cp Tests/Fixtures/torch/numpy_namespace_cuda0.pt "$WORK/train_ckpt.pt"
cp Tests/Fixtures/edit/ddp_cuda0.pt "$WORK/ddp_cuda0.pt"
cp Tests/Fixtures/torch/model_tied.pt "$WORK/model_tied.pt"

open_explorer() { # NAME COLUMNS ROWS [FILE] [TEXT TO WAIT FOR]
  "${TMUX_CMD[@]}" new-session -d -s "$1" -x "$2" -y "$3" -c "$WORK" \
    -e LANG=C.UTF-8 -e LC_ALL=C.UTF-8 -e TERM=xterm-256color "$PTVIEW ${4:-gpu_checkpoint.pt}; sleep 60"
  wait_for "$1" "${5:-? help}"
}
wait_for() { # NAME TEXT
  for _ in $(seq 100); do
    "${TMUX_CMD[@]}" capture-pane -p -t "$1" | grep -qF -- "$2" && return 0
    sleep 0.1
  done
  echo "screenshots: timed out waiting for '$2' in $1" >&2
  exit 1
}
keys() { local name=$1; shift; "${TMUX_CMD[@]}" send-keys -t "$name" "$@"; }
shoot() { # NAME COLUMNS ROWS FILE TITLE
  sleep 0.3
  "${TMUX_CMD[@]}" capture-pane -p -e -N -t "$1" > "$WORK/$1.ans"
  "$PYTHON" Scripts/render_screenshot.py "$WORK/$1.ans" "$OUT/$4" --columns "$2" --rows "$3" --title "$5"
  echo "wrote $OUT/$4"
}

# The explorer at a comfortable size: layers opened, a tensor selected for the detail pane.
open_explorer browse 110 32
keys browse j j j j j Enter j j Enter
wait_for browse "layers.1"
keys browse j j j l j
shoot browse 110 32 explorer.png "ptview gpu_checkpoint.pt"

# The smallest promised size.
open_explorer small 80 24
shoot small 80 24 explorer-80x24.png "ptview gpu_checkpoint.pt  (80x24)"

# Mid-remap: the picker, then the staged moves, then the write prompt.
open_explorer remap 110 32
keys remap M
wait_for remap "Map all 401 tensors to"
shoot remap 110 32 remap-picker.png "ptview: M opens the device picker"
keys remap Enter
wait_for remap "401 pending"
shoot remap 110 32 remap-staged.png "ptview: staged, nothing written yet"
keys remap w
wait_for remap "Write to:"
shoot remap 110 32 remap-write.png "ptview: w asks where to write"
keys remap Enter
wait_for remap "Wrote gpu_checkpoint.cpu.pt"
shoot remap 110 32 remap-saved.png "ptview: written and verified"

# Surgery: a DDP checkpoint saved on a GPU; P strips the detected prefix, c casts to bf16,
# M maps everything to the cpu, all staged and shown before w writes them.
open_explorer surgery 110 28 ddp_cuda0.pt
keys surgery P
wait_for surgery "module."
keys surgery Enter
keys surgery c
wait_for surgery "bf16"
keys surgery Enter
keys surgery M
wait_for surgery "Map all"
keys surgery Enter
wait_for surgery "pending"
shoot surgery 110 28 surgery-staged.png "ptview: prefix stripped, cast to bf16, moved to cpu: staged"

# Help lists every key.
open_explorer help 110 44
keys help '?'
wait_for help "next row"
shoot help 110 44 help.png "ptview: ? lists every key"

# Safety: a state_dict with code injected before it (a public scanner test sample), and a
# training checkpoint whose args are an argparse.Namespace, after ! went to the flagged row.
open_explorer danger 110 24 injected_state_dict.pt "scan: dangerous"
keys danger '!'
wait_for danger "Finding 1 of 1"
shoot danger 110 24 safety-dangerous.png "ptview: code injected before a state_dict"
open_explorer doubt 110 24 train_ckpt.pt "scan: suspicious"
keys doubt '!'
wait_for doubt "Finding 1 of 1"
shoot doubt 110 24 safety-suspicious.png "ptview: ! goes to what the scan flags"

# Values: V marks the tensor holding NaN and Inf, v shows its statistics, histogram and
# values beside the tree (a checkpoint made by the end-to-end test's generator).
"$PYTHON" Tests/EndToEnd/tui/values_pane.py make "$WORK/values.pt"
open_explorer values 150 30 values.pt
keys values V
wait_for values "Values checked"
keys values j v
wait_for values "std "
shoot values 150 30 values-pane.png "ptview: V marks NaN/Inf rows, v shows a tensor's values"

# The graph view: Tab shows the pickle on the first tensor's rebuild call; o adds the
# disassembly around it. On a pickled module with tied weights, the reference jumps back.
open_explorer graph 110 32
keys graph Tab
wait_for graph "PICKLE GRAPH"
shoot graph 110 32 graph.png "ptview: Tab shows the pickle graph"
keys graph o
wait_for graph "opcodes · data.pkl"
shoot graph 110 32 graph-opcodes.png "ptview: o shows the opcodes around the node"
open_explorer tied 110 32 model_tied.pt
keys tied Tab
wait_for tied "PICKLE GRAPH"
keys tied / h e a d Enter
wait_for tied "match 1 of 1"
keys tied l l j l l
wait_for tied "weight: *"
shoot tied 110 32 graph-reference.png "ptview: a tied weight is a reference; Enter jumps to it"

# A sharded Hugging Face folder: every shard in one tree, the FILE column, moves staged over
# all of them.
cp -r Tests/Fixtures/folders/hf_bin_cuda "$WORK/gpt2-sharded"
open_explorer folder 120 30 gpt2-sharded
keys folder M
wait_for folder "▸ cpu"
keys folder Enter
wait_for folder "cuda:0 > cpu"
keys folder j j j
shoot folder 120 30 folder.png "ptview gpt2-sharded/: one tree over 3 shards, M staged"
