#!/usr/bin/env python3
"""Converts a `tmux capture-pane -e -p` capture (text with SGR escapes) on stdin to an SVG on stdout.

Each line becomes a <text> with one <tspan> per run of cells that share colours and weight; background colours
become rectangles under the text. Every run is placed at its own column so alignment never depends on the font.
"""
import re
import sys
from xml.sax.saxutils import escape

CELL_W = 8.4
CELL_H = 17
FONT_SIZE = 14
PAD = 10
DEFAULT_FG = "#d0d0d0"
DEFAULT_BG = "#1c1c1c"

# xterm's default 16-colour palette.
BASE16 = [
    "#000000", "#cd0000", "#00cd00", "#cdcd00", "#0000ee", "#cd00cd", "#00cdcd", "#e5e5e5",
    "#7f7f7f", "#ff0000", "#00ff00", "#ffff00", "#5c5cff", "#ff00ff", "#00ffff", "#ffffff",
]


def color256(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    level = 8 + (n - 232) * 10
    return "#%02x%02x%02x" % (level, level, level)


class Style:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None
        self.bg = None
        self.bold = False
        self.italic = False
        self.underline = False
        self.reverse = False

    def key(self):
        fg, bg = self.fg or DEFAULT_FG, self.bg or DEFAULT_BG
        if self.reverse:
            fg, bg = bg, fg
        return (fg, bg, self.bold, self.italic, self.underline)

    def apply(self, params):
        codes = [int(p) if p.isdigit() else 0 for p in params.replace(":", ";").split(";")] if params else [0]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                self.reset()
            elif c == 1:
                self.bold = True
            elif c == 3:
                self.italic = True
            elif c == 4:
                self.underline = True
            elif c == 7:
                self.reverse = True
            elif c == 22:
                self.bold = False
            elif c == 23:
                self.italic = False
            elif c == 24:
                self.underline = False
            elif c == 27:
                self.reverse = False
            elif 30 <= c <= 37:
                self.fg = BASE16[c - 30]
            elif 90 <= c <= 97:
                self.fg = BASE16[c - 90 + 8]
            elif 40 <= c <= 47:
                self.bg = BASE16[c - 40]
            elif 100 <= c <= 107:
                self.bg = BASE16[c - 100 + 8]
            elif c == 39:
                self.fg = None
            elif c == 49:
                self.bg = None
            elif c in (38, 48) and i + 1 < len(codes):
                color = None
                if codes[i + 1] == 5 and i + 2 < len(codes):
                    color = color256(codes[i + 2] % 256)
                    i += 2
                elif codes[i + 1] == 2 and i + 4 < len(codes):
                    color = "#%02x%02x%02x" % tuple(min(v, 255) for v in codes[i + 2:i + 5])
                    i += 4
                if c == 38:
                    self.fg = color
                else:
                    self.bg = color
            i += 1


ESCAPE = re.compile(r"\x1b\[([0-9;:]*)([A-Za-z])|\x1b[()][A-Za-z0-9]|\x1b.")


def parse(lines):
    """Returns, per line, a list of runs (column, text, style key); the style carries over line ends like a terminal."""
    style = Style()
    out = []
    for line in lines:
        runs = []
        col = 0
        pos = 0
        for m in list(ESCAPE.finditer(line)) + [None]:
            end = m.start() if m else len(line)
            chunk = line[pos:end]
            if chunk:
                key = style.key()
                if runs and runs[-1][2] == key and runs[-1][0] + len(runs[-1][1]) == col:
                    runs[-1] = (runs[-1][0], runs[-1][1] + chunk, key)
                else:
                    runs.append((col, chunk, key))
                col += len(chunk)
            if m is None:
                break
            if m.group(2) == "m":
                style.apply(m.group(1))
            pos = m.end()
        out.append(runs)
    return out


def render(rows):
    cols = max((r[-1][0] + len(r[-1][1]) for r in rows if r), default=80)
    width = cols * CELL_W + 2 * PAD
    height = len(rows) * CELL_H + 2 * PAD
    svg = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%d" viewBox="0 0 %.0f %d">' % (width, height, width, height),
        '<rect width="100%%" height="100%%" fill="%s"/>' % DEFAULT_BG,
        '<g font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="%d" xml:space="preserve">' % FONT_SIZE,
    ]
    for y, runs in enumerate(rows):
        top = PAD + y * CELL_H
        for col, text, (fg, bg, *_rest) in runs:
            if bg != DEFAULT_BG:
                svg.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>'
                           % (PAD + col * CELL_W, top, len(text) * CELL_W, CELL_H, bg))
        spans = []
        for col, text, (fg, bg, bold, italic, underline) in runs:
            if not text.strip() and not underline:
                continue
            attrs = ['x="%.1f"' % (PAD + col * CELL_W), 'fill="%s"' % fg]
            if bold:
                attrs.append('font-weight="bold"')
            if italic:
                attrs.append('font-style="italic"')
            if underline:
                attrs.append('text-decoration="underline"')
            spans.append("<tspan %s>%s</tspan>" % (" ".join(attrs), escape(text)))
        if spans:
            svg.append('<text y="%.1f">%s</text>' % (top + CELL_H * 0.78, "".join(spans)))
    svg.append("</g>")
    svg.append("</svg>")
    return "\n".join(svg) + "\n"


def main():
    data = sys.stdin.read()
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    sys.stdout.write(render(parse(lines)))


if __name__ == "__main__":
    main()
