#!/usr/bin/env python3
"""Draw the figures of the guides (guides/en, guides/zh) as hand-written SVG.

    python3 tools/make_figures.py            # writes img/*.svg
    python3 tools/make_figures.py --out DIR  # writes DIR/*.svg instead

Only the Python standard library is used. The output is deterministic: no
timestamps, no randomness, every coordinate printed with a fixed format, so
running the script again reproduces the committed files byte for byte
(tests/test_figures.py checks this). After changing a figure, run the script
and commit the new img/*.svg together with this file.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "img"

# Latin first, then fonts that also cover CJK, so Chinese labels would render too.
FONT = ("'DejaVu Sans', 'Noto Sans CJK SC', 'Source Han Sans SC', 'PingFang SC', "
        "'Microsoft YaHei', 'WenQuanYi Micro Hei', Arial, sans-serif")

# Colours: one per role, the same in every figure.
INK = "#222222"
GREY = "#888888"
FWD = "#1f5fbf"      # forward direction / hidden state
REV = "#d9730d"      # reverse direction
CELL = "#2e8b57"     # LSTM cell state
GATE_R = "#c0392b"   # GRU reset gate
GATE_Z = "#2e8b57"   # GRU update gate
CAND = "#7d3c98"     # candidate (g / n)
LIGHT = {"box": "#f4f6fa", "tanh": "#fff4c2", "sigmoid": "#ffe1d6", "layer": "#f7f7f7",
         "fwd": "#e3ecfa", "rev": "#fdebd9", "cat": "#ffffff"}

Point = Tuple[float, float]


def num(v: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros ('12', '3.5', '-0.25')."""
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def rich(s: str, size: float) -> str:
    """Text with sub/superscripts as tspans: 'h_{t-1}', 'x_t', 'W^T'; a literal underscore is written '\\_'.

    The baseline is restored on the tspan of the text that follows (renderers
    ignore the dy of an empty tspan), so a label may hold several scripts.
    """
    out: List[str] = []
    plain = ""
    back = 0.0          # baseline shift still to undo
    i = 0

    def flush() -> None:
        nonlocal plain, back
        if plain:
            out.append(f'<tspan dy="{num(back)}">{esc(plain)}</tspan>' if back else esc(plain))
            plain, back = "", 0.0

    while i < len(s):
        ch = s[i]
        if ch == "\\" and i + 1 < len(s):
            plain += s[i + 1]
            i += 2
        elif ch in "_^" and i + 1 < len(s):
            flush()
            if s[i + 1] == "{":
                j = s.index("}", i + 2)
                inner, i = s[i + 2:j], j + 1
            else:
                inner, i = s[i + 1], i + 2
            shift = 0.3 * size if ch == "_" else -0.4 * size
            out.append(f'<tspan dy="{num(back + shift)}" font-size="{num(0.72 * size)}">{esc(inner)}</tspan>')
            back = -shift
        else:
            plain += ch
            i += 1
    flush()
    return "".join(out)


class Svg:
    def __init__(self, width: int, height: int, title: str) -> None:
        self.width, self.height, self.title = width, height, title
        self.body: List[str] = []
        self.markers: Dict[str, str] = {}

    # -- primitives -------------------------------------------------------
    def _marker(self, color: str) -> str:
        name = "arrow-" + color.lstrip("#")
        self.markers[name] = color
        return name

    def rect(self, x: float, y: float, w: float, h: float, fill: str = "#ffffff", stroke: str = INK,
             rx: float = 6, sw: float = 1.5, dash: str = "") -> None:
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.body.append(f'<rect x="{num(x)}" y="{num(y)}" width="{num(w)}" height="{num(h)}" rx="{num(rx)}" '
                         f'fill="{fill}" stroke="{stroke}" stroke-width="{num(sw)}"{extra}/>')

    def box(self, cx: float, cy: float, w: float, h: float, label: str, fill: str = "#ffffff",
            stroke: str = INK, size: float = 15, color: str = INK, sw: float = 1.5) -> None:
        """A rectangle centred on (cx, cy) with a centred label."""
        self.rect(cx - w / 2, cy - h / 2, w, h, fill=fill, stroke=stroke, sw=sw)
        self.text(cx, cy + size * 0.35, label, size=size, color=color)

    def circle(self, cx: float, cy: float, r: float, fill: str = "#ffffff", stroke: str = INK,
               sw: float = 1.5) -> None:
        self.body.append(f'<circle cx="{num(cx)}" cy="{num(cy)}" r="{num(r)}" fill="{fill}" '
                         f'stroke="{stroke}" stroke-width="{num(sw)}"/>')

    def node(self, cx: float, cy: float, label: str, r: float = 13, stroke: str = INK, size: float = 16) -> None:
        """A small round operator node: ×, +, cat, 1−."""
        self.circle(cx, cy, r, stroke=stroke)
        self.text(cx, cy + size * 0.35, label, size=size, color=stroke)

    def dot(self, cx: float, cy: float, color: str = INK) -> None:
        self.circle(cx, cy, 3.5, fill=color, stroke=color, sw=1)

    def path(self, points: Sequence[Point], color: str = INK, sw: float = 1.8, arrow: bool = True,
             dash: str = "") -> None:
        """A polyline through points, with an arrow head at the last point."""
        pts = " ".join(f"{num(x)},{num(y)}" for x, y in points)
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        if arrow:
            extra += f' marker-end="url(#{self._marker(color)})"'
        self.body.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="{num(sw)}" '
                         f'stroke-linejoin="round"{extra}/>')

    def line(self, x1: float, y1: float, x2: float, y2: float, **kw) -> None:
        self.path([(x1, y1), (x2, y2)], **kw)

    def curve(self, points: Iterable[Point], color: str, sw: float = 2.5, dash: str = "") -> None:
        self.path(list(points), color=color, sw=sw, arrow=False, dash=dash)

    def text(self, x: float, y: float, s: str, size: float = 15, anchor: str = "middle", color: str = INK,
             weight: str = "normal", italic: bool = False) -> None:
        attrs = f'x="{num(x)}" y="{num(y)}" font-size="{num(size)}" fill="{color}"'
        if anchor != "start":
            attrs += f' text-anchor="{anchor}"'
        if weight != "normal":
            attrs += f' font-weight="{weight}"'
        if italic:
            attrs += ' font-style="italic"'
        self.body.append(f"<text {attrs}>{rich(s, size)}</text>")

    # -- output -----------------------------------------------------------
    def render(self) -> str:
        head = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
            f'viewBox="0 0 {self.width} {self.height}" font-family="{esc(FONT)}" xml:space="preserve">',
            f"<title>{esc(self.title)}</title>",
            "<defs>",
        ]
        for name in sorted(self.markers):
            head.append(f'<marker id="{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" '
                        f'markerHeight="9" markerUnits="userSpaceOnUse" orient="auto">'
                        f'<path d="M0,0 L10,5 L0,10 z" fill="{self.markers[name]}"/></marker>')
        head.append("</defs>")
        head.append(f'<rect x="0" y="0" width="{self.width}" height="{self.height}" fill="#ffffff"/>')
        return "\n".join(head + self.body + ["</svg>"]) + "\n"


# ---------------------------------------------------------------------------
# 1. The Elman RNN unrolled over three steps
# ---------------------------------------------------------------------------
def rnn_cell() -> str:
    svg = Svg(1060, 390, "Elman RNN unrolled over three time steps")
    svg.text(530, 32, "Elman RNN unrolled over T = 3 steps: one cell, the same weights at every step",
             size=18, weight="bold")
    y = 185          # the hidden-state line
    top, bottom = 120, 250
    for step in range(3):
        t = step + 1
        x0 = 95 + step * 280
        svg.rect(x0, top, 220, bottom - top, fill=LIGHT["box"], stroke=GREY, rx=10)
        svg.text(x0 + 10, top + 20, f"step t = {t}", size=13, anchor="start", color=GREY)
        cat_x = x0 + 38
        svg.node(cat_x, y, "cat", r=17, size=12)
        # x_t from below
        svg.text(cat_x, bottom + 72, f"x_{t} = x[{step}]", size=15)
        svg.line(cat_x, bottom + 52, cat_x, y + 17)
        # linear layer and tanh
        svg.box(x0 + 110, y, 76, 40, "", fill="#ffffff")
        svg.text(x0 + 110, y - 3, "linear", size=13)
        svg.text(x0 + 110, y + 13, "W, b", size=12, color=GREY)
        svg.line(cat_x + 17, y, x0 + 72, y)
        svg.box(x0 + 184, y, 48, 32, "tanh", fill=LIGHT["tanh"], size=14)
        svg.line(x0 + 148, y, x0 + 160, y)
        # h_t leaves the cell: to the next step and up as an output
        branch = x0 + 240
        end = x0 + 280 + 38 - 17 if step < 2 else x0 + 290
        svg.line(x0 + 208, y, end, y, color=FWD)
        svg.dot(branch, y, FWD)
        svg.line(branch, y, branch, 80, color=FWD)
        svg.text(branch, 66, f"h_{t} = output[{step}]", size=15, color=FWD)
        if step < 2:
            svg.text(branch + 20, y + 22, f"h_{t}", size=14, color=FWD)
    # h_0 enters, h_3 leaves
    svg.text(30, y + 5, "h_0", size=15, color=FWD)
    svg.line(48, y, 95 + 38 - 17, y, color=FWD)
    svg.text(95 + 2 * 280 + 296, y + 5, r"h\_n = h_3", size=15, color=FWD, anchor="start")
    svg.text(530, 358, "h_t = tanh(W [x_t, h_{t-1}] + b) = tanh(x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh})",
             size=16)
    svg.text(530, 380, r"W = [weight\_ih | weight\_hh] has shape (H, I + H);  b = bias\_ih + bias\_hh",
             size=13, color=GREY)
    return svg.render()


# ---------------------------------------------------------------------------
# 2. Two layers, two directions
# ---------------------------------------------------------------------------
def stacked_bidirectional() -> str:
    svg = Svg(1140, 640, "Stacked bidirectional RNN: output and h_n row order")
    svg.text(430, 30, r"num\_layers = 2, bidirectional = True (D = 2), T = 3", size=18, weight="bold")
    cols = [260, 450, 640]
    dx, cw, ch = 42, 72, 34           # cell offset from the column centre, cell size
    layers = [  # (layer, y forward row, y reverse row, y cat, y split)
        (0, 470, 410, 350, 520),
        (1, 260, 200, 140, 305),
    ]
    svg.rect(30, 322, 840, 175, fill=LIGHT["layer"], stroke=GREY, rx=10, dash="6 4")
    svg.rect(30, 112, 840, 175, fill=LIGHT["layer"], stroke=GREY, rx=10, dash="6 4")
    for layer, yf, yr, yc, ysplit in layers:
        box_top = yc - 28
        svg.text(42, box_top + 20, f"layer {layer}", size=15, anchor="start", weight="bold")
        kf, kr = 2 * layer, 2 * layer + 1
        # inputs: from x_t (layer 0) or from the layer below's cat node (layer 1)
        for j, cx in enumerate(cols):
            src = 585 if layer == 0 else 350 - 14
            svg.path([(cx, src), (cx, ysplit)], color=INK, arrow=False)
            svg.dot(cx, ysplit)
            svg.path([(cx, ysplit), (cx - dx, ysplit), (cx - dx, yf + ch / 2)], color=FWD)
            svg.path([(cx, ysplit), (cx + dx, ysplit), (cx + dx, yr + ch / 2)], color=REV)
            # the two cells of this step
            svg.box(cx - dx, yf, cw, ch, f"L{layer} fwd", fill=LIGHT["fwd"], stroke=FWD, size=13, color=FWD)
            svg.box(cx + dx, yr, cw, ch, f"L{layer} rev", fill=LIGHT["rev"], stroke=REV, size=13, color=REV)
            # cat(forward_t, backward_t)
            svg.node(cx, yc, "cat", r=15, size=11)
            svg.path([(cx - dx, yf - ch / 2), (cx - dx, yc), (cx - 15, yc)], color=FWD)
            svg.path([(cx + dx, yr - ch / 2), (cx + dx, yc), (cx + 15, yc)], color=REV)
            # recurrent connections
            if j < 2:
                svg.line(cx - dx + cw / 2, yf, cols[j + 1] - dx - cw / 2, yf, color=FWD)
                svg.line(cols[j + 1] + dx - cw / 2, yr, cx + dx + cw / 2, yr, color=REV)
        # initial states in, final states out
        first, last = cols[0], cols[-1]
        svg.line(130, yf, first - dx - cw / 2, yf, color=FWD)
        svg.text(125, yf + 5, f"hx[{kf}]", size=14, anchor="end", color=FWD)
        svg.line(first + dx - cw / 2, yr, 130, yr, color=REV)
        svg.text(125, yr + 5, f"h\\_n[{kr}]", size=14, anchor="end", color=REV, weight="bold")
        svg.line(last - dx + cw / 2, yf, 790, yf, color=FWD)
        svg.text(797, yf + 5, f"h\\_n[{kf}]", size=14, anchor="start", color=FWD, weight="bold")
        svg.line(790, yr, last + dx + cw / 2, yr, color=REV)
        svg.text(797, yr + 5, f"hx[{kr}]", size=14, anchor="start", color=REV)
    # inputs and outputs
    for j, cx in enumerate(cols):
        svg.text(cx, 605, f"x_{j + 1} = x[{j}]", size=15)
        svg.line(cx, 140 - 15, cx, 88)
        svg.text(cx, 78, f"output[{j}]", size=15)
    svg.text(430, 56, "output (T, B, 2H): at every step t, cat(forward_t, backward_t) of the top layer",
             size=14, color=GREY)
    # between the layers
    svg.text(42, 309, "dropout here (training only)", size=12, anchor="start", color=GREY)
    # the h_n panel
    px, py = 905, 170
    svg.text(px + 105, py - 34, r"h\_n (L·D, B, H)", size=16, weight="bold")
    svg.text(px + 105, py - 14, "row k = layer · D + direction", size=13, color=GREY)
    rows = [("0", "layer 0, forward", FWD, LIGHT["fwd"]), ("1", "layer 0, reverse", REV, LIGHT["rev"]),
            ("2", "layer 1, forward", FWD, LIGHT["fwd"]), ("3", "layer 1, reverse", REV, LIGHT["rev"])]
    for i, (k, label, color, fill) in enumerate(rows):
        yy = py + i * 44
        svg.rect(px, yy, 210, 36, fill=fill, stroke=color, rx=4)
        svg.text(px + 20, yy + 24, k, size=16, color=color, weight="bold")
        svg.text(px + 40, yy + 23, label, size=14, anchor="start", color=color)
    svg.text(px + 105, py + 200, "forward ends at t = T,", size=13, color=GREY)
    svg.text(px + 105, py + 218, "reverse ends at t = 1", size=13, color=GREY)
    notes = ["Layer 1 reads cat(fwd, rev)", "of layer 0 at every step", "(2H features). Dropout, in",
             "training only, sits between", "the layers, never after", "the top layer."]
    for i, line in enumerate(notes):
        svg.text(px, py + 262 + i * 18, line, size=13, anchor="start", color=GREY)
    return svg.render()


# ---------------------------------------------------------------------------
# 3. The LSTM cell
# ---------------------------------------------------------------------------
def lstm_cell() -> str:
    svg = Svg(900, 530, "LSTM cell: gates i, f, g, o and the cell state")
    svg.text(450, 32, "LSTM cell (row blocks of the weights: i, f, g, o)", size=18, weight="bold")
    left, right, top, bottom = 120, 760, 70, 380
    svg.rect(left, top, right - left, bottom - top, fill=LIGHT["box"], stroke=GREY, rx=14)
    yc, yh_in, y_gate = 115, 335, 270
    # cell-state path
    svg.text(60, yc + 5, "c_{t-1}", size=16, color=CELL)
    svg.line(82, yc, 260 - 14, yc, color=CELL, sw=3)
    svg.node(260, yc, "×", stroke=CELL)
    svg.line(260 + 14, yc, 430 - 14, yc, color=CELL, sw=3)
    svg.node(430, yc, "+", stroke=CELL)
    svg.line(430 + 14, yc, 800, yc, color=CELL, sw=3)
    svg.text(810, yc + 5, "c_t", size=16, color=CELL, anchor="start")
    svg.text(540, yc - 12, "cell state c: the additive path", size=13, color=CELL)
    # input: concat of x_t and h_{t-1}, the bus feeding the four gates
    svg.text(60, yh_in + 5, "h_{t-1}", size=16, color=FWD)
    svg.line(82, yh_in, 190 - 15, yh_in, color=FWD)
    svg.node(190, yh_in, "cat", r=15, size=11)
    svg.text(190, 455, "x_t", size=16)
    svg.line(190, 438, 190, yh_in + 15)
    svg.path([(205, yh_in), (560, yh_in)], arrow=False)
    gates = [(260, "f", "σ", LIGHT["sigmoid"]), (350, "i", "σ", LIGHT["sigmoid"]),
             (430, "g", "tanh", LIGHT["tanh"]), (560, "o", "σ", LIGHT["sigmoid"])]
    for gx, name, act, fill in gates:
        svg.dot(gx, yh_in)
        svg.line(gx, yh_in, gx, y_gate + 17)
        svg.box(gx, y_gate, 66, 34, f"{name}: {act}", fill=fill, size=15)
    # f -> x on the cell line
    svg.line(260, y_gate - 17, 260, yc + 14)
    # i x g -> + on the cell line
    svg.node(430, 190, "×")
    svg.path([(350, y_gate - 17), (350, 190), (430 - 13, 190)])
    svg.line(430, y_gate - 17, 430, 190 + 13, color=CAND)
    svg.line(430, 190 - 13, 430, yc + 14)
    svg.text(455, 160, "i ⊙ g", size=13, anchor="start", color=GREY)
    # output: o x tanh(c_t)
    svg.dot(650, yc, CELL)
    svg.line(650, yc, 650, 165 - 14, color=CELL)
    svg.box(650, 165, 52, 28, "tanh", fill=LIGHT["tanh"], size=14)
    svg.node(650, 230, "×")
    svg.line(650, 165 + 14, 650, 230 - 13)
    svg.path([(560, y_gate - 17), (560, 230), (650 - 13, 230)])
    svg.line(650 + 13, 230, 800, 230, color=FWD)
    svg.text(810, 235, "h_t", size=16, color=FWD, anchor="start")
    svg.text(695, 262, "o ⊙ tanh(c_t)", size=13, color=GREY)
    # equations
    svg.text(450, 486, "i, f, g, o = chunks 0..3 of  x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh}"
             "   (σ for i, f, o;  tanh for g)", size=14)
    svg.text(450, 510, "c_t = f ⊙ c_{t-1} + i ⊙ g        h_t = o ⊙ tanh(c_t)", size=15, weight="bold")
    return svg.render()


# ---------------------------------------------------------------------------
# 4. The GRU cell
# ---------------------------------------------------------------------------
def gru_cell() -> str:
    svg = Svg(1100, 720, "GRU cell: reset gate r, update gate z, candidate n")
    svg.text(550, 32, "GRU cell (row blocks of the weights: r, z, n)", size=18, weight="bold")
    svg.rect(95, 60, 925, 530, fill=LIGHT["box"], stroke=GREY, rx=14)
    yh, y1mz, yn, yplus, yr, yread, ybus = 95, 175, 245, 315, 390, 465, 540
    zx, rx_, inx, hnx, nx = 290, 600, 430, 790, 700
    # hidden-state line on top: h' = z ⊙ h + (1 - z) ⊙ n
    svg.text(48, yh + 5, "h_{t-1}", size=16, color=FWD)
    svg.line(70, yh, zx - 13, yh, color=FWD, sw=2.5)
    svg.node(zx, yh, "×", stroke=FWD)
    svg.line(zx + 13, yh, nx - 13, yh, color=FWD, sw=2.5)
    svg.node(nx, yh, "+", stroke=FWD)
    svg.line(nx + 13, yh, 1050, yh, color=FWD, sw=2.5)
    svg.text(1058, yh + 5, "h_t", size=16, color=FWD, anchor="start")
    svg.text((zx + nx) / 2, yh - 12, "z ⊙ h_{t-1}", size=13, color=GREY)
    # h_{t-1} and x_t are concatenated into the bus read by the gates
    svg.dot(140, yh, FWD)
    svg.path([(140, yh), (140, ybus), (175 - 15, ybus)], color=FWD)
    svg.node(175, ybus, "cat", r=15, size=11)
    svg.text(175, 652, "x_t", size=16)
    svg.line(175, 635, 175, ybus + 15)
    svg.path([(190, ybus), (hnx, ybus)], arrow=False)
    readers = [(zx, "z: σ", 70, LIGHT["sigmoid"], GATE_Z), (inx, "W_{in} x_t + b_{in}", 130, "#ffffff", INK),
               (rx_, "r: σ", 70, LIGHT["sigmoid"], GATE_R), (hnx, "W_{hn} h_{t-1} + b_{hn}", 150, "#ffffff", INK)]
    for x, label, w, fill, color in readers:
        svg.dot(x, ybus)
        svg.line(x, ybus, x, yread + 18)
        svg.box(x, yread, w, 36, label, fill=fill, stroke=color, size=14, color=color)
    # update gate: z multiplies the old state, 1 - z the candidate
    svg.line(zx, yread - 18, zx, yh + 13, color=GATE_Z)
    svg.dot(zx, y1mz, GATE_Z)
    svg.line(zx, y1mz, 480 - 15, y1mz, color=GATE_Z)
    svg.node(480, y1mz, "1−", r=15, stroke=GATE_Z, size=13)
    svg.line(480 + 15, y1mz, nx - 13, y1mz, color=GATE_Z)
    svg.node(nx, y1mz, "×")
    svg.line(nx, y1mz - 13, nx, yh + 13)
    svg.text(nx + 18, (yh + y1mz) / 2 + 5, "(1 − z) ⊙ n", size=13, anchor="start", color=GREY)
    # candidate n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
    svg.box(nx, yn, 70, 34, "n: tanh", fill=LIGHT["tanh"], stroke=CAND, size=15, color=CAND)
    svg.line(nx, yn - 17, nx, y1mz + 13, color=CAND)
    svg.node(nx, yplus, "+")
    svg.line(nx, yplus - 13, nx, yn + 17)
    svg.path([(inx, yread - 18), (inx, yplus), (nx - 13, yplus)])
    svg.node(hnx, yr, "×", stroke=GATE_R)
    svg.line(hnx, yread - 18, hnx, yr + 13)
    svg.path([(rx_, yread - 18), (rx_, yr), (hnx - 13, yr)], color=GATE_R)
    svg.path([(hnx, yr - 13), (hnx, yplus), (nx + 13, yplus)], color=GATE_R)
    svg.text(hnx + 18, yr + 5, "r ⊙ (W_{hn} h_{t-1} + b_{hn})", size=13, anchor="start", color=GATE_R)
    svg.text(hnx + 18, yr + 24, "r multiplies after the matmul", size=12, anchor="start", color=GATE_R)
    # equations
    svg.text(550, 688, "r = σ(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})     "
             "z = σ(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})", size=14)
    svg.text(550, 712, "n = tanh(W_{in} x_t + b_{in} + r ⊙ (W_{hn} h_{t-1} + b_{hn}))      "
             "h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}", size=14, weight="bold")
    return svg.render()


# ---------------------------------------------------------------------------
# 5. tanh, sigmoid and the sigmoid's derivative
# ---------------------------------------------------------------------------
def activations() -> str:
    svg = Svg(930, 520, "tanh, sigmoid and the derivative of the sigmoid")
    svg.text(465, 30, "Activations and the derivative that makes gradients vanish", size=18, weight="bold")
    x0, x1, y0, y1 = 80, 600, 60, 460          # plot area in pixels
    zmin, zmax, vmin, vmax = -6.0, 6.0, -1.2, 1.2

    def px(z: float) -> float:
        return x0 + (z - zmin) / (zmax - zmin) * (x1 - x0)

    def py(v: float) -> float:
        return y1 - (v - vmin) / (vmax - vmin) * (y1 - y0)

    svg.rect(x0, y0, x1 - x0, y1 - y0, fill="#ffffff", stroke=GREY, rx=0, sw=1)
    for v in (-1.0, -0.5, 0.25, 0.5, 1.0):      # light grid
        svg.curve([(x0, py(v)), (x1, py(v))], color="#e4e4e4", sw=1)
        svg.text(x0 - 8, py(v) + 5, num(v).replace("-", "−"), size=13, anchor="end", color=GREY)
    for z in (-4, -2, 2, 4):
        svg.curve([(px(z), y0), (px(z), y1)], color="#e4e4e4", sw=1)
        svg.text(px(z), py(0) + 18, str(z).replace("-", "−"), size=13, color=GREY)
    svg.text(x0 - 8, py(0) + 5, "0", size=13, anchor="end", color=GREY)
    # axes with arrows
    svg.line(x0, py(0), x1 + 12, py(0), color=INK, sw=1.3)
    svg.line(px(0), y1, px(0), y0 - 12, color=INK, sw=1.3)
    svg.text(x1 + 16, py(0) + 5, "z", size=16, anchor="start", italic=True)

    def sigmoid(z: float) -> float:
        return 1.0 / (1.0 + math.exp(-z))

    steps = [zmin + i * (zmax - zmin) / 240 for i in range(241)]
    curves = [
        ("tanh(z)", lambda z: math.tanh(z), FWD, ""),
        ("1 − tanh²(z) = tanh′(z)", lambda z: 1 - math.tanh(z) ** 2, FWD, "6 5"),
        ("σ(z) = sigmoid(z)", sigmoid, REV, ""),
        ("σ′(z) = σ(z)(1 − σ(z))", lambda z: sigmoid(z) * (1 - sigmoid(z)), GATE_R, "2 0"),
    ]
    for i, (label, f, color, dash) in enumerate(curves):
        width = 3.2 if i == 3 else 2.2
        svg.curve([(px(z), py(f(z))) for z in steps], color=color, sw=width, dash="" if dash == "2 0" else dash)
        ly = 92 + i * 28
        svg.curve([(640, ly - 5), (670, ly - 5)], color=color, sw=width, dash="" if dash == "2 0" else dash)
        svg.text(678, ly, label, size=13, anchor="start", color=color)
    # the maximum of sigma'
    svg.circle(px(0), py(0.25), 5.5, fill=GATE_R, stroke="#ffffff", sw=1.5)
    svg.curve([(px(0.15), py(0.26)), (px(1.9), py(0.4))], color=GATE_R, sw=1)
    svg.text(px(1.95), py(0.4) + 5, "max σ′ = σ′(0) = 0.25", size=14, anchor="start", color=GATE_R,
             weight="bold")
    notes = [("σ′ ≤ 0.25 everywhere, so a factor", INK), ("σ′(z_i) w_i of D_n is at most 0.25 |w_i|:", INK),
             ("|w_i| < 4: every factor < 1, vanishing", INK), ("|w_i| > 4: only then can it explode", INK),
             ("tanh′ ≤ 1 plays this role in an RNN:", GREY), ("∂h_k/∂h_{k-1} = diag(1 − h_k²) W_{hh}", GREY)]
    for i, (line, color) in enumerate(notes):
        svg.text(640, 300 + i * 22, line, size=13, anchor="start", color=color)
    svg.text((x0 + x1) / 2, 500, "tanh squashes into (−1, 1), the sigmoid into (0, 1)", size=14, color=GREY)
    return svg.render()


# ---------------------------------------------------------------------------
# 6. The four shapes of a sequence task
# ---------------------------------------------------------------------------
SEQ_W, SEQ_H = 520, 290   # one panel
STEP_DX = 88              # between unrolled steps
ROW_IN, ROW_CELL, ROW_OUT = 205, 140, 70   # y of the inputs, the cells, the outputs (within a panel)
ROW_NOTE = 250                             # y of a panel's note, below its inputs


def _unrolled(svg: Svg, x0: float, y0: float, inputs: Sequence[str], outputs: Sequence[str], fill: str,
              stroke: str, h0: str = "", dx: float = STEP_DX) -> List[float]:
    """One row of unrolled cells at x0 (left) in the panel at y0: an input below each cell where its label is
    not empty, an output above where its label is not empty; the state runs left to right. The cells' centres."""
    centres = [x0 + k * dx for k in range(len(inputs))]
    cy = y0 + ROW_CELL
    for k, cx in enumerate(centres):
        svg.box(cx, cy, 50, 36, "RNN", fill=fill, stroke=stroke, size=12)
        if inputs[k]:
            svg.text(cx, y0 + ROW_IN + 22, inputs[k], size=14)
            svg.line(cx, y0 + ROW_IN + 4, cx, cy + 18)
        if outputs[k]:
            svg.line(cx, cy - 18, cx, y0 + ROW_OUT + 8, color=FWD)
            svg.text(cx, y0 + ROW_OUT, outputs[k], size=14, color=FWD)
        if k:
            svg.line(centres[k - 1] + 25, cy, cx - 25, cy, color=stroke)
    if h0:
        svg.text(x0 - 62, cy + 5, h0, size=13, color=GREY)
        svg.line(x0 - 48, cy, x0 - 25, cy, color=GREY)
    return centres


def _panel(svg: Svg, x0: float, y0: float, title: str, example: str, code: str) -> None:
    svg.rect(x0, y0, SEQ_W, SEQ_H, fill="#ffffff", stroke=GREY, rx=10)
    svg.text(x0 + 14, y0 + 24, title, size=16, anchor="start", weight="bold")
    svg.text(x0 + SEQ_W - 14, y0 + 24, example, size=13, anchor="end", color=GREY)
    svg.text(x0 + SEQ_W / 2, y0 + SEQ_H - 12, code, size=13, color=GREY)


def sequence_tasks() -> str:
    svg = Svg(1100, 660, "The four shapes of a sequence task: N vs N, N vs 1, 1 vs N, N vs M")
    svg.text(550, 32, "The four shapes of a sequence task (time runs left to right)", size=18, weight="bold")
    left, right, top, bottom = 20, 560, 50, 355
    # N vs N: an output at every step
    _panel(svg, left, top, "N vs N", "tag every word", r"tag\_steps: head(output) → (T, B, C)")
    _unrolled(svg, left + 130, top, ["x_1", "x_2", "x_3", "x_4"], ["y_1", "y_2", "y_3", "y_4"], LIGHT["fwd"], FWD,
              h0="h_0")
    # N vs 1: one output, from the final state
    _panel(svg, right, top, "N vs 1", "classify a sentence", r"classify\_sequence: head(final\_features(h\_n)) → (B, C)")
    cells = _unrolled(svg, right + 100, top, ["x_1", "x_2", "x_3", "x_4"], ["", "", "", ""], LIGHT["fwd"], FWD)
    cy = top + ROW_CELL
    svg.line(cells[-1] + 25, cy, cells[-1] + 70, cy, color=FWD)
    svg.box(cells[-1] + 100, cy, 56, 32, "head", size=13)
    svg.line(cells[-1] + 100, cy - 16, cells[-1] + 100, top + ROW_OUT + 8, color=FWD)
    svg.text(cells[-1] + 100, top + ROW_OUT, "y", size=14, color=FWD)
    svg.text(cells[-1] + 48, cy + 32, r"h\_n", size=13, color=FWD)
    # 1 vs N: one input, each prediction fed back
    _panel(svg, left, bottom, "1 vs N", "generate from one vector", "generate: input_{t+1} = embedding(argmax y_t) → (M, B, C)")
    cells = _unrolled(svg, left + 130, bottom, ["x", "", "", ""], ["y_1", "y_2", "y_3", "y_4"], LIGHT["fwd"], FWD,
                      h0="h_0")
    for a, b in zip(cells, cells[1:]):  # from y_t into the next cell, from above: no crossing
        svg.path([(a + 10, bottom + ROW_OUT + 12), (b - 15, bottom + ROW_OUT + 34), (b - 15, bottom + ROW_CELL - 18)],
                 color=REV, sw=1.5, dash="5 4")
    svg.text(left + SEQ_W / 2, bottom + ROW_NOTE, "dashed: each prediction, embedded, is the next step's input",
             size=12, color=REV)
    # N vs M: encoder, state, decoder
    _panel(svg, right, bottom, "N vs M", "translate", "seq2seq: the encoder's final state starts the decoder → (M, B, C)")
    enc = _unrolled(svg, right + 40, bottom, ["x_1", "x_2", "x_3"], ["", "", ""], LIGHT["fwd"], FWD, dx=80)
    dec = _unrolled(svg, right + 315, bottom, ["<s>", "y_1", "y_2"], ["y_1", "y_2", "y_3"], LIGHT["rev"], REV, dx=80)
    cy = bottom + ROW_CELL
    svg.line(enc[-1] + 25, cy, dec[0] - 25, cy, color=CELL, sw=2.5)
    svg.text((enc[-1] + dec[0]) / 2, cy - 10, "state", size=13, color=CELL)
    svg.text((enc[0] + enc[-1]) / 2, bottom + 46, "encoder", size=13, color=FWD)
    svg.text((dec[0] + dec[-1]) / 2, bottom + 46, "decoder", size=13, color=REV)
    svg.text(right + SEQ_W / 2, bottom + ROW_NOTE, "decoder reads: the shifted target (teacher forcing) or its predictions",
             size=12, color=GREY)
    return svg.render()


FIGURES = {
    "rnn_cell.svg": rnn_cell,
    "stacked_bidirectional.svg": stacked_bidirectional,
    "lstm_cell.svg": lstm_cell,
    "gru_cell.svg": gru_cell,
    "activations.svg": activations,
    "sequence_tasks.svg": sequence_tasks,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the guides' figures as SVG files.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: img/)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, draw in FIGURES.items():
        (args.out / name).write_bytes(draw().encode("utf-8"))
        print(args.out / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
