"""Check the explorer's opcode pane against Python's own pickletools: the lines the pane
shows (read from the terminal) must be a run of consecutive lines of pickletools.dis on the
same pickle, character for character. The expected text is computed here by Python."""
import io
import pickletools
import sys
import zipfile


def pane_lines(screen_path):
    lines = open(screen_path, encoding="utf-8").read().splitlines()
    start = next(i for i, line in enumerate(lines) if "opcodes · " in line)
    out = []
    for line in lines[start + 1:]:
        if line.startswith(" storage, first bytes:") or not line.startswith(" "):
            break
        if not line[1:2].isspace() and not line[1:2].isdigit():
            break  # the status line
        out.append(line[1:].rstrip())
    return [line for line in out if line]


def main(checkpoint, screen_path, record="data.pkl"):
    with zipfile.ZipFile(checkpoint) as archive:
        name = next(n for n in archive.namelist() if n.endswith("/" + record))
        data = archive.read(name)
    listing = io.StringIO()
    pickletools.dis(data, out=listing)
    expected = [line.rstrip() for line in listing.getvalue().splitlines()]
    shown = pane_lines(screen_path)
    if len(shown) < 5:
        sys.exit(f"the pane shows {len(shown)} lines: {shown}")
    for start in range(len(expected) - len(shown) + 1):
        if expected[start:start + len(shown)] == shown:
            print(f"pane = pickletools lines {start + 1}-{start + len(shown)}")
            return
    sys.exit("the pane is not a run of pickletools lines:\n" + "\n".join(shown))


if __name__ == "__main__":
    main(*sys.argv[1:])
