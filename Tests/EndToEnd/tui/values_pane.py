"""The values pane end to end, judged by torch.

    values_pane.py make FILE           writes a checkpoint with a large float matrix (with a
                                       NaN), an int tensor and a bf16 3-D tensor
    values_pane.py check FILE KEY SCREEN
                                       parses the pane in a captured screen and compares its
                                       counts (exactly) and min/max/mean/std (to the 6
                                       significant digits shown) with torch's float64 results
                                       for the tensor KEY, and the grid's first row with the
                                       tensor's first values
"""
import math
import re
import sys

import torch


def make(path):
    torch.manual_seed(7)
    w = torch.randn(512, 300) * 3 + 1.5
    w[17, 4] = float("nan")
    w[200, 9] = float("-inf")
    sd = {
        "encoder.weight": w,
        "encoder.steps": torch.arange(-500, 1500, 7, dtype=torch.int32),
        "decoder.cube": (torch.randn(4, 6, 9) * 1e-3).to(torch.bfloat16),
    }
    torch.save(sd, path)


def field(text, name):
    m = re.search(r"(?:^|\s)" + re.escape(name) + r" (\S+)", text)
    if not m:
        sys.exit(f"no {name} in the pane:\n{text}")
    return m.group(1)


def close(shown, want, name):
    got = float(shown)
    # As `ptview stats` writes them (Format.statistic): scientific with 4 decimals of the
    # mantissa, or fixed, rounded to the decimals shown (trailing zeros dropped).
    if "e" in shown:
        ok = math.isclose(got, want, rel_tol=6e-5)
    else:
        decimals = len(shown.split(".")[1]) if "." in shown else 0
        ok = abs(got - want) <= 0.5 * 10.0**-decimals * (1 + 1e-9)
    if not ok:
        sys.exit(f"{name}: pane shows {shown}, torch computes {want!r}")


def check(path, key, screen_path):
    t = torch.load(path, map_location="cpu")[key]
    screen = open(screen_path, encoding="utf-8").read()
    x = t.to(torch.float64).reshape(-1)
    finite = x[torch.isfinite(x)]
    for name, want in [
        ("count", x.numel()),
        ("nan", int(torch.isnan(x).sum())),
        ("+inf", int((x == math.inf).sum())),
        ("-inf", int((x == -math.inf).sum())),
        ("zeros", int((x == 0).sum())),
    ]:
        got = int(field(screen, name))
        if got != want:
            sys.exit(f"{name}: pane shows {got}, torch counts {want}")
    close(field(screen, "min"), finite.min().item(), "min")
    close(field(screen, "max"), finite.max().item(), "max")
    close(field(screen, "mean"), finite.mean().item(), "mean")
    close(field(screen, "std"), finite.std().item(), "std")
    # The grid's first row: label 0, then the first values as print(t) writes them.
    first = t.reshape(-1, t.shape[-1])[0] if t.dim() > 1 else t
    # The pane's side of each line (right of the border when the pane is on the right); the
    # column header above row 0 starts with 0 too, so row 0 is the last line starting with 0.
    rows = [line.split("│")[-1].split() for line in screen.splitlines()]
    rows = [tokens for tokens in rows if tokens and tokens[0] == "0"]
    if not rows:
        sys.exit(f"no grid row 0 in the pane:\n{screen}")
    cells = rows[-1][1:]
    if not cells:
        sys.exit(f"grid row 0 is empty: {row!r}")
    for i, cell in enumerate(cells):
        want = first[i].item()
        if not math.isclose(float(cell), float(want), rel_tol=1e-3, abs_tol=1e-4):
            sys.exit(f"grid [0, {i}]: pane shows {cell}, torch has {want!r}")
    print(f"{key}: {len(cells)} grid values and the statistics agree with torch")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        check(sys.argv[2], sys.argv[3], sys.argv[4])
