"""Charts of the leads' dashboards (the sprint dashboard, the feedback dashboard), drawn on the
server as inline SVG geometry; ``annotation/_chart.html`` draws them. It lives on the ground
floor so every app above can use the one module.

No chart library and no script (the page's Content-Security-Policy allows only our own scripts,
and the page needs none): these functions turn numbers into what the template draws, namely
bar rectangles, polyline point strings and axis ticks in SVG coordinates.
"""

import math
from dataclasses import dataclass, field

WIDTH, HEIGHT = 620, 260
LEFT, RIGHT, TOP, BOTTOM = 52, 34, 14, 44
# Distinguishable on white and for the common colour-vision deficiencies (Okabe-Ito).
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]


@dataclass
class Tick:
    position: float
    label: str


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int


@dataclass
class Line:
    label: str
    color: str
    points: str
    markers: list[tuple[float, float, str]] = field(default_factory=list)


@dataclass
class Interval:
    """A point estimate at (x, y) with its interval drawn from ``low`` to ``high`` (SVG x
    coordinates: :func:`interval_chart` draws rows; None when there is no interval)."""

    x: float
    y: float
    low: float | None
    high: float | None
    label: str
    text: str


@dataclass
class Chart:
    title: str
    y_label: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    intervals: list[Interval] = field(default_factory=list)
    zero: float | None = None

    @property
    def empty(self) -> bool:
        return not self.bars and not self.intervals and not any(line.markers for line in self.lines)


def _y(value: float, low: float, high: float) -> float:
    span = (high - low) or 1.0
    return round(TOP + (HEIGHT - BOTTOM - TOP) * (1 - (value - low) / span), 1)


def bar_chart(title: str, y_label: str, buckets: list[tuple[str, int]]) -> Chart:
    """One bar per (label, count), left to right; every few labels shown below."""
    chart = Chart(title, y_label)
    if not buckets:
        return chart
    top = max(count for _, count in buckets) or 1
    slot = (chart.right - chart.left) / len(buckets)
    every = max(1, len(buckets) // 8)
    for index, (label, count) in enumerate(buckets):
        y = _y(count, 0, top)
        x = round(chart.left + index * slot + slot * 0.1, 1)
        chart.bars.append(Bar(x, y, round(slot * 0.8, 1), round(chart.bottom - y, 1), label, count))
        if index % every == 0:
            chart.x_ticks.append(Tick(round(x + slot * 0.4, 1), label))
    chart.y_ticks = [Tick(_y(v, 0, top), str(v)) for v in sorted({0, top // 2, top})]
    return chart


def line_chart(
    title: str, y_label: str, x_labels: list[str], series: dict[str, list[float | None]]
) -> Chart:
    """One line per named series over the shared ``x_labels``; None leaves a point out. The y
    axis spans [min(0, lowest), 1], which suits agreement coefficients."""
    chart = Chart(title, y_label)
    values = [v for points in series.values() for v in points if v is not None]
    if not x_labels or not values:
        return chart
    low, high = min(0.0, min(values)), 1.0
    step = (chart.right - chart.left) / max(len(x_labels) - 1, 1)
    xs = [round(chart.left + i * step, 1) for i in range(len(x_labels))]
    every = max(1, len(x_labels) // 6)
    chart.x_ticks = [
        Tick(x, label)
        for i, (x, label) in enumerate(zip(xs, x_labels, strict=True))
        if i % every == 0
    ]
    chart.y_ticks = [Tick(_y(v, low, high), f"{v:g}") for v in _ticks(low, high)]
    chart.zero = _y(0.0, low, high)
    for index, (label, points) in enumerate(series.items()):
        drawn = [
            (x, _y(v, low, high), f"{v:.3f}")
            for x, v in zip(xs, points, strict=True)
            if v is not None
        ]
        chart.lines.append(
            Line(
                label=label,
                color=PALETTE[index % len(PALETTE)],
                points=" ".join(f"{x},{y}" for x, y, _ in drawn),
                markers=drawn,
            )
        )
    return chart


INTERVAL_WIDTH, ROW_HEIGHT, LABEL_CHARS, CHAR_WIDTH = 760, 26, 48, 6.6


def interval_chart(
    title: str,
    x_label: str,
    points: list[tuple[str, float, float | None, float | None]],
    *,
    span: tuple[float, float] | None = None,
) -> Chart:
    """One row per (label, value, low, high), top to bottom: the label on the left, a point
    at the value and a horizontal bar over its interval (low/high None: the point alone); the
    x axis spans every value and interval on round steps. For estimates with confidence
    intervals, such as model ratings. Horizontal, so long labels (model names) are written in
    full on their own row (up to ``LABEL_CHARS``, the rest cut with an ellipsis, the full
    label in the point's tooltip), never overlapping; the left margin fits the longest. The
    chart grows a row per point. Drawn by ``reviews/_interval_chart.html`` (``Interval.low``
    and ``high`` are x coordinates here; ``y_ticks`` are the rows' labels, ``x_ticks`` the
    values'). ``span``: the axis covers at least these two values (a rate: 0 to 1)."""
    labels = [label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
              for label, *_ in points]  # fmt: skip
    left = round(min(max([len(label) for label in labels] + [8]) * CHAR_WIDTH + 16, 340))
    chart = Chart(title, x_label, width=INTERVAL_WIDTH, left=left, right=INTERVAL_WIDTH - 24)
    chart.height = TOP + ROW_HEIGHT * max(len(points), 1) + BOTTOM
    chart.bottom = chart.height - BOTTOM
    if not points:
        return chart
    values = [v for _, value, low, high in points for v in (value, low, high) if v is not None]
    values += list(span or ())
    step = _round_step((max(values) - min(values)) / 5 or 1.0)
    low_end = math.floor(min(values) / step) * step
    high_end = math.ceil(max(values) / step) * step
    if high_end == low_end:
        low_end, high_end = low_end - step, high_end + step

    def x_of(value: float) -> float:
        return round(
            chart.left + (chart.right - chart.left) * (value - low_end) / (high_end - low_end), 1
        )

    chart.x_ticks = [
        Tick(x_of(low_end + n * step), f"{low_end + n * step:g}")
        for n in range(round((high_end - low_end) / step) + 1)
    ]
    for index, ((label, value, low, high), shown) in enumerate(zip(points, labels, strict=True)):
        y = round(TOP + ROW_HEIGHT * (index + 0.5), 1)
        text = f"{value:g}" if low is None else f"{value:g} [{low:g}, {high:g}]"
        chart.intervals.append(
            Interval(
                x_of(value),
                y,
                None if low is None else x_of(low),
                None if high is None else x_of(high),
                label,
                text,
            )
        )
        chart.y_ticks.append(Tick(y, shown))
    return chart


def _round_step(rough: float) -> float:
    """The smallest of 1, 2, 2.5 and 5 times a power of ten at least ``rough``."""
    power = 10 ** math.floor(math.log10(rough))
    return next(f * power for f in (1, 2, 2.5, 5, 10) if f * power >= rough)


def _ticks(low: float, high: float) -> list[float]:
    step = 0.25 if high - low <= 1.5 else 0.5
    ticks, value = [], math.floor(low / step) * step
    while value <= high + 1e-9:
        if value >= low - 1e-9:
            ticks.append(round(value, 2))
        value += step
    return ticks
