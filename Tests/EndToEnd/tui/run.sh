#!/usr/bin/env bash
# End-to-end runs of the real explorer in tmux (private socket, fixed sizes).
#
#   Tests/EndToEnd/tui/run.sh PTVIEW_BINARY PYTHON_WITH_TORCH
#
# Each scenario types keys with send-keys and reads the screen with capture-pane. Output is
# one line per scenario and a closing "N passed, M failed"; the exit status is non-zero when
# anything failed. Files are written only to a temporary folder.
set -u
PTVIEW=$(realpath "${1:?usage: run.sh PTVIEW_BINARY PYTHON}")
PYTHON=${2:?usage: run.sh PTVIEW_BINARY PYTHON}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
EXAMPLE="$ROOT/examples/gpu_checkpoint.pt"
SOCKET="ptview-test-$$"
WORK=$(mktemp -d)
TMUX_CMD=(tmux -u -L "$SOCKET" -f /dev/null)
passed=0
failed=0

SERVER_PID=""
cleanup() {
  "${TMUX_CMD[@]}" kill-server >/dev/null 2>&1
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

cp "$EXAMPLE" "$WORK/model.pt"
cp "$ROOT/Tests/Fixtures/torch/train_ckpt_cuda0.pt" "$WORK/train.pt"
cp "$ROOT/Tests/Fixtures/torch/train_ckpt_cuda0.pt" "$WORK/slow.pt"
cp "$ROOT/Tests/Fixtures/security/files/fk_injected_exec_state_dict.pt" "$WORK/injected.pt"
cp "$ROOT/Tests/Fixtures/edit/ddp.pt" "$WORK/ddp.pt"
cp "$ROOT/Tests/Fixtures/edit/ddp_cuda0.pt" "$WORK/ddpgpu.pt"
cp "$ROOT/Tests/Fixtures/edit/ts_device_cuda0.pt" "$WORK/script.pt"
cp "$ROOT/Tests/Fixtures/diff/base.pt" "$WORK/base.pt"
cp "$ROOT/Tests/Fixtures/diff/changed.pt" "$WORK/changed.pt"

# The session the running scenario started last: a failed scenario prints its screen.
LAST_SESSION=""

# start NAME COLUMNS ROWS COMMAND: a detached session running COMMAND, then a status file.
start() {
  local name=$1 columns=$2 rows=$3
  shift 3
  LAST_SESSION=$name
  rm -f "$WORK/$name.exit" "$WORK/$name.stty"
  "${TMUX_CMD[@]}" new-session -d -s "$name" -x "$columns" -y "$rows" \
    -e LANG=C.UTF-8 -e LC_ALL=C.UTF-8 -e TERM=xterm-256color -c "$WORK" \
    "$* ; echo \$? > $WORK/$name.exit; stty -a > $WORK/$name.stty; sleep 30"
}

screen() { "${TMUX_CMD[@]}" capture-pane -p -t "$1"; }
keys() {
  local name=$1
  shift
  "${TMUX_CMD[@]}" send-keys -t "$name" "$@"
}

# wait_for NAME TEXT [SECONDS]: until the screen shows TEXT.
wait_for() {
  local name=$1 text=$2 limit=${3:-10}
  local deadline=$((SECONDS + limit))
  while ((SECONDS < deadline)); do
    if screen "$name" | grep -qF -- "$text"; then return 0; fi
    sleep 0.1
  done
  echo "    timed out waiting for: $text" >&2
  screen "$name" | sed 's/^/    | /' >&2
  return 1
}

# wait_exit NAME [SECONDS]: until the program has ended; prints its exit status.
wait_exit() {
  local name=$1 limit=${2:-10}
  local deadline=$((SECONDS + limit))
  while ((SECONDS < deadline)); do
    if [[ -s "$WORK/$name.exit" ]]; then
      cat "$WORK/$name.exit"
      return 0
    fi
    sleep 0.1
  done
  echo "timeout"
  return 1
}

# The terminal is back in cooked mode with echo (what endwin restores).
terminal_restored() {
  grep -qE '(^| )icanon( |$)' "$WORK/$1.stty" && grep -qE '(^| )echo( |$)' "$WORK/$1.stty"
}

# check TITLE FUNCTION: runs a scenario; when it fails, the last screen of its session is
# printed (a failed grep or exit status says nothing of its own).
check() {
  local name=$1
  shift
  LAST_SESSION=""
  if "$@"; then
    echo "ok - $name"
    passed=$((passed + 1))
  else
    echo "not ok - $name"
    if [[ -n $LAST_SESSION ]]; then
      echo "    last screen of session $LAST_SESSION:"
      screen "$LAST_SESSION" 2>&1 | sed 's/^/    | /'
      [[ -s "$WORK/$LAST_SESSION.exit" ]] &&
        echo "    exit status: $(cat "$WORK/$LAST_SESSION.exit")"
    fi
    failed=$((failed + 1))
  fi
}

first_screen() {
  start first 80 24 "$PTVIEW" model.pt
  # The first scenario of the run starts the binary cold (page cache, dynamic loader): it
  # gets longer than the others for its first screen.
  wait_for first "layers.0 … layers.5" 45 || return 1
  screen first | grep -qF "cuda:0 ×401" || return 1
  screen first | grep -qF "▾ model" || return 1
  screen first | grep -qF "? help" || return 1
  keys first '?'
  wait_for first "next row" || return 1
  keys first q
  wait_for first "DEVICE" || return 1
  keys first q
  [[ $(wait_exit first) == 0 ]] && terminal_restored first
}

remap_and_load() {
  start remap 80 24 "$PTVIEW" model.pt
  wait_for remap "? help" || return 1
  keys remap M
  wait_for remap "Map all 401 tensors to" || return 1
  wait_for remap "▸ cpu" || return 1
  keys remap Enter
  wait_for remap "401 pending" || return 1
  wait_for remap "cuda:0 > cpu" || return 1
  [[ ! -e "$WORK/model.cpu.pt" ]] || return 1  # nothing touches the disk before w
  keys remap w
  wait_for remap "Write to: model.cpu.pt" || return 1
  keys remap Enter
  wait_for remap "Wrote model.cpu.pt" 60 || return 1
  screen remap | grep -qF "pending" && return 1  # no edits pending afterwards
  keys remap q
  [[ $(wait_exit remap) == 0 ]] || return 1
  terminal_restored remap || return 1
  cmp -s "$EXAMPLE" "$WORK/model.pt" || return 1  # the input is never modified
  "$PYTHON" "$HERE/compare.py" "$WORK/model.pt" "$WORK/model.cpu.pt" | sed 's/^/    /'
  return "${PIPESTATUS[0]}"
}

strip_prefix_and_load() {
  start strip 80 24 "$PTVIEW" ddp.pt
  wait_for strip "? help" || return 1
  keys strip P
  wait_for strip "Strip from every key" || return 1
  wait_for strip "▸ module." || return 1
  keys strip Enter
  wait_for strip "module -> (stripped)" || return 1
  wait_for strip "1 edit" || return 1
  keys strip u
  wait_for strip "Undid: strip module. from every key" || return 1
  screen strip | grep -qF "(stripped)" && return 1
  keys strip P Enter
  wait_for strip "module -> (stripped)" || return 1
  [[ ! -e "$WORK/ddp.edited.pt" ]] || return 1  # nothing touches the disk before w
  keys strip w
  wait_for strip "Write to: ddp.edited.pt" || return 1
  keys strip Enter
  wait_for strip "Wrote ddp.edited.pt" 60 || return 1
  screen strip | grep -qF "(stripped)" && return 1  # nothing staged afterwards
  keys strip q
  [[ $(wait_exit strip) == 0 ]] || return 1
  terminal_restored strip || return 1
  cmp -s "$ROOT/Tests/Fixtures/edit/ddp.pt" "$WORK/ddp.pt" || return 1
  "$PYTHON" "$HERE/load_edit.py" "$WORK/ddp.pt" "$WORK/ddp.edited.pt" module. | sed 's/^/    /'
  return "${PIPESTATUS[0]}"
}

cast_move_and_load() {
  start castm 80 24 "$PTVIEW" ddpgpu.pt
  wait_for castm "? help" || return 1
  keys castm c
  wait_for castm "Cast floating tensors to" || return 1
  keys castm Enter
  wait_for castm "f32 > bf16" || return 1
  keys castm M
  wait_for castm "Map all 9 tensors to" || return 1
  keys castm Enter
  wait_for castm "cuda:0 > cpu" || return 1
  keys castm P Enter w
  wait_for castm "Write to: ddpgpu.edited.pt" || return 1
  keys castm Enter
  wait_for castm "Wrote ddpgpu.edited.pt" 60 || return 1
  keys castm q
  [[ $(wait_exit castm) == 0 ]] || return 1
  "$PYTHON" "$HERE/load_edit.py" "$WORK/ddpgpu.pt" "$WORK/ddpgpu.edited.pt" module. bfloat16 |
    sed 's/^/    /'
  return "${PIPESTATUS[0]}"
}

script_move_and_load() {
  start tsmove 80 24 "$PTVIEW" script.pt
  wait_for tsmove "cuda:0 ×3" || return 1
  keys tsmove M
  wait_for tsmove "Map all 3 tensors to" || return 1
  keys tsmove Enter
  wait_for tsmove "torch.device literals in the code follow" || return 1
  keys tsmove w
  wait_for tsmove "Write to: script.cpu.pt" || return 1
  keys tsmove Enter
  wait_for tsmove "Wrote script.cpu.pt" 60 || return 1
  keys tsmove q
  [[ $(wait_exit tsmove) == 0 ]] || return 1
  cmp -s "$ROOT/Tests/Fixtures/edit/ts_device_cuda0.pt" "$WORK/script.pt" || return 1
  "$PYTHON" "$HERE/load_script.py" "$WORK/script.pt" "$WORK/script.cpu.pt" | sed 's/^/    /'
  return "${PIPESTATUS[0]}"
}

overwrite_asks() {
  cp "$WORK/train.pt" "$WORK/train.cpu.pt"
  start over 80 24 "$PTVIEW" train.pt
  wait_for over "? help" || return 1
  keys over M Enter w Enter
  wait_for over "train.cpu.pt exists. Replace it? (y/N)" || return 1
  keys over y
  wait_for over "Wrote train.cpu.pt" 30 || return 1
  keys over q
  [[ $(wait_exit over) == 0 ]] && ! cmp -s "$WORK/train.pt" "$WORK/train.cpu.pt"
}

subtree_map() {
  start sub 80 24 "$PTVIEW" train.pt
  wait_for sub "? help" || return 1
  keys sub j m
  wait_for sub "Map 2 tensors to" || return 1
  keys sub Enter
  wait_for sub "Staged 2 tensors > cpu" || return 1
  wait_for sub "35 tensors" || return 1
  screen sub | head -1 | grep -qE " 2 pending$" || return 1
  keys sub u
  wait_for sub "Undid" || return 1
  keys sub q
  [[ $(wait_exit sub) == 0 ]]
}

quit_asks() {
  start quit 80 24 "$PTVIEW" train.pt
  wait_for quit "? help" || return 1
  keys quit M Enter q
  wait_for quit "Quit anyway? (y/N)" || return 1
  keys quit n
  wait_for quit "Edits kept" || return 1
  keys quit q y
  [[ $(wait_exit quit) == 0 ]] && terminal_restored quit
}

failed_save() {
  start fail 80 24 "$PTVIEW" train.pt
  wait_for fail "? help" || return 1
  keys fail M Enter w C-u
  keys fail -l /proc/ptview-e2e.pt
  keys fail Enter
  wait_for fail "Not written" 30 || return 1
  screen fail | grep -qF "edits still staged" || return 1
  screen fail | grep -qF "KEY" || return 1  # the screen is intact
  keys fail q y
  [[ $(wait_exit fail) == 0 ]] && terminal_restored fail
}

search_and_filter() {
  start find 80 24 "$PTVIEW" model.pt
  wait_for find "? help" || return 1
  keys find /
  keys find -l attn.q
  keys find Enter
  wait_for find "match 1 of 6" || return 1
  wait_for find "model.layers.0.attn.q" || return 1
  keys find n
  wait_for find "match 2 of 6" || return 1
  keys find f
  keys find -l "device:meta"
  keys find Enter
  wait_for find "Nothing matches" || return 1
  keys find Escape q
  [[ $(wait_exit find) == 0 ]]
}

ctrl_c() {
  start intr 80 24 "$PTVIEW" model.pt
  wait_for intr "? help" || return 1
  keys intr M Enter
  keys intr C-c
  [[ $(wait_exit intr) == 130 ]] && terminal_restored intr
}

sigterm() {
  start term 80 24 "$PTVIEW" model.pt
  wait_for term "? help" || return 1
  # The pane runs a shell whose child is ptview: signal that process by its id.
  local child
  child=$(child_of term) || return 1
  kill -TERM "$child"
  [[ $(wait_exit term) == 143 ]] && terminal_restored term
}

# child_of NAME: the process id of the program in the pane (the pane's shell runs it).
child_of() {
  local shell_pid
  shell_pid=$("${TMUX_CMD[@]}" display -p -t "$1" '#{pane_pid}')
  pgrep -n -P "$shell_pid"
}

# interrupted_write NAME HOW STATUS: a write slowed down by the test hook is interrupted (HOW is
# TERM for SIGTERM, C-c for Ctrl-C); the program must leave with STATUS, restore the terminal,
# and leave neither the output nor the writer's temporary file behind.
interrupted_write() {
  local name=$1 how=$2 status=$3
  rm -f "$WORK/slow.cpu.pt" "$WORK"/.slow.cpu.pt.ptview-*
  start "$name" 80 24 env PTVIEW_TEST_SLOW_WRITE=200 "$PTVIEW" slow.pt
  wait_for "$name" "? help" || return 1
  keys "$name" M Enter w Enter
  wait_for "$name" "Writing slow.cpu.pt" 20 || return 1
  compgen -G "$WORK/.slow.cpu.pt.ptview-*" >/dev/null || return 1  # the write is under way
  if [[ $how == TERM ]]; then
    kill -TERM "$(child_of "$name")" || return 1
  else
    keys "$name" "$how"
  fi
  [[ $(wait_exit "$name") == "$status" ]] || return 1
  terminal_restored "$name" || return 1
  ! compgen -G "$WORK/.slow.cpu.pt.ptview-*" >/dev/null && [[ ! -e "$WORK/slow.cpu.pt" ]]
}

sigterm_during_write() { interrupted_write termw TERM 143; }
ctrl_c_during_write() { interrupted_write intrw C-c 130; }

dangerous_file() {
  start danger 80 24 "$PTVIEW" injected.pt
  wait_for danger "scan: dangerous" || return 1
  local first escapes
  first=$(screen danger)
  grep -qF "load: needs code" <<<"$first" || return 1
  grep -qE '^! +\(discarded\) = builtins\.exec\("import os; os\.system' <<<"$first" || return 1
  grep -qF "Dangerous: unpickling this file runs builtins.exec" <<<"$first" || return 1
  grep -qF "weight" <<<"$first" || return 1  # the tensors are still there
  escapes=$("${TMUX_CMD[@]}" capture-pane -p -e -t danger)
  grep -qE $'\e\\[[0-9;]*41m' <<<"$escapes" || return 1  # the verdict on a red background
  keys danger '!'
  wait_for danger "Finding 1 of 1: dangerous." || return 1
  wait_for danger "byte 111" || return 1
  keys danger q
  [[ $(wait_exit danger) == 0 ]] && terminal_restored danger
}

unreadable() {
  printf 'not a checkpoint' > "$WORK/bad.pt"
  start bad 80 24 "$PTVIEW" bad.pt
  [[ $(wait_exit bad) == 2 ]] || return 1
  wait_for bad "ptview: bad.pt" || return 1
  terminal_restored bad
}

wide_and_resize() {
  start wide 120 40 "$PTVIEW" model.pt
  wait_for wide "OF PARENT" || return 1
  wait_for wide "100%" || return 1
  keys wide q
  [[ $(wait_exit wide) == 0 ]] || return 1
  start grow 80 24 "$PTVIEW" model.pt
  wait_for grow "? help" || return 1
  screen grow | grep -qF "OF PARENT" && return 1
  "${TMUX_CMD[@]}" resize-window -t grow -x 120 -y 40
  wait_for grow "OF PARENT" || return 1
  keys grow q
  [[ $(wait_exit grow) == 0 ]]
}

no_color() {
  start mono 80 24 env NO_COLOR=1 "$PTVIEW" model.pt
  wait_for mono "? help" || return 1
  local escapes
  escapes=$("${TMUX_CMD[@]}" capture-pane -p -e -t mono)
  keys mono q
  grep -qE $'\e\\[(3[0-7]|9[0-7])m' <<<"$escapes" && return 1  # no foreground colours
  grep -qE $'\e\\[[0-9;]*7m' <<<"$escapes"  # reverse video remains
}

with_colour() {
  start colour 80 24 "$PTVIEW" model.pt
  wait_for colour "? help" || return 1
  local escapes
  escapes=$("${TMUX_CMD[@]}" capture-pane -p -e -t colour)
  keys colour q
  grep -qE $'\e\\[32m' <<<"$escapes"  # cuda is green
}

# v on a tensor: the pane's statistics and first grid row equal torch's (computed by the
# venv's torch in values_pane.py), at 80x24 (pane below) and 160x40 (pane right); another
# selection replaces them; V marks the row holding NaN/Inf.
values_pane() {
  "$PYTHON" "$HERE/values_pane.py" make "$WORK/values.pt" || return 1
  start values 80 24 "$PTVIEW" values.pt
  wait_for values "? help" || return 1
  keys values / weight Enter
  wait_for values "match 1 of 1" || return 1
  keys values v
  wait_for values "std " || return 1
  screen values >"$WORK/values.screen"
  "$PYTHON" "$HERE/values_pane.py" check "$WORK/values.pt" encoder.weight "$WORK/values.screen" \
    | sed 's/^/    /'
  [[ ${PIPESTATUS[0]} == 0 ]] || return 1
  keys values / steps Enter
  wait_for values "values · encoder.steps" || return 1
  wait_for values "std " || return 1
  screen values >"$WORK/values.screen"
  "$PYTHON" "$HERE/values_pane.py" check "$WORK/values.pt" encoder.steps "$WORK/values.screen" \
    | sed 's/^/    /'
  [[ ${PIPESTATUS[0]} == 0 ]] || return 1
  "${TMUX_CMD[@]}" resize-window -t values -x 160 -y 40
  keys values / cube Enter
  wait_for values "VALUES  decoder.cube" || return 1
  wait_for values "std " || return 1
  screen values >"$WORK/values.screen"
  "$PYTHON" "$HERE/values_pane.py" check "$WORK/values.pt" decoder.cube "$WORK/values.screen" \
    | sed 's/^/    /'
  [[ ${PIPESTATUS[0]} == 0 ]] || return 1
  keys values V
  wait_for values "Values checked: 1 of 3 tensors hold NaN or Inf" || return 1
  screen values | grep -qE "^ N +▾ encoder|^ N +▸ encoder|^ N +weight" || return 1
  keys values q
  [[ $(wait_exit values) == 0 ]] && terminal_restored values
}

# remote_remap_and_load: the explorer opens an http:// URL (the suite's range server), M > w
# writes <last segment>.cpu.pt into the current folder, and plain torch.load reads it.
remote_remap_and_load() {
  mkdir -p "$WORK/served" "$WORK/here"
  cp "$EXAMPLE" "$WORK/served/remote_model.pt"
  "$PYTHON" - "$WORK/served" "$WORK/served.url" <<PY &
import sys, time
sys.path.insert(0, "$ROOT/Tests/Interop")
from range_server import RangeServer
server = RangeServer(sys.argv[1]).start()
open(sys.argv[2], "w").write(server.base)
time.sleep(120)
PY
  SERVER_PID=$!
  local tries=0
  while [[ ! -s "$WORK/served.url" && $tries -lt 100 ]]; do sleep 0.1; tries=$((tries + 1)); done
  local url
  url="$(cat "$WORK/served.url")/remote_model.pt"
  "${TMUX_CMD[@]}" new-session -d -s remote -x 80 -y 24 \
    -e LANG=C.UTF-8 -e LC_ALL=C.UTF-8 -e TERM=xterm-256color -c "$WORK/here" \
    "$PTVIEW $url ; echo \$? > $WORK/remote.exit; stty -a > $WORK/remote.stty; sleep 30"
  wait_for remote "? help" || return 1
  screen remote | grep -qF "remote_model.pt" || return 1
  keys remote M
  wait_for remote "Map all 401 tensors to" || return 1
  keys remote Enter
  wait_for remote "401 pending" || return 1
  keys remote w
  wait_for remote "Write to: remote_model.cpu.pt" || return 1
  keys remote Enter
  wait_for remote "Wrote remote_model.cpu.pt" 60 || return 1
  keys remote q
  [[ $(wait_exit remote) == 0 ]] || return 1
  kill "$SERVER_PID" 2>/dev/null
  "$PYTHON" "$HERE/compare.py" "$WORK/model.pt" "$WORK/here/remote_model.cpu.pt" | sed 's/^/    /'
  return "${PIPESTATUS[0]}"
}

not_a_terminal() {
  local out
  out=$("$PTVIEW" "$WORK/model.pt" | head -3) || return 1
  grep -q "^KEY " <<<"$out" && grep -q "model.embed.weight" <<<"$out"
}

# ptview diff on a terminal: the merged view with marks, n to the next difference, u to show
# the unchanged keys, ? and q; the exit status still says the files differ.
diff_view() {
  start diffv 80 30 "$PTVIEW" diff base.pt changed.pt
  wait_for diffv "-1 +1 ~14 =9" || return 1
  screen diffv | grep -qE "^ - removed +only in A" || return 1
  screen diffv | grep -qE "^ \+ added +only in B" || return 1
  screen diffv | grep -qF "9 unchanged keys (u shows them)" || return 1
  keys diffv n
  wait_for diffv "2/17" || return 1
  keys diffv u
  wait_for diffv "= bias" || return 1
  keys diffv '?'
  wait_for diffv "Keys of the diff view" || return 1
  keys diffv x
  wait_for diffv "KEY" || return 1
  keys diffv q
  [[ $(wait_exit diffv) == 1 ]] && terminal_restored diffv
}

graph_view() {
  start graph 160 40 "$PTVIEW" train.pt
  wait_for graph "? help" || return 1
  keys graph Tab
  wait_for graph "PICKLE GRAPH" || return 1
  wait_for graph "conv.weight: torch._utils._rebuild_tensor_v2(…)" || return 1
  wait_for graph "[0] persistent id ('storage', torch.FloatStorage, '0', 'cuda:0', 108)" || return 1
  keys graph o
  wait_for graph "opcodes · data.pkl · ptview dis" || return 1
  wait_for graph "REDUCE" || return 1
  screen graph >"$WORK/graph.txt"
  "$PYTHON" "$HERE/dis_window.py" "$WORK/train.pt" "$WORK/graph.txt" >/dev/null || return 1
  keys graph o Tab
  wait_for graph "DTYPE" || return 1
  keys graph q
  [[ $(wait_exit graph) == 0 ]] && terminal_restored graph
}

graph_tied() {
  cp "$ROOT/Tests/Fixtures/torch/model_tied.pt" "$WORK/tied.pt"
  start tied 120 40 "$PTVIEW" tied.pt
  wait_for tied "? help" || return 1
  keys tied Tab
  wait_for tied "PICKLE GRAPH" || return 1
  keys tied / h e a d Enter
  wait_for tied "match 1 of 1" || return 1
  # head: open it, down to _parameters, open that, onto weight (a reference to embed's).
  keys tied l l j l l
  wait_for tied "weight: *" || return 1
  keys tied Enter
  wait_for tied "Backspace goes back to the reference" || return 1
  wait_for tied "weight: &" || return 1
  keys tied BSpace
  wait_for tied "Back at the reference." || return 1
  keys tied q
  [[ $(wait_exit tied) == 0 ]] && terminal_restored tied
}

graph_hostile() {
  start ghostile 100 30 "$PTVIEW" injected.pt
  wait_for ghostile "scan: dangerous" || return 1
  keys ghostile Tab
  wait_for ghostile "PICKLE GRAPH" || return 1
  wait_for ghostile "(discarded): builtins.exec(" || return 1
  keys ghostile '!'
  wait_for ghostile "Finding 1 of 1: builtins.exec" || return 1
  keys ghostile q
  [[ $(wait_exit ghostile) == 0 ]] && terminal_restored ghostile
}

folder_remap_and_load() {
  cp -r "$ROOT/Tests/Fixtures/folders/hf_bin_cuda" "$WORK/hf_cuda"
  start folder 200 80 "$PTVIEW" hf_cuda
  wait_for folder "3 shards" || return 1
  screen folder | grep -qF "FILE" || return 1
  # Everything expanded (transformer is the first row), then the rows against torch.
  keys folder L
  wait_for folder "c_proj" || return 1
  screen folder > "$WORK/folder.screen"
  "$PYTHON" "$HERE/folder_check.py" rows "$WORK/folder.screen" "$WORK/hf_cuda" | sed 's/^/    /'
  [[ ${PIPESTATUS[0]} == 0 ]] || return 1
  # v reads the selected tensor from its own shard (the third holds h.1.mlp.c_proj).
  local shard="$WORK/hf_cuda/pytorch_model-00003-of-00003.bin"
  keys folder / h.1.mlp.c_proj.weight Enter
  wait_for folder "match 1 of 1" || return 1
  keys folder v
  wait_for folder "std " || return 1
  screen folder >"$WORK/folder.values"
  "$PYTHON" "$HERE/values_pane.py" check "$shard" transformer.h.1.mlp.c_proj.weight \
    "$WORK/folder.values" | sed 's/^/    /'
  [[ ${PIPESTATUS[0]} == 0 ]] || return 1
  keys folder v Escape
  keys folder M
  wait_for folder "▸ cpu" || return 1
  keys folder Enter
  wait_for folder "cuda:0 > cpu" || return 1
  keys folder w
  wait_for folder "Write to: hf_cuda.cpu" || return 1
  keys folder Enter
  wait_for folder "Wrote hf_cuda.cpu" 60 || return 1
  keys folder q
  [[ $(wait_exit folder) == 0 ]] || return 1
  terminal_restored folder || return 1
  diff -r "$ROOT/Tests/Fixtures/folders/hf_bin_cuda" "$WORK/hf_cuda" >/dev/null || return 1
  "$PYTHON" "$HERE/folder_check.py" written "$WORK/hf_cuda" "$WORK/hf_cuda.cpu" | sed 's/^/    /'
  return "${PIPESTATUS[0]}"
}

# c > P > w on a folder of safetensors shards: the cast and the stripped prefix are planned
# over the whole folder and written by the folder writer, exactly as `ptview edit` writes them.
safetensors_folder_edit() {
  cp -r "$ROOT/Tests/Fixtures/folders/hf_safetensors" "$WORK/hf_st"
  start stfolder 120 40 "$PTVIEW" hf_st
  wait_for stfolder "3 shards" || return 1
  keys stfolder c
  wait_for stfolder "Cast floating tensors to" || return 1
  keys stfolder Enter
  wait_for stfolder "f32 > bf16" || return 1
  keys stfolder P
  wait_for stfolder "Strip from every key" || return 1
  wait_for stfolder "▸ transformer." || return 1
  keys stfolder Enter
  wait_for stfolder "transformer -> (stripped)" || return 1
  wait_for stfolder "2 edits" || return 1
  keys stfolder w
  wait_for stfolder "Write to: hf_st.edited" || return 1
  keys stfolder Enter
  wait_for stfolder "Wrote hf_st.edited" 60 || return 1
  keys stfolder q
  [[ $(wait_exit stfolder) == 0 ]] || return 1
  terminal_restored stfolder || return 1
  diff -r "$ROOT/Tests/Fixtures/folders/hf_safetensors" "$WORK/hf_st" >/dev/null || return 1
  "$PTVIEW" edit "$WORK/hf_st" --cast bf16 --strip-prefix transformer. -o "$WORK/hf_st.cli" \
    >/dev/null || return 1
  "$PYTHON" "$HERE/folder_check.py" safetensors "$WORK/hf_st" "$WORK/hf_st.edited" \
    "$WORK/hf_st.cli" transformer. bfloat16 | sed 's/^/    /'
  return "${PIPESTATUS[0]}"
}

dcp_folder() {
  cp -r "$ROOT/Tests/Fixtures/dcp/sharded" "$WORK/dcp_sharded"
  start dcp 100 30 "$PTVIEW" dcp_sharded
  wait_for dcp "dcp 2 files" || return 1
  wait_for dcp "2 chunks" || return 1
  keys dcp M
  wait_for dcp "read-only here" || return 1
  # v: the values of `cols` (saved in two chunks, split by column), assembled as stats and
  # cat read them, against torch's own dcp_to_torch_save of the folder.
  keys dcp j v
  wait_for dcp "values · cols" || return 1
  wait_for dcp "std " || return 1
  screen dcp >"$WORK/dcp.values"
  "$PYTHON" -c 'import sys
from torch.distributed.checkpoint.format_utils import dcp_to_torch_save
dcp_to_torch_save(sys.argv[1], sys.argv[2])' "$WORK/dcp_sharded" "$WORK/dcp_sharded.pt" || return 1
  "$PYTHON" "$HERE/values_pane.py" check "$WORK/dcp_sharded.pt" cols "$WORK/dcp.values" |
    sed 's/^/    /'
  [[ ${PIPESTATUS[0]} == 0 ]] || return 1
  keys dcp Escape V
  wait_for dcp "no NaN or Inf in 5 tensors" || return 1
  keys dcp q
  [[ $(wait_exit dcp) == 0 ]] && terminal_restored dcp
}

check "first screen at 80x24, help, quit" first_screen
check "a sharded folder: rows and FILE as torch lists them; v from the shard; M > w; from_pretrained" \
  folder_remap_and_load
check "safetensors shards: c > P > w casts and strips as ptview edit does; load_file, from_pretrained" \
  safetensors_folder_edit
check "a DCP folder opens read-only: chunks, files; M says why; v and V read its values as torch does" \
  dcp_folder
check "diff view: marks, next difference, unchanged keys, quit with exit 1" diff_view
check "Tab: the pickle graph on the first tensor; o: opcodes equal to pickletools.dis" graph_view
check "graph view: tied weights shown once, the reference jumps there and back" graph_tied
check "graph view: code run and thrown away is a row marked !" graph_hostile
check "open > M > Enter > w > Enter writes a file plain torch.load reads" remap_and_load
check "P > Enter > w > Enter strips module.; EditNet loads it strictly" strip_prefix_and_load
check "c > M > P > w on a cuda:0 DDP file: bf16 on the CPU, EditNet loads it" cast_move_and_load
check "M > w on TorchScript with a cuda:0 literal: torch.jit.load on the CPU, code names cpu" script_move_and_load
check "an existing output is replaced only after y" overwrite_asks
check "m maps the selected subtree; u undoes" subtree_map
check "q asks when edits are unsaved" quit_asks
check "a failed save keeps the screen and the edits" failed_save
check "search with n, filter with Esc" search_and_filter
check "Ctrl-C exits 130 and restores the terminal" ctrl_c
check "SIGTERM exits 143 and restores the terminal" sigterm
check "SIGTERM during a write leaves no temporary file" sigterm_during_write
check "Ctrl-C during a write leaves no temporary file" ctrl_c_during_write
check "a dangerous file opens; the header, the tree and the pane say so" dangerous_file
check "an unreadable file is a one-line error, exit 2" unreadable
check "120x40 shows size bars; a live resize to it too" wide_and_resize
check "NO_COLOR drops colours, keeps reverse video" no_color
check "colours by device" with_colour
check "stdout not a terminal prints the ls table" not_a_terminal
check "v: the values pane's statistics and grid equal torch's; V marks NaN/Inf rows" values_pane
check "an http:// URL opens; M > w writes its last segment .cpu.pt here; torch loads it" \
  remote_remap_and_load

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
