"""Charts say how many items every point and bar rests on, and mark small samples."""

from __future__ import annotations

from turnscope.analysis import Estimate
from turnscope.report.charts import Series, bar_chart, line_chart


def _e(mean: float, n: int) -> Estimate:
    return Estimate(mean=mean, low=max(0.0, mean - 0.2), high=min(1.0, mean + 0.2), n=n)


def _band_paths(svg: str) -> int:
    """Paths in the chart's shaded band (matplotlib names its group FillBetweenPolyCollection)."""
    start = svg.index("FillBetweenPolyCollection")
    return svg[start : svg.index('id="matplotlib.axis', start)].count("<path")


def test_line_points_carry_their_n_and_small_ones_get_no_band() -> None:
    wide = line_chart("t", "t", [Series("own", [(1, _e(0.5, 40)), (2, _e(0.6, 40))])], xlabel="x")
    narrow = line_chart("t", "t", [Series("own", [(1, _e(0.5, 2)), (2, _e(0.6, 3))])], xlabel="x")
    assert wide.svg is not None and narrow.svg is not None
    assert "n=40" in wide.svg and "n=2" in narrow.svg and "n=3" in narrow.svg
    assert _band_paths(wide.svg) == 1
    assert _band_paths(narrow.svg) == 0  # two and three items: no band, hollow markers
    # n is written where it changes along the line, not repeated at every point.
    steady = line_chart(
        "t", "t", [Series("own", [(t, _e(0.5, 40)) for t in range(1, 9)])], xlabel="x"
    )
    assert steady.svg is not None and steady.svg.count("n=40") == 1


def test_bars_carry_their_n_and_small_ones_are_hatched() -> None:
    chart = bar_chart("b", "b", [Series("own", [("big", _e(0.5, 30)), ("lone", _e(1.0, 1))])])
    assert chart.svg is not None
    assert "n=30" in chart.svg and "n=1" in chart.svg
    assert "<pattern" in chart.svg  # the hatch of the one-item bar
    big = bar_chart("b", "b", [Series("own", [("big", _e(0.5, 30))])])
    assert big.svg is not None and "<pattern" not in big.svg
