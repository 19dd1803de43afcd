/// The part of `docs/keys.md` about folders.
enum FolderGuide {
  static let markdown = """

    ## Folders

    `ptview FOLDER` (or `ptview FOLDER/X.index.json`) opens a checkpoint folder as one
    model: a Hugging Face sharded folder (`.bin` or `.safetensors` shards with their index),
    a Trainer, accelerate or DeepSpeed folder (every file `ptview ls FOLDER` reads: weights,
    optimizer, RNG state, DeepSpeed's `mp_rank_*_model_states.pt` and
    `zero_pp_rank_*_optim_states.pt`), or a torch.distributed.checkpoint folder (`.metadata`
    and `.distcp` files). The tree holds the tensors of every file; the header shows the
    folder's name, how many shards or files, the bytes of all its files, and the tensors and
    devices of all of them. The scan and load verdicts are the worst file's. Each file is
    scanned on its own, after the first screen: every row of a file with findings carries
    its mark (`?` suspicious, `!` dangerous), the status line names the file, the pane of a
    marked row names the file and what the scan found, and `!` goes to the first row of
    each flagged file (`ptview scan FOLDER` lists the findings file by file).

    The FILE column says which file holds each tensor (`mixed` on a row whose tensors are
    in several). Names are shortened to what tells them apart where the column is narrow:
    `pytorch_model-00001-of-00003.bin`, then `pytorch_model-00001-of-00003`,
    `00001-of-00003`, `1/3`; a Trainer folder's files lose their extensions (`model`,
    `optimizer`), DeepSpeed's the words every name has (`model`, `zero_pp_0_optim`). The
    detail pane names the storage as `data/3 in FILE`.

    Search, the filter and folding work across files. `v`, `V` and the graph view
    (`Tab`, `o`) read the selected tensor's own file: the graph is that shard's pickle,
    and its title says which file it is.

    `M` and `m` stage device moves over the whole folder, planned file by file as
    `ptview remap FOLDER --to DEVICE` plans them; `w` writes the folder as `ptview remap
    FOLDER -o OUT` does: every torch file rewritten and verified, every other file (index,
    config, tokenizer, safetensors shards, which store no device) copied byte for byte,
    into a temporary folder renamed into place once all of it is written. An existing
    output folder is replaced only after `y`. Renames (`P`, `r`), drops (`x`) and casts
    (`c`) work on torch and safetensors shards alike, planned and written as `ptview edit
    FOLDER` does: key edits are checked once over the keys of the whole model (a rename or
    drop that matches keys of one shard leaves the others alone), safetensors shards are
    rewritten with their new keys and cast tensors, and the index is written anew. Extracts
    and `S` are single-file edits: those keys say so in the status line.

    A torch.distributed.checkpoint folder opens read-only: each row shows the dtype, the
    global shape, the number of chunks (in the DEVICE column: DCP's `.metadata` records no
    devices) and the files holding them. Edit keys say why they do not apply. `v` and `V`
    read its values as `ptview stats DIR` and `cat DIR KEY` do: each tensor assembled from
    its chunks by byte range, read only when asked for.

    """
}
