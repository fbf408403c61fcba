"""The server-drawn line charts of the comparison page: round ticks, points scaled into the
plot, a fixed accuracy axis, and long curves thinned."""

from training.pages_charts import (
    HEIGHT,
    LEFT,
    MAX_POINTS,
    TOP,
    WIDTH,
    Series,
    line_chart,
    nice_ticks,
)


def test_ticks_are_round_and_cover_the_range():
    assert nice_ticks(0, 1) == [0, 0.25, 0.5, 0.75, 1.0]
    assert nice_ticks(0, 97) == [0, 25, 50, 75, 100]
    assert nice_ticks(0, 0.7) == [0, 0.2, 0.4, 0.6, 0.8]
    assert nice_ticks(0.61, 0.69)[0] <= 0.61 and nice_ticks(0.61, 0.69)[-1] >= 0.69
    assert nice_ticks(3, 3) == [3, 3.25, 3.5, 3.75, 4.0]


def points(chart, index=0):
    return [tuple(map(float, p.split(","))) for p in chart.series[index].polyline.split()]


def test_points_are_scaled_into_the_plot_area():
    chart = line_chart("loss", "step", "loss", [Series("a", [(0, 0.0), (10, 1.0)])])
    (x0, y0), (x1, y1) = points(chart)
    assert (x0, y0) == (LEFT, chart.plot_bottom)
    assert (x1, y1) == (chart.plot_right, TOP)
    assert chart.plot_right < WIDTH and chart.plot_bottom < HEIGHT
    assert chart.x_ticks[0].label == "0"
    assert not chart.empty


def test_accuracy_has_a_fixed_axis_and_markers():
    chart = line_chart(
        "accuracy",
        "epoch",
        "accuracy",
        [Series("a", [(1, 0.5), (2, 0.75)])],
        y_range=(0.0, 1.0),
        markers=True,
    )
    assert chart.y_ticks[0].label == "0" and chart.y_ticks[-1].label == "1"
    (_, y_half), (_, y_three_quarters) = points(chart)
    assert y_half == round((chart.plot_top + chart.plot_bottom) / 2, 1)
    assert y_three_quarters < y_half
    assert len(chart.series[0].markers) == 2


def test_series_get_distinct_colours_and_long_curves_are_thinned():
    long = [(step, 1.0 / step) for step in range(1, 5001)]
    chart = line_chart("loss", "step", "loss", [Series("a", long), Series("b", long[:10])])
    assert chart.series[0].color != chart.series[1].color
    drawn = points(chart)
    assert len(drawn) <= MAX_POINTS + 1
    x_max = float(chart.x_ticks[-1].label)
    last_x = round(LEFT + 5000 / x_max * (chart.plot_right - LEFT), 1)
    assert drawn[-1][0] == last_x, "the last point is kept"


def test_no_points_is_an_empty_chart():
    assert line_chart("loss", "step", "loss", [Series("a", [])]).empty
