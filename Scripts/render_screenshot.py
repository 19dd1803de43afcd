#!/usr/bin/env python3
"""Render a tmux capture (`capture-pane -p -e`, text with SGR escapes) as a PNG.

    render_screenshot.py CAPTURE.ans OUT.png --columns 100 --rows 30 [--title TEXT]

Needs Pillow (`pip install pillow`, or Debian's python3-pil) and DejaVu Sans Mono
(Debian's fonts-dejavu-core). Colours follow a dark terminal palette; bold, dim, reverse and
underline are drawn as a terminal would.
"""
import argparse
import re

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
BACKGROUND = (30, 32, 40)
FOREGROUND = (216, 220, 228)
# ANSI 0-7 and their bright versions (a muted, readable dark palette).
PALETTE = [
    (40, 42, 54), (232, 106, 106), (134, 214, 126), (232, 196, 104),
    (110, 150, 240), (206, 140, 222), (104, 200, 216), (216, 220, 228),
    (98, 104, 120), (255, 130, 130), (160, 236, 150), (255, 218, 128),
    (140, 176, 255), (226, 166, 240), (132, 224, 236), (255, 255, 255),
]
SGR = re.compile(r"\x1b\[([0-9;:]*)m")
OTHER_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>]")


def xterm256(n):
    if n < 16:
        return PALETTE[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return (v, v, v)


class Pen:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None
        self.bg = None
        self.bold = self.dim = self.reverse = self.underline = False

    def apply(self, params):
        codes = [int(p) if p else 0 for p in re.split(r"[;:]", params)] if params else [0]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                self.reset()
            elif c == 1:
                self.bold = True
            elif c == 2:
                self.dim = True
            elif c == 4:
                self.underline = True
            elif c == 7:
                self.reverse = True
            elif c == 22:
                self.bold = self.dim = False
            elif c == 24:
                self.underline = False
            elif c == 27:
                self.reverse = False
            elif 30 <= c <= 37:
                self.fg = PALETTE[c - 30]
            elif 90 <= c <= 97:
                self.fg = PALETTE[c - 90 + 8]
            elif c == 39:
                self.fg = None
            elif 40 <= c <= 47:
                self.bg = PALETTE[c - 40]
            elif 100 <= c <= 107:
                self.bg = PALETTE[c - 100 + 8]
            elif c == 49:
                self.bg = None
            elif c in (38, 48) and i + 2 < len(codes) and codes[i + 1] == 5:
                color = xterm256(codes[i + 2])
                if c == 38:
                    self.fg = color
                else:
                    self.bg = color
                i += 2
            elif c in (38, 48) and i + 4 < len(codes) and codes[i + 1] == 2:
                color = tuple(codes[i + 2:i + 5])
                if c == 38:
                    self.fg = color
                else:
                    self.bg = color
                i += 4
            i += 1

    def colors(self):
        fg = self.fg or FOREGROUND
        bg = self.bg or BACKGROUND
        if self.bold and self.fg in PALETTE[:8]:
            fg = PALETTE[PALETTE.index(self.fg) + 8]
        if self.reverse:
            fg, bg = bg, fg
        if self.dim:
            fg = tuple((a + b) // 2 for a, b in zip(fg, bg))
        return fg, bg


def parse(text, columns, rows):
    """Cells as (char, fg, bg, bold, underline) per row."""
    grid = []
    for line in text.split("\n")[:rows]:
        pen = Pen()
        row = []
        pos = 0
        while pos < len(line):
            m = SGR.match(line, pos)
            if m:
                pen.apply(m.group(1))
                pos = m.end()
                continue
            m = OTHER_ESCAPE.match(line, pos)
            if m:
                pos = m.end()
                continue
            fg, bg = pen.colors()
            row.append((line[pos], fg, bg, pen.bold, pen.underline))
            pos += 1
        fg, bg = Pen().colors()
        row += [(" ", fg, bg, False, False)] * max(0, columns - len(row))
        grid.append(row[:columns])
    while len(grid) < rows:
        grid.append([(" ", FOREGROUND, BACKGROUND, False, False)] * columns)
    return grid


def render(grid, out, title, size=17):
    regular = ImageFont.truetype(FONT, size)
    bold = ImageFont.truetype(BOLD, size)
    cell_w = round(regular.getlength("M"))
    cell_h = round(size * 1.3)
    pad = 16
    bar = 30 if title else 0
    columns, rows = len(grid[0]), len(grid)
    width = columns * cell_w + 2 * pad
    height = rows * cell_h + 2 * pad + bar
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    if title:
        draw.rectangle([0, 0, width, bar], fill=(22, 24, 30))
        for i, color in enumerate([(237, 106, 94), (245, 191, 79), (98, 197, 84)]):
            cx = 18 + i * 20
            draw.ellipse([cx - 6, bar // 2 - 6, cx + 6, bar // 2 + 6], fill=color)
        tw = regular.getlength(title)
        draw.text(((width - tw) / 2, (bar - size) / 2 - 1), title, font=regular, fill=(150, 156, 170))
    for y, row in enumerate(grid):
        top = pad + bar + y * cell_h
        for x, (ch, fg, bg, is_bold, underline) in enumerate(row):
            left = pad + x * cell_w
            if bg != BACKGROUND:
                draw.rectangle([left, top, left + cell_w - 1, top + cell_h - 1], fill=bg)
            if ch in "█▏▎▍▌▋▊▉":
                # Block elements: draw as boxes so they join with no gaps between cells.
                eighths = 8 if ch == "█" else "▏▎▍▌▋▊▉".index(ch) + 1
                draw.rectangle([left, top + 2, left + cell_w * eighths // 8 - 1, top + cell_h - 3], fill=fg)
            elif ch == "─":
                mid = top + cell_h // 2
                draw.line([left, mid, left + cell_w, mid], fill=fg)
            elif ch != " ":
                draw.text((left, top + (cell_h - size) // 2 - 1), ch, font=bold if is_bold else regular, fill=fg)
            if underline:
                draw.line([left, top + cell_h - 2, left + cell_w - 1, top + cell_h - 2], fill=fg)
    image.save(out, optimize=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("capture")
    parser.add_argument("out")
    parser.add_argument("--columns", type=int, default=80)
    parser.add_argument("--rows", type=int, default=24)
    parser.add_argument("--title", default="")
    args = parser.parse_args()
    with open(args.capture, encoding="utf-8") as f:
        text = f.read()
    render(parse(text, args.columns, args.rows), args.out, args.title)


if __name__ == "__main__":
    main()
