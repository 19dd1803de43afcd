extension KeymapGuide {
  /// The values pane and the full-file check, for `docs/keys.md` (after the other sections).
  static let valuesDetails = """

    ## Values

    `v` opens the values pane for the selected tensor, and closes it. On a terminal of 150
    columns or more it stands right of the tree; otherwise under it, in place of the detail
    pane. It follows the selection: moving to another tensor stops the computation for the
    previous one (its answers, if they still come, are dropped).

    ```
    ── values · model.weight ──────────────────────────────────────────────── 2/8 ──
     float32  [6,5]  30 elements
     count 30  nan 0  +inf 0  -inf 0  zeros 0
     min -0.63446  max 0.89313  mean -0.03229  std 0.38273
     hist ▃▃▃▃▃▃▃▃▅▅▅▅▅▅▅▅████████████████████████▅▅▅▅▅▅▅▅▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂
               0        1        2        3        4
       0 -0.1193  -0.5467   0.0779   0.0875  -0.4763
       1 -0.2721   0.5993   0.4802  -0.5537  -0.4202
    ```

    - **Statistics** are those of `ptview stats`, written the same way: `count`, `nan`,
      `+inf`, `-inf`, `zeros`, then `min`, `max`, `mean` and `std` (sample standard deviation)
      of the finite values in float64. They are computed in the background on two threads;
      the pane shows the progress meanwhile. Complex tensors have counts only.
    - **hist** is a histogram of the finite values in equal bins from min to max (a second
      pass, after the statistics), drawn as a sparkline.
    - **The grid** shows the values as `print(t)` writes them (torch's choice of fixed,
      scientific or integral layout, made for the values on screen). A 1-D tensor wraps
      into rows labelled by their first index; a 2-D tensor is its own grid; from rank 3 the
      grid is one 2-D slice, `[0, :, :]` first. Only the visible window is read, so scrolling a
      tensor of 100M elements costs the same as scrolling ten. NaN and infinities stand out.
    - `→` (or `l`) on a tensor gives the keyboard to the grid: arrows and `h j k l` scroll,
      PgUp/PgDn page, `g` goes to the first row, `G` to the last, `0` and `$` to the first and
      last column, `[` and `]` step through the slices of a tensor of rank 3 or more. Esc, `q`
      or `←` at the first column give the keyboard back to the tree; `v` closes the pane.
    - Sparse COO and CSR tensors show the statistics of `t.to_dense()`, nested tensors those
      of their components, packed quint4x2/quint2x4 those of their dequantized values, without
      a grid. Tensors without values to read say why instead: meta tensors, sparse tensors
      whose indices repeat or are unsorted, records that are compressed or missing.

    `V` checks every tensor of the file for NaN and Inf: the statistics of all of them (each
    storage view once), in the background, with the progress on the status line; `V` again
    stops it. Rows holding NaN are marked `N`, rows holding only infinities `I` (magenta, in a
    column of their own next to the safety marks); a folded row shows the worst mark below it,
    and the marks stay through folding, filtering and search. The status line says how many
    tensors hold NaN or Inf and how many have no values to read.

    """
}
