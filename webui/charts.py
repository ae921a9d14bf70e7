"""Charts drawn on the server as SVG shapes: no script, the same picture in every browser, and each chart
next to a table holding its numbers.

The functions here only do geometry (where each bar and line point goes, in a plot whose scale is
``WIDTH`` x ``HEIGHT`` units); templates/_charts.html draws it. Words and numbers are
HTML around the plot, not SVG text, so they keep their size on a phone and their direction in Arabic (the
plot itself is mirrored there, so time runs from right to left like the page).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Plot units: every plot is stretched to the width of its box.
HEIGHT = 100.0
SLOT = 10.0
#: The share of a day's slot its bar fills.
BAR_SHARE = 0.7
#: Grid lines divide the scale in this many steps.
STEPS = 4


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    kind: str


@dataclass(frozen=True)
class Line:
    points: str
    kind: str


@dataclass(frozen=True)
class Plot:
    """A plot's shapes, its horizontal grid lines (plot units) and their values (bottom to top)."""

    width: float
    bars: list[Rect]
    lines: list[Line]
    grid: list[float]
    ticks: list[int]


def nice_top(value: float, steps: int = STEPS) -> int:
    """The smallest round number at or above ``value`` that ``steps`` divides into round steps."""
    if value <= 0:
        return steps
    raw = value / steps
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        step = factor * power
        if step >= raw and float(step).is_integer():  # whole numbers on every grid line
            return int(step * steps)
    return int(math.ceil(raw) * steps)


def _grid(top: int) -> tuple[list[float], list[int]]:
    ticks = [round(top * i / STEPS) for i in range(STEPS + 1)]
    return [HEIGHT - HEIGHT * i / STEPS for i in range(STEPS + 1)], ticks


def _y(value: float, top: int) -> float:
    return round(HEIGHT - HEIGHT * value / top, 2)


def stacked_columns(stacks: Sequence[Sequence[tuple[str, int]]],
                    marks: Sequence[int | None] | None = None, mark_kind: str = "plan") -> Plot:
    """One column per slot, its parts stacked from the bottom (``(kind, value)``), and an optional line
    through each slot's mark (for example the visits planned that day)."""
    totals = [sum(v for _, v in stack) for stack in stacks]
    top = nice_top(max([*totals, *(m for m in marks or [] if m is not None), 0]))
    grid, ticks = _grid(top)
    bars: list[Rect] = []
    bar = SLOT * BAR_SHARE
    for slot, stack in enumerate(stacks):
        base = 0
        for kind, value in stack:
            if value <= 0:
                continue
            y = _y(base + value, top)
            bars.append(Rect(x=round(slot * SLOT + (SLOT - bar) / 2, 2), y=y,
                             height=round(_y(base, top) - y, 2), width=bar, kind=kind))
            base += value
    lines = [Line(_points(marks, top), mark_kind)] if marks else []
    return Plot(width=SLOT * max(len(stacks), 1), bars=bars, lines=[ln for ln in lines if ln.points], grid=grid,
                ticks=ticks)


def lines(series: Sequence[tuple[str, Sequence[int | None]]]) -> Plot:
    """Lines through each slot's value (a None ends a line: a day still to come)."""
    length = max((len(values) for _, values in series), default=0)
    top = nice_top(max([v for _, values in series for v in values if v is not None] or [0]))
    grid, ticks = _grid(top)
    drawn = [Line(_points(values, top), kind) for kind, values in series]
    return Plot(width=SLOT * max(length, 1), bars=[], lines=[ln for ln in drawn if ln.points], grid=grid,
                ticks=ticks)


def _points(values: Sequence[int | None], top: int) -> str:
    return " ".join(f"{round(slot * SLOT + SLOT / 2, 2)},{_y(value, top)}"
                    for slot, value in enumerate(values) if value is not None)


@dataclass(frozen=True)
class Segment:
    """A part of a horizontal bar, in percent of the longest bar."""

    start: float
    width: float
    kind: str
    value: int


def horizontal(parts: Sequence[tuple[str, int]], longest: int) -> list[Segment]:
    """A bar of parts laid end to end, scaled so that ``longest`` fills the width (100 units)."""
    out: list[Segment] = []
    start = 0.0
    for kind, value in parts:
        if value <= 0 or longest <= 0:
            continue
        width = round(100.0 * value / longest, 3)
        out.append(Segment(start=round(start, 3), width=width, kind=kind, value=value))
        start += width
    return out
