"""A cost-against-size line chart as a standalone SVG (no plotting library, nothing loaded from
elsewhere): one line per series, a point per size, each point labelled with its value, so a
reader sees at a glance whether the cost per unit stays flat as the work grows."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 72, 24, 56, 64
COLOURS = ("#1f5fbf", "#b4471b", "#2e7d32", "#6a1b9a")
DASHES = ("", "6 4", "2 3", "8 3 2 3")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    """One per x label; None where that size has no figure."""


@dataclass(frozen=True)
class Chart:
    title: str
    x_title: str
    y_title: str
    x_labels: Sequence[str]
    series: Sequence[Series]
    x_values: Sequence[float] | None = None
    """Numeric sizes: the x axis is logarithmic in them. None: labels evenly spaced."""


def svg(chart: Chart) -> str:
    """The chart as an SVG document."""
    xs = _x_positions(chart)
    top = _nice_top(max((v for s in chart.series for v in s.values if v is not None), default=1))
    plot_h = HEIGHT - TOP - BOTTOM

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(chart.title)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="15" '
        f'font-weight="bold">{escape(chart.title)}</text>',
    ]
    for step in range(5):
        value = top * step / 4
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="#dddddd"/>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">'
            f"{escape(_short(value))}</text>"
        )
    for x, label in zip(xs, chart.x_labels, strict=True):
        out.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    out.append(
        f'<text x="{LEFT + (WIDTH - LEFT - RIGHT) / 2}" y="{HEIGHT - 18}" '
        f'text-anchor="middle">{escape(chart.x_title)}</text>'
    )
    out.append(
        f'<text transform="translate(16 {TOP + plot_h / 2}) rotate(-90)" '
        f'text-anchor="middle">{escape(chart.y_title)}</text>'
    )
    for index, series in enumerate(chart.series):
        colour, dash = COLOURS[index % len(COLOURS)], DASHES[index % len(DASHES)]
        points = [(x, y(v), v) for x, v in zip(xs, series.values, strict=True) if v is not None]
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        for run in _runs(xs, series.values, y):  # a size without a figure breaks the line
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in run)
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" '
                f'stroke-width="2"{dashed}/>'
            )
        for px, py, value in points:
            out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="{colour}"/>')
            out.append(
                f'<text x="{px + 6:.1f}" y="{py - 6:.1f}" fill="{colour}">'
                f"{escape(_short(value))}</text>"
            )
        legend_y = TOP - 18
        legend_x = LEFT + index * (WIDTH - LEFT - RIGHT) / max(1, len(chart.series))
        out.append(
            f'<line x1="{legend_x:.1f}" x2="{legend_x + 22:.1f}" y1="{legend_y}" '
            f'y2="{legend_y}" stroke="{colour}" stroke-width="2"{dashed}/>'
        )
        out.append(f'<text x="{legend_x + 28:.1f}" y="{legend_y + 4}">{escape(series.name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _runs(
    xs: Sequence[float], values: Sequence[float | None], y: Callable[[float], float]
) -> list[list[tuple[float, float]]]:
    """The unbroken stretches of a series, as (x, y) points."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, value in zip(xs, values, strict=True):
        if value is None:
            runs.append([])
        else:
            runs[-1].append((x, y(value)))
    return [run for run in runs if run]


def _x_positions(chart: Chart) -> list[float]:
    count = len(chart.x_labels)
    left, right = LEFT + 40, WIDTH - RIGHT - 40
    if count == 1:
        return [(left + right) / 2]
    if chart.x_values is None:
        return [left + (right - left) * i / (count - 1) for i in range(count)]
    logs = [math.log10(value) for value in chart.x_values]
    low, high = min(logs), max(logs)
    span = (high - low) or 1.0
    return [left + (right - left) * (value - low) / span for value in logs]


def _nice_top(value: float) -> float:
    """The smallest 1/2/2.5/5 x 10^k at or above `value` (the y axis starts at zero: a flat
    line must look flat, not magnified noise)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _short(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"
