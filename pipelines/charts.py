"""Charts of the report as inline SVG, written by hand (no plotting library, no JavaScript, no CDN).

Every data point is a mark inside a group whose id names the chart and the point
(`<chart>-pt-<n>`: one `<use>` per point of line n; `<chart>-bar-<n>`: one `<path>` per bar),
so a browser test can count what was drawn. Each mark carries a `<title>` with its label and
value (the browser shows it on hover). Every text is XML-escaped here, so the SVG can be
inlined in a page as it is. The output depends only on the input: same data, same bytes.

Layout needs text widths, which SVG cannot give without a browser: they are estimated from the
advance widths of DejaVu Sans (Debian's default sans-serif, the font named first), rounded up.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from html import escape

# Colour-blind-safe (Okabe-Ito); the EU series is always the first, drawn thickest in black.
PALETTE = ["#000000", "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9"]
# Marker shapes centred on (0, 0), one per palette colour: circle, square, triangle up,
# diamond, triangle down, plus, cross.
MARKERS = [
    "M3.2 0A3.2 3.2 0 1 1-3.2 0A3.2 3.2 0 1 1 3.2 0Z",
    "M-2.8-2.8h5.6v5.6h-5.6Z",
    "M0-3.9L3.5 2.3H-3.5Z",
    "M0-4L3.6 0L0 4L-3.6 0Z",
    "M0 3.9L3.5-2.3H-3.5Z",
    "M-1.2-3.8h2.4v2.6h2.6v2.4h-2.6v2.6h-2.4v-2.6h-2.6v-2.4h2.6Z",
    "M-3.6-1.9L-1.9-3.6L0-1.7L1.9-3.6L3.6-1.9L1.7 0"
    "L3.6 1.9L1.9 3.6L0 1.7L-1.9 3.6L-3.6 1.9L-1.7 0Z",
]
FONT = "DejaVu Sans, Verdana, sans-serif"
WIDTH = 800  # viewBox width of a full chart; the page scales it to its column
TEXT = "#222222"
AXIS = "#333333"
GRID = "#dddddd"
BREAK = "#666666"
BAR = "#0072B2"
RISE, FALL, STABLE = "#D55E00", "#0072B2", "#999999"
BREAK_DASH = ' stroke-dasharray="5 3"'
GAP_DASH = ' stroke-dasharray="1.5 3"'
STABLE_BAND = 10.0  # the EUDA's city-change classes: within +/-10 % is stable


@dataclass(frozen=True)
class Line:
    label: str
    points: list[tuple[int, float]]
    breaks: list[int] = field(default_factory=list)  # periods with a break in series before
    eu: bool = False  # the EU series: black and thickest


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    note: str = ""  # e.g. the period and flags, shown after the value
    highlight: bool = False


@dataclass(frozen=True)
class Chart:
    svg: str
    points: int  # data points drawn


# -- text and numbers -------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def esc(text: object) -> str:
    """Text for an SVG element or attribute: XML-escaped, characters XML forbids dropped."""
    return escape(_CONTROL.sub("", str(text)), quote=True)


def _n(x: float) -> str:
    """A coordinate: one decimal at most, no '-0'."""
    text = f"{x:.1f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


# Advance widths of DejaVu Sans in em, rounded up; other characters count as WIDE.
_EM = {
    **dict.fromkeys("iljI.,:;'|!`", 0.32),
    **dict.fromkeys("ftr()[]{}/\\- ", 0.42),
    **dict.fromkeys('sczJ"*', 0.56),
    **dict.fromkeys("0123456789abdeghknopquvxy$?_#", 0.64),
    **dict.fromkeys("FLTZPSYEK", 0.70),
    **dict.fromkeys("ABCDHNRUVX&", 0.78),
    **dict.fromkeys("GOQ+=<>~", 0.84),
    **dict.fromkeys("mwMW%", 1.0),
}
WIDE = 0.8


def text_width(text: str, size: float) -> float:
    """The estimated width of `text` at font size `size` (never less than DejaVu Sans draws)."""
    return size * sum(_EM.get(c, WIDE) for c in text)


def _fit(text: str, size: float, width: float) -> str:
    """`text`, cut with an ellipsis to fit `width` (the full text stays in the mark's title)."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def number(value: float) -> str:
    """Thousands separated, up to 2 decimals for small values: 35,232 / 15.53 / 0.8."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


@dataclass(frozen=True)
class Ticks:
    values: list[float]
    decimals: int  # of the step, so every label has the same precision

    def label(self, value: float) -> str:
        text = f"{value:,.{self.decimals}f}"
        return text[1:] if text.startswith("-") and float(value) == 0 else text


def ticks(lo: float, hi: float, target: int = 5, *, integer: bool = False) -> Ticks:
    """Round ticks 1, 2 or 5 x 10^k apart, about `target` intervals, the first at or below `lo`
    and the last at or above `hi`. `integer` keeps the step whole (years)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"cannot scale an axis from {lo} to {hi}")
    lo, hi = min(lo, hi), max(lo, hi)
    if hi - lo <= 1e-12 * max(1.0, abs(lo)):  # flat: a band around the value
        pad = abs(lo) * 0.1 if abs(lo) > 1e-9 and not integer else 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(1, target)
    exponent = math.floor(math.log10(raw))
    mantissa = next(m for m in (1, 2, 5, 10) if m * 10.0**exponent >= raw * (1 - 1e-9))
    if mantissa == 10:
        mantissa, exponent = 1, exponent + 1
    if integer and exponent < 0:
        mantissa, exponent = 1, 0
    step = mantissa * 10.0**exponent
    decimals = max(0, -exponent)
    first = math.floor(lo / step + 1e-9)  # 0.3 / 0.1 is 2.999...: no extra tick for that
    last = math.ceil(hi / step - 1e-9)
    while round(first * step, decimals) > lo:  # but the data always lies within the ticks
        first -= 1
    while round(last * step, decimals) < hi:
        last += 1
    return Ticks([round(k * step, decimals) for k in range(first, last + 1)], decimals)


# -- SVG pieces -------------------------------------------------------------------------------
def _open(chart_id: str, label: str, width: float, height: float) -> str:
    return (
        f'<svg class="chart-svg" role="img" id="{esc(chart_id)}" aria-label="{esc(label)}" '
        f'viewBox="0 0 {_n(width)} {_n(height)}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="{FONT}" font-size="11" fill="{TEXT}">'
    )


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "") -> str:
    attrs = f' text-anchor="{anchor}"' if anchor != "start" else ""
    return f'<text x="{_n(x)}" y="{_n(y)}"{attrs}{extra}>{esc(text)}</text>'


def _stroke(d: str, colour: str, width: float, extra: str = "", title: str = "") -> str:
    head = f'<path d="{d}" stroke="{colour}" stroke-width="{width}" fill="none"{extra}'
    return f"{head}><title>{esc(title)}</title></path>" if title else f"{head}/>"


def _hline(x1: float, x2: float, y: float, colour: str, width: float, extra: str = "") -> str:
    return _stroke(f"M{_n(x1)} {_n(y)}H{_n(x2)}", colour, width, extra)


def _vline(
    x: float, y1: float, y2: float, colour: str, width: float, extra: str = "", title: str = ""
) -> str:
    return _stroke(f"M{_n(x)} {_n(y1)}V{_n(y2)}", colour, width, extra, title)


def _empty(chart_id: str, what: str, height: float = 60) -> Chart:
    body = _text(WIDTH / 2, height / 2 + 4, f"No data to draw for {what}", "middle")
    return Chart(_open(chart_id, f"{what}: no data", WIDTH, height) + body + "</svg>", 0)


# -- line charts ------------------------------------------------------------------------------
def _style(lines: list[Line], n: int) -> int:
    """The palette and marker index of line n: the EU is 0, countries follow in order."""
    line = lines[n]
    return 0 if line.eu else n + (0 if lines[0].eu else 1)


def line_chart(chart_id: str, lines: list[Line], unit: str) -> Chart:
    """The EU series (if any, first) and selected countries over time, one marker per point;
    a dashed vertical line before each period with a break in series."""
    lines = [Line(ln.label, sorted(ln.points), ln.breaks, ln.eu) for ln in lines]
    drawn = [p for line in lines for p in line.points]
    if not drawn:
        return _empty(chart_id, unit or "this chart")
    breaks = sorted({b for line in lines for b in line.breaks})
    periods = [p for p, _ in drawn] + [b - 0.5 for b in breaks]
    values = [v for _, v in drawn]
    y = ticks(min(values), max(values), 5)
    years = ticks(min(periods), max(periods), 10, integer=True)
    x_ticks = [t for t in years.values if min(periods) - 0.5 <= t <= max(periods) + 0.5]

    left = max(text_width(y.label(t), 11) for t in y.values) + 14
    top, right, plot_h = 26.0, WIDTH - 16.0, 280.0
    bottom = top + plot_h
    x0, x1 = min(periods) - 0.6, max(periods) + 0.6
    y0, y1 = y.values[0], y.values[-1]

    def px(period: float) -> float:
        return left + (period - x0) / (x1 - x0) * (right - left)

    def py(value: float) -> float:
        return bottom - (value - y0) / (y1 - y0) * plot_h

    entries = [(line.label, _style(lines, n), line.eu) for n, line in enumerate(lines)]
    gaps = any(_has_gap(line) for line in lines)
    legend, legend_h = _legend(chart_id, entries, bool(breaks), gaps, left, bottom + 34)
    height = bottom + 34 + legend_h + 4
    names = ", ".join(f"{line.label} ({len(line.points)} points)" for line in lines)
    out = [
        _open(chart_id, f"Line chart, {unit}: {names}", WIDTH, height),
        _defs(chart_id, {style for _, style, _ in entries}),
        _text(4, 14, unit, extra=' font-size="12"'),
    ]
    grid = [_hline(left, right, py(t), GRID, 0.7) for t in y.values]
    grid += [_vline(px(t), top, bottom, GRID, 0.7) for t in x_ticks]
    out.append(f'<g class="chart-grid">{"".join(grid)}</g>')
    axis = [_hline(left, right, bottom, AXIS, 1), _vline(left, top, bottom, AXIS, 1)]
    for t in y.values:
        axis.append(_hline(left - 4, left, py(t), AXIS, 1))
        axis.append(_text(left - 7, py(t) + 4, y.label(t), "end"))
    for t in x_ticks:
        axis.append(_vline(px(t), bottom, bottom + 4, AXIS, 1))
        axis.append(_text(px(t), bottom + 17, f"{t:.0f}", "middle"))
    out.append(f'<g class="chart-axes">{"".join(axis)}</g>')
    for b in breaks:
        where = ", ".join(line.label for line in lines if b in line.breaks)
        title = f"break in series before {b}: {where}"
        out.append(_vline(px(b - 0.5), top, bottom, BREAK, 1, BREAK_DASH, title))
    for n, line in enumerate(lines):
        style = _style(lines, n)
        colour = PALETTE[style % len(PALETTE)]
        coords = [(px(p), py(v)) for p, v in line.points]
        solid, bridges = _paths(coords, [p for p, _ in line.points])
        marks = "".join(
            f'<use href="#{esc(chart_id)}-m{style % len(MARKERS)}" x="{_n(a)}" y="{_n(b)}">'
            f"<title>{esc(f'{line.label}, {p}: {number(v)}')}</title></use>"
            for (a, b), (p, v) in zip(coords, line.points, strict=True)
        )
        width = 2.4 if line.eu else 1.5
        out.append(
            f'<g id="{esc(chart_id)}-pt-{n}">'
            f'<path d="{solid}" fill="none" stroke="{colour}" stroke-width="{width}"'
            ' stroke-linejoin="round"/>'
            + (_stroke(bridges, colour, 1, GAP_DASH) if bridges else "")
            + f'<g fill="{colour}" stroke="#ffffff" stroke-width="0.6">{marks}</g></g>'
        )
    out.append(legend)
    out.append("</svg>")
    return Chart("".join(out), len(drawn))


def _has_gap(line: Line) -> bool:
    return any(b[0] - a[0] > 1 for a, b in zip(line.points, line.points[1:], strict=False))


def _paths(coords: list[tuple[float, float]], periods: list[int]) -> tuple[str, str]:
    """Path data of the line through consecutive periods, and of the dotted bridges over
    periods without data (so a gap is not read as a measured straight line)."""
    solid, bridges = [], []
    for i, (a, b) in enumerate(coords):
        if i and periods[i] - periods[i - 1] == 1:
            solid.append(f"L{_n(a)} {_n(b)}")
            continue
        if i:
            (c, d) = coords[i - 1]
            bridges.append(f"M{_n(c)} {_n(d)}L{_n(a)} {_n(b)}")
        solid.append(f"M{_n(a)} {_n(b)}")
    return "".join(solid), "".join(bridges)


def _defs(chart_id: str, styles: set[int]) -> str:
    shapes = sorted({s % len(MARKERS) for s in styles})
    body = "".join(f'<path id="{esc(chart_id)}-m{s}" d="{MARKERS[s]}"/>' for s in shapes)
    return f"<defs>{body}</defs>"


def _legend(
    chart_id: str,
    entries: list[tuple[str, int, bool]],
    breaks: bool,
    gaps: bool,
    left: float,
    top: float,
) -> tuple[str, float]:
    """The legend below the plot, entries flowing left to right from `left` and wrapping at
    the chart's width; returns it and its height."""
    items = [(label, style, eu, "") for label, style, eu in entries]
    if breaks:
        items.append(("break in series", 0, False, BREAK_DASH))
    if gaps:
        items.append(("no data in between", 0, False, GAP_DASH))
    size, swatch, row_h, gap = 11, 26.0, 18.0, 22.0
    room = WIDTH - 8 - left
    out = ['<g class="chart-legend">']
    x, y = left, top
    for label, style, eu, dash in items:
        text = _fit(label, size, room - swatch - 6)
        width = swatch + 6 + text_width(text, size)
        if x > left and x + width > WIDTH - 8:
            x, y = left, y + row_h
        if dash:
            out.append(_hline(x, x + swatch, y, BREAK if dash == BREAK_DASH else AXIS, 1, dash))
        else:
            colour = PALETTE[style % len(PALETTE)]
            out.append(_hline(x, x + swatch, y, colour, 2.4 if eu else 1.5))
            out.append(
                f'<use href="#{esc(chart_id)}-m{style % len(MARKERS)}" x="{_n(x + swatch / 2)}" '
                f'y="{_n(y)}" fill="{colour}"/>'
            )
        out.append(_text(x + swatch + 6, y + 4, text))
        x += width + gap
    out.append("</g>")
    return "".join(out), y - top + row_h


def sparkline(chart_id: str, line: Line) -> Chart:
    """A small line without axes for the overview: the shape of the EU series."""
    if not line.points:
        return _empty(chart_id, line.label, 44)
    width, height, pad = 180.0, 44.0, 4.0
    periods = [p for p, _ in line.points] + [b - 0.5 for b in line.breaks]
    values = [v for _, v in line.points]
    x0, x1 = min(periods), max(periods)
    v0, v1 = min(values), max(values)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    if v1 == v0:
        v0, v1 = v0 - 1, v1 + 1

    def px(period: float) -> float:
        return pad + (period - x0) / (x1 - x0) * (width - 2 * pad)

    def py(value: float) -> float:
        return height - pad - (value - v0) / (v1 - v0) * (height - 2 * pad)

    first, last = line.points[0], line.points[-1]
    label = f"{line.label}: {number(first[1])} in {first[0]} to {number(last[1])} in {last[0]}" + (
        f", break in series before {', '.join(map(str, line.breaks))}" if line.breaks else ""
    )
    out = [
        _open(chart_id, label, width, height),
        f'<defs><circle id="{esc(chart_id)}-m0" r="1.8"/></defs>',
    ]
    for b in line.breaks:
        out.append(_vline(px(b - 0.5), 1, height - 1, BREAK, 0.8, ' stroke-dasharray="3 2"'))
    coords = [(px(p), py(v)) for p, v in line.points]
    marks = "".join(
        f'<use href="#{esc(chart_id)}-m0" x="{_n(a)}" y="{_n(b)}">'
        f"<title>{esc(f'{line.label}, {p}: {number(v)}')}</title></use>"
        for (a, b), (p, v) in zip(coords, line.points, strict=True)
    )
    out.append(
        f'<g id="{esc(chart_id)}-pt-0"><path d="M'
        + "L".join(f"{_n(a)} {_n(b)}" for a, b in coords)
        + f'" fill="none" stroke="{PALETTE[0]}" stroke-width="1.2"/>'
        f'<g fill="{PALETTE[0]}">{marks}</g></g></svg>'
    )
    return Chart("".join(out), len(coords))


# -- bar charts -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _BarLayout:
    left: float
    right: float
    scale: Ticks

    def x(self, value: float) -> float:
        lo, hi = self.scale.values[0], self.scale.values[-1]
        return self.left + (value - lo) / (hi - lo) * (self.right - self.left)


def _bar_layout(
    labels: list[str], values: list[float], ends: list[str], lo: float, hi: float
) -> _BarLayout:
    """Room for the labels on the left, for each bar's end label beyond its end and for half
    of the last tick's label on the right."""
    left = min(max(text_width(s, 11) for s in labels), WIDTH * 0.35) + 12
    room = max((text_width(s, 10.5) for s in ends), default=0.0) + 8
    lo, hi = min(lo, *values, 0.0), max(hi, *values, 0.0)
    if hi == lo:
        hi = lo + 1.0
    margin = 14.0
    for _ in range(3):  # a wider margin can change the ticks once; three passes settle it
        right = WIDTH - margin
        per_unit = (right - left - room * ((hi > 0) + (lo < 0))) / (hi - lo)
        if per_unit <= 0:  # labels wider than the chart: let the bars have half of it
            per_unit = (right - left) / 2 / (hi - lo)
        scale = ticks(
            lo - (room / per_unit if lo < 0 else 0), hi + (room / per_unit if hi > 0 else 0), 5
        )
        needed = text_width(scale.label(scale.values[-1]), 11) / 2 + 4
        if needed <= margin:
            break
        margin = needed
    return _BarLayout(left, right, scale)


def _bars(
    chart_id: str,
    bars: list[Bar],
    unit: str,
    colours: list[str],
    ends: list[str],
    band: tuple[float, float] | None,
    row_h: float,
) -> tuple[list[str], float]:
    """The rows, axis and unit label of a horizontal bar chart; returns them and the height."""
    layout = _bar_layout(
        [b.label for b in bars],
        [b.value for b in bars],
        ends,
        *(band if band else (0.0, 0.0)),
    )
    top = 8.0
    bottom = top + row_h * len(bars)
    out = []
    grid = [_vline(layout.x(t), top, bottom, GRID, 0.7) for t in layout.scale.values]
    if band:
        x_lo, x_hi = layout.x(band[0]), layout.x(band[1])
        grid.insert(
            0,
            f'<rect x="{_n(x_lo)}" y="{_n(top)}" width="{_n(x_hi - x_lo)}" '
            f'height="{_n(bottom - top)}" fill="#eeeeee"/>',
        )
    out.append(f'<g class="chart-grid">{"".join(grid)}</g>')
    zero = layout.x(0.0)
    thick = row_h * 0.7
    for i, (bar, colour, end) in enumerate(zip(bars, colours, ends, strict=True)):
        mid = top + row_h * (i + 0.5)
        x_end = layout.x(bar.value)
        x_from, width = min(zero, x_end), abs(x_end - zero)
        tip = f"{bar.label}: {end}"
        out.append(
            f'<g id="{esc(chart_id)}-bar-{i}"><path d="M{_n(x_from)} {_n(mid - thick / 2)}'
            f'h{_n(width)}v{_n(thick)}h{_n(-width)}Z" fill="{colour}">'
            f"<title>{esc(tip)}</title></path></g>"
        )
        label = _fit(bar.label, 11, layout.left - 12)
        out.append(_text(layout.left - 7, mid + 4, label, "end"))
        if bar.value < 0:
            out.append(_text(x_end - 5, mid + 3.5, end, "end", ' font-size="10.5"'))
        else:
            out.append(_text(x_end + 5, mid + 3.5, end, extra=' font-size="10.5"'))
    axis = [_hline(layout.left, layout.right, bottom, AXIS, 1), _vline(zero, top, bottom, AXIS, 1)]
    for t in layout.scale.values:
        axis.append(_vline(layout.x(t), bottom, bottom + 4, AXIS, 1))
        axis.append(_text(layout.x(t), bottom + 17, layout.scale.label(t), "middle"))
    axis.append(
        _text((layout.left + layout.right) / 2, bottom + 36, unit, "middle", ' font-size="12"')
    )
    out.append(f'<g class="chart-axes">{"".join(axis)}</g>')
    return out, bottom + 44


def bar_chart(chart_id: str, bars: list[Bar], unit: str) -> Chart:
    """Horizontal bars, one per country, in the given order (largest first), top to bottom;
    the value and its note at the end of each bar."""
    if not bars:
        return _empty(chart_id, unit or "this chart")
    ends = [f"{number(b.value)} {b.note}".strip() for b in bars]
    colours = [PALETTE[0] if b.highlight else BAR for b in bars]
    body, height = _bars(chart_id, bars, unit, colours, ends, None, 20.0)
    label = f"Bar chart, {unit}: " + "; ".join(
        f"{b.label} {e}" for b, e in zip(bars, ends, strict=True)
    )
    return Chart(_open(chart_id, label, WIDTH, height) + "".join(body) + "</svg>", len(bars))


def change_chart(chart_id: str, bars: list[Bar], unit: str = "% change") -> Chart:
    """Signed horizontal bars (e.g. city change year on year): rises of more than 10 % in
    orange, falls in blue, the stable band (+/-10 %) shaded grey, with a colour key."""
    if not bars:
        return _empty(chart_id, unit)
    ends = [f"{b.value:+.1f} %" for b in bars]
    colours = [
        RISE if b.value > STABLE_BAND else FALL if b.value < -STABLE_BAND else STABLE for b in bars
    ]
    body, height = _bars(chart_id, bars, unit, colours, ends, (-STABLE_BAND, STABLE_BAND), 18.0)
    key = [
        (RISE, f"rise of more than {STABLE_BAND:.0f} %"),
        (STABLE, f"stable (within ±{STABLE_BAND:.0f} %)"),
        (FALL, f"fall of more than {STABLE_BAND:.0f} %"),
    ]
    widths = [text_width(text, 11) + 40 for _, text in key]
    x = (WIDTH - sum(widths)) / 2
    out = ['<g class="chart-legend">']
    for (colour, text), w in zip(key, widths, strict=True):
        out.append(
            f'<rect x="{_n(x)}" y="{_n(height + 2)}" width="14" height="10" fill="{colour}"/>'
        )
        out.append(_text(x + 20, height + 11, text))
        x += w
    out.append("</g>")
    label = f"Change chart, {unit}: " + "; ".join(
        f"{b.label} {e}" for b, e in zip(bars, ends, strict=True)
    )
    svg = _open(chart_id, label, WIDTH, height + 20) + "".join(body + out) + "</svg>"
    return Chart(svg, len(bars))
