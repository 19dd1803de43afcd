/// The prose of `docs/keys.md` around the generated key tables.
enum KeymapGuide {
  static let introduction = """
    # The ptview explorer

    `ptview FILE` opens the explorer when standard output is a terminal, and prints the `ls`
    table otherwise (so `ptview model.pt | less` still works). `ptview view FILE --no-mouse`
    leaves the mouse to the terminal for selecting text.

    This page is generated from the key map in `Sources/PTViewTUI/Input/Keymap.swift`; a test
    keeps the two identical, and `?` in the explorer shows the same list.

    """

  static let details = """

    ## The screen

    ```
     model.pt  401 tensors  cuda:0 ×401     load: fixable  scan: safe  401 pending
     KEY                               DTYPE  SHAPE          DEVICE           BYTES
     ▾ model                           f32    101 tensors    cuda:0 > cpu   273 KiB
       ▸ layers.0 … layers.5  (6×)     f32    96 tensors     cuda:0 > cpu   200 KiB
       epoch = 5
     ──────────────────────────────────────────────────────────────────── 1/16 ──
     model.layers.0.attn.q.weight  parameter, requires_grad
     float32  shape [32,32]  stride [32,1]  offset 0  contiguous  1.0K elements, 4.00 KiB
     storage data/4 (4.00 KiB)  on cuda:0  staged > cpu
     Staged 401 tensors > cpu. w writes, u undoes.
     m map  M map all  u undo  w write  / search  f filter  ? help  q quit
    ```

    - **Header**: file, format, size, tensors, parameters, tensors per device, what
      `torch.load` does with the file and the safety scan's verdict (see below), and how many
      tensors have a staged move. Narrow terminals drop the least useful facts first and
      shorten the verdicts; a dangerous verdict always shows.
    - **Tree**: dicts, lists and modules; dotted state_dict keys split into the module
      hierarchy; numbered siblings (`layers.0` … `layers.23`, optimizer `state.0` …) folded into
      one row; values that are not tensors inline (`epoch = 5`, `args = argparse.Namespace(…)`).
      It opens with the top levels expanded as far as one screen allows. Containers show their
      common dtype, their tensor count, their device (`mixed` when several) and total bytes.
      From 100 columns on, **OF PARENT** draws each row's share of its parent's bytes.
    - **Detail pane**: the full key, dtype, shape, stride, storage offset, contiguity, storage
      record and size, device, staged move, and the other keys sharing the storage; for a
      container its totals and device census.
    - **Status line**: what the last action did, or the path of the selected row.

    Colours mark devices (cpu plain, cuda green, mps, xpu and others cyan, meta dim) and staged
    moves (yellow, bold). With `NO_COLOR` set there are no colours; bold, dim, underline and
    reverse video still show the selection and the staged moves. In a locale that is not
    UTF-8 the explorer draws with ASCII only.

    ## Remapping devices

    1. `M` opens a picker of target devices: `cpu` first and selected, then the devices in the
       file, `cuda:0`, and `other…` (type any torch device such as `cuda:1`, `mps`, `xpu:0`).
       `m` does the same for the selected row's subtree only.
    2. Enter stages one device move, planned with everything else staged by the planner of
       `ptview remap` and `ptview edit --to`, which alone decides what moves. `M` without a
       filter is `--to DEVICE` itself: on a TorchScript file the code's `torch.device("…")`
       literals follow. `m` (the selected subtree or tensor) and `M` with a filter name their
       tensors by key, like `--only` with exactly those keys (a `*` in a key is not a
       wildcard), and leave the code alone. A storage moves as a whole, so tensors outside
       the selection that share it move too, and the status line names them. A tensor
       rebuilt from a CPU tensor (`_rebuild_device_tensor_from_cpu_tensor`) moves by its
       device argument, and the storage of the CPU tensor it is read from moves like any
       other storage of the scope. Tensors the planner leaves alone (a wrapper subclass
       keeps its `torch.device` argument, a meta tensor has no storage) are not staged, and
       the status line says why.
    3. Rows show `cuda:0 > cpu`; a container with only some tensors staged shows
       `3/12 > cpu`. The marks, the header's pending count and the filter's `pending` term are
       read from the plan, so they show what `w` writes. A later move of the same tensors wins,
       and moving tensors back where the file has them leaves nothing to write. `u` undoes one
       move at a time.
    4. `w` asks where to write, offering `<stem>.<target><ext>` beside the input:
       `model.pt` → `model.cpu.pt`, `pytorch_model.bin` → `pytorch_model.cpu.bin`,
       `cuda:0` as a target → `model.cuda0.pt`, several targets → `model.remapped.pt`.
       An existing file is replaced only after `y`; the input itself is refused.
    5. Enter writes through the same pipeline as `ptview remap` (atomic, verified by reading
       the result back), with a progress bar. The status line says what was written where, and no
       edits are pending afterwards. A failed write says why and keeps the edits staged.

    ## Editing keys, the root and dtypes

    The explorer stages the operations of `ptview edit`, and plans them with the same planner
    (`EditPlanner`) after every key: what the tree shows is what `w` writes. A request the
    planner refuses (a prefix no key has, a rename that makes two keys one) is not staged; the
    status line says why.

    | Key | Stages | Like |
    |---|---|---|
    | `P` | strip a prefix from every key: the picker offers what `--strip-prefix auto` detects (`module.`, `_orig_mod.`, their combinations) first, then the keys' common first components; Enter (or its number) strips | `--strip-prefix` |
    | `r` | rename: a prompt prefilled with `KEY=KEY` for the selected row; edit NEW (prefixes at dots, `*` copies a component) | `--rename OLD=NEW` |
    | `x` | drop the selected subtree; `x` on a dropped row keeps it again | `--drop` |
    | `e` | the selected subtree becomes what `torch.load` returns | `--extract` |
    | `S` | the weights as a flat `OrderedDict` | `--state-dict` |
    | `c` | cast floating tensors: a picker of bf16, fp16, fp32, fp64 (a later cast replaces an earlier one) | `--cast` |

    Renamed rows read `module -> (stripped)` or `backbone -> encoder` where the rename
    happens (the rows below follow it); the detail pane gives a tensor's new key. Dropped rows,
    and rows outside an extracted root, are dimmed and marked `x`. Casts show in the DTYPE
    column as `f32 > bf16` (a container with some tensors cast: `3/8 > bf16`). The header
    counts the staged edits and the bytes the write saves (storages left out, and what the
    casts make smaller). Device moves staged with `m` and `M` are operations in the same list
    (`P` then `M` › `cpu` is `ptview edit --strip-prefix module. --to cpu`); the header counts
    them as pending tensors. `u` undoes one step at a time, edits and device moves alike. `w`
    offers `<stem>.edited<ext>` and writes through the same pipeline as `ptview edit`.

    Nothing touches the disk before `w`, and the input file is never modified. `q` asks before
    leaving with staged edits; Ctrl-C leaves at once without writing.

    ## Safety and torch.load

    When it opens a file the explorer runs what `ptview doctor` and `ptview scan` run (they read
    the pickles only; nothing from the file is executed, here or ever):

    ```
     ptview  model.pt  841 KiB  401 tensors  193K params  cuda:0 ×401      torch.load: fails (cuda:0) → fixable  scan: safe
     ptview  injected.pt  zip v3  1.63 KiB  2 tensors  10 params  cpu ×2            torch.load: needs code  scan: dangerous
     injected.pt  2 tensors  cpu ×2         torch.load: needs code  scan: dangerous
    ```

    - **`torch.load:`** predicts a plain `torch.load(FILE)` (PyTorch's defaults, a CPU-only
      machine, as `ptview doctor` without `--device`): `loads`, `fails (why) → fixable` when a
      rewrite fixes it (stage `M` › `cpu`, then `w`), `fails (why) → needs code` when
      `add_safe_globals` or a trusted class is needed too. The reasons are the storage
      locations (`cuda:0`), `opcodes`, the globals to allowlist (`argparse.Namespace`, `7 globals`),
      `pickled model` or `TorchScript`; `ptview doctor FILE` prints the fix. Narrow terminals
      show `load: fixable`. After `w`, the status line says what `torch.load` does with the
      file just written.
    - **`scan:`** is `ptview scan`'s verdict: `safe` (green), `suspicious` or `unscannable`
      (yellow), `dangerous` (red). Without colour (`NO_COLOR`) the alarming ones leave the
      reverse-video bar and stay bold. A suspicious or dangerous file also says so on the
      status line when it opens.
    - **Marks**: the column left of the keys shows `!` (dangerous, red) or `?` (suspicious,
      yellow) on each row whose value the scan flags: `args = argparse.Namespace(…)`, each
      module of a pickled `nn.Module`, a tensor subclass. A folded row shows the worst mark
      inside it. Findings about values that no row shows get rows of their own at the top:
      `(discarded)` for a call the pickle makes and throws away (the usual injection: it runs,
      but is not in the result), `(torch.load returns)` when the file's object itself is
      flagged, `(sys_info pickle)` for another pickle of a legacy file, and `(archive/x.pkl)`
      for what the scan found outside the pickle shown (another record, a nested pickle).
    - **Detail pane** of a flagged row: the global the finding resolves to, the verdict and why
      (`calls builtins.exec: evaluates or compiles Python code`), the byte offset, the one-line
      rendering of what the pickle does (`builtins.exec("import os; …")`) and the record.
    - **`!`** goes to the next flagged row (opening folded rows on the way) and wraps.

    ## Search and filter

    `/` searches keys (case-insensitive unless the query has a capital letter) and jumps to the
    first match at or after the selection, opening folded rows on the way; `n` and `N` go to
    the next and previous match. A match is the row where the text first appears in the key
    path, so `/attn.q` stops at each `attn.q` module rather than at every tensor below it.

    `f` keeps only matching tensors and the rows above them. Terms are separated by spaces and
    must all hold; `-` or `!` before a term negates it:

    | Term | Keeps tensors |
    |---|---|
    | `device:cuda` | whose device starts with `cuda` (or whose staged target does) |
    | `dtype:bf16` | whose dtype starts with `bf16` (short names such as `f32` or torch names such as `float32`) |
    | `shape:*,768` | whose shape, written `a,b,c`, matches the pattern |
    | `storage:data/3` | reading that storage record |
    | `pending` | with a staged move |
    | `attn` | whose key contains the word |
    | `layers.*.bias` | whose key matches from any segment to the end (`*` crosses dots) |

    With 200 matches or fewer, the filter opens the rows leading to each. `m` and `M` act on
    the filtered tensors only. Esc (or an empty filter) clears it.

    ## The graph view

    `Tab` shows the pickle itself, as `ptview tree --raw` prints it, folded: the root, dicts,
    lists and tuples, globals, calls with their callee and arguments (a tensor is a
    `torch._utils._rebuild_tensor_v2(…)` call whose first argument is its persistent id
    `('storage', …)`, with the storage record it names, its size and device). It opens on the
    path to the first tensor, or to the tensor focused in the key view; `Tab` again goes back
    to that tensor's key. Only opened rows exist, so an 80,000-tensor file opens at once.

    An object the pickle shares through its memo (tied embeddings, a module reached twice) is
    shown once with an anchor `&N` (N is its node number) and everywhere else as a reference
    `*N →`; a cycle ends in a reference too. Enter on a reference jumps to the anchor,
    Backspace jumps back. Moving, folding, `/`, `n`, `N` and `!` work as in the key view
    (the search looks at strings, dict keys, globals and callees). Calls the safety scan
    flags are marked `!` or `?` and shown as the one line the scan renders
    (`os.system('id')`); code run and thrown away gets a row of its own at the bottom.

    `o` opens the opcode pane: the lines of `ptview dis` (pickletools' own text) around the
    opcode that made the focused node, that opcode and its memo store highlighted, and for a
    tensor the first bytes of its storage record. The graph is read-only: edits are made in
    the key view.

    """
}
