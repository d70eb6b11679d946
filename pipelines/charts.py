"""Charts of the report as inline SVG, drawn by matplotlib (no JavaScript, no CDN).

Every data point is a mark inside a group whose id names the chart and the point
(`<chart>-pt-<n>` for line markers, `<chart>-bar-<n>` for bars), so a browser test can count
what was drawn. Text stays text (svg.fonttype none) and is never parsed as mathtext, so a
label such as "$5" is drawn as written; matplotlib escapes it for XML.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

STYLE = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
}
# Colour-blind-safe (Okabe-Ito); the EU series is always the first, drawn thickest in black.
PALETTE = ["#000000", "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]


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


def _svg(fig: plt.Figure, chart_id: str) -> str:
    buf = io.StringIO()
    with plt.rc_context({"svg.hashsalt": chart_id}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    # Scales with its container: the viewBox stays, the fixed size goes.
    text = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", text, count=1)
    return text.replace("<svg", f'<svg class="chart-svg" role="img" id="{chart_id}"', 1)


def line_chart(chart_id: str, lines: list[Line], unit: str) -> Chart:
    """The EU series (if any, first) and selected countries over time; breaks dashed."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(9.0, 4.2))
        points = 0
        break_periods: set[int] = set()
        for n, line in enumerate(lines):
            i = 0 if line.eu else n + (0 if lines and lines[0].eu else 1)
            xs = [p for p, _ in line.points]
            ys = [v for _, v in line.points]
            (artist,) = ax.plot(
                xs,
                ys,
                color=PALETTE[i % len(PALETTE)],
                marker=MARKERS[i % len(MARKERS)],
                markersize=4,
                linewidth=2.2 if line.eu else 1.3,
                label=line.label,
            )
            artist.set_gid(f"{chart_id}-pt-{n}")
            points += len(xs)
            break_periods.update(line.breaks)
        for period in sorted(break_periods):
            ax.axvline(period - 0.5, color="#666666", linestyle="--", linewidth=0.9)
        if break_periods:
            ax.plot([], [], color="#666666", linestyle="--", linewidth=0.9, label="break in series")
        ax.set_ylabel(unit)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False, fontsize=8
        )
        fig.tight_layout()
        return Chart(_svg(fig, chart_id), points)


def sparkline(chart_id: str, line: Line) -> Chart:
    """A small line without axes for the overview: the shape of the EU series."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(1.8, 0.5))
        xs = [p for p, _ in line.points]
        ys = [v for _, v in line.points]
        (artist,) = ax.plot(xs, ys, color="#000000", marker="o", markersize=2, linewidth=1)
        artist.set_gid(f"{chart_id}-pt-0")
        for period in line.breaks:
            ax.axvline(period - 0.5, color="#666666", linestyle="--", linewidth=0.6)
        ax.set_axis_off()
        fig.subplots_adjust(left=0.03, right=0.97, top=0.9, bottom=0.1)
        return Chart(_svg(fig, chart_id), len(xs))


def bar_chart(chart_id: str, bars: list[Bar], unit: str) -> Chart:
    """Horizontal bars, one per country, largest first; the value and its note at the end."""
    with plt.rc_context(STYLE):
        height = max(1.6, 0.24 * len(bars) + 0.7)
        fig, ax = plt.subplots(figsize=(9.0, height))
        ordered = list(reversed(bars))  # barh draws bottom-up
        top = max((b.value for b in bars), default=0.0) or 1.0
        for i, bar in enumerate(ordered):
            (rect,) = ax.barh(
                i, bar.value, color="#0072B2" if not bar.highlight else "#000000", height=0.7
            )
            rect.set_gid(f"{chart_id}-bar-{i}")
            ax.text(
                bar.value + top * 0.01,
                i,
                f"{_short(bar.value)} {bar.note}".strip(),
                va="center",
                fontsize=7,
            )
        ax.set_yticks(range(len(ordered)), [b.label for b in ordered], fontsize=8)
        ax.set_xlim(0, top * 1.25)
        ax.set_xlabel(unit)
        ax.grid(axis="y", visible=False)
        fig.tight_layout()
        return Chart(_svg(fig, chart_id), len(bars))


def change_chart(chart_id: str, bars: list[Bar], unit: str = "% change") -> Chart:
    """Signed horizontal bars (e.g. city change year on year), the +/-10 % band shaded."""
    with plt.rc_context(STYLE):
        height = max(1.6, 0.22 * len(bars) + 0.8)
        fig, ax = plt.subplots(figsize=(9.0, height))
        ordered = list(reversed(bars))
        for i, bar in enumerate(ordered):
            colour = "#D55E00" if bar.value > 10 else "#0072B2" if bar.value < -10 else "#999999"
            (rect,) = ax.barh(i, bar.value, color=colour, height=0.7)
            rect.set_gid(f"{chart_id}-bar-{i}")
        ax.axvspan(-10, 10, color="#eeeeee", zorder=0)
        ax.axvline(0, color="#333333", linewidth=0.8)
        ax.set_yticks(range(len(ordered)), [b.label for b in ordered], fontsize=7)
        ax.set_xlabel(unit)
        ax.grid(axis="y", visible=False)
        fig.tight_layout()
        return Chart(_svg(fig, chart_id), len(bars))


def _short(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")
