"""Line charts drawn on the server as inline SVG geometry, for the model comparison page.

No chart library and no script: the page's Content-Security-Policy allows only our own
scripts and the page needs none. This module turns series of (x, y) points into what the
template draws: polyline point strings in SVG coordinates, axis ticks with labels, and a
legend. Long curves are thinned to at most ``MAX_POINTS`` points per series.
"""

import math
from dataclasses import dataclass, field

WIDTH = 560
HEIGHT = 280
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 14, 40
MAX_POINTS = 400
# Distinguishable on white and for the common colour-vision deficiencies (Okabe-Ito).
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]


@dataclass
class Series:
    label: str
    points: list[tuple[float, float]]
    color: str = ""


@dataclass
class Tick:
    position: float
    label: str


@dataclass
class DrawnSeries:
    label: str
    color: str
    polyline: str
    markers: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class LineChart:
    title: str
    x_label: str
    y_label: str
    series: list[DrawnSeries]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return not any(drawn.polyline for drawn in self.series)

    @property
    def x_label_x(self) -> float:
        return (self.plot_left + self.plot_right) / 2


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]``: steps of 1, 2, 2.5 or 5 times a power of ten."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def _label(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e5 else f"{value:.2e}"


def thin_points(points: list[tuple[float, float]], limit: int = MAX_POINTS):
    if len(points) <= limit:
        return points
    stride = -(-len(points) // limit)
    kept = points[::stride]
    return kept if kept[-1] == points[-1] else [*kept, points[-1]]


def line_chart(
    title: str,
    x_label: str,
    y_label: str,
    series: list[Series],
    *,
    y_range: tuple[float, float] | None = None,
    markers: bool = False,
) -> LineChart:
    """Scale every series into one plot. ``y_range`` fixes the y axis (accuracy: 0 to 1);
    otherwise it spans 0 (or the lowest value, if negative) to the highest value."""
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points if math.isfinite(y)]
    x_ticks = nice_ticks(min(xs, default=0.0), max(xs, default=1.0))
    if y_range is not None:
        y_ticks = nice_ticks(*y_range)
    else:
        y_ticks = nice_ticks(min(0.0, min(ys, default=0.0)), max(ys, default=1.0))
    chart = LineChart(title, x_label, y_label, [], [], [])
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]

    def sx(x: float) -> float:
        return round(
            chart.plot_left + (x - x0) / (x1 - x0) * (chart.plot_right - chart.plot_left), 1
        )

    def sy(y: float) -> float:
        return round(
            chart.plot_bottom - (y - y0) / (y1 - y0) * (chart.plot_bottom - chart.plot_top), 1
        )

    chart.x_ticks = [Tick(sx(x), _label(x)) for x in x_ticks]
    chart.y_ticks = [Tick(sy(y), _label(y)) for y in y_ticks]
    for index, one in enumerate(series):
        points = [(sx(x), sy(y)) for x, y in thin_points(one.points) if math.isfinite(y)]
        chart.series.append(
            DrawnSeries(
                label=one.label,
                color=one.color or PALETTE[index % len(PALETTE)],
                polyline=" ".join(f"{x},{y}" for x, y in points),
                markers=points if markers else [],
            )
        )
    return chart
