"""Charts for the HTML report, drawn with matplotlib and inlined as SVG (no files, no network).

Each function returns a Chart: its SVG text, or None when there is nothing to plot. Every
point and bar shows its n (the items behind it); one resting on fewer than
SMALL_SAMPLE items is drawn hollow (lines, with no band) or hatched (bars). Along a line, n
is written at the first point and wherever it changes.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from turnscope.analysis import Estimate

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@functools.cache
def _matplotlib() -> None:
    """Import and configure matplotlib on the first chart, not at import: it takes about half
    a second, which every `turnscope` command (`--version` too) would otherwise pay."""
    import matplotlib as mpl

    # Text stays text (small files, selectable labels); the fixed hash salt keeps the SVG ids,
    # and so the report, byte-identical from one build to the next.
    mpl.rcParams.update(
        {
            # Labels come from suite files and model names: never read them as mathtext
            # ("$\\frac{1}{$" is shown as written instead of failing to parse).
            "text.parse_math": False,
            "svg.fonttype": "none",
            "svg.hashsalt": "turnscope",
            "font.family": "sans-serif",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
        }
    )


def _figure(width: float, height: float) -> Figure:
    _matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


COLORS = ("#1f6feb", "#d97706", "#059669", "#9333ea", "#dc2626", "#0891b2", "#4b5563")


@dataclass(frozen=True)
class Chart:
    """One figure of the report."""

    key: str
    """Stable id (the HTML element id, used by the browser test)."""
    title: str
    """Heading shown above the figure."""
    svg: str | None
    """The inline SVG, or None when there is nothing to plot."""
    caption: str = ""
    """What the figure shows, in one or two sentences."""


@dataclass(frozen=True)
class Series:
    """A named line or bar group: x labels/positions with an estimate each."""

    label: str
    points: Sequence[tuple[float | str, Estimate]]


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    # Drop the XML prolog and DOCTYPE: the SVG is embedded inside HTML.
    return text[text.index("<svg") :]


def _known(points: Sequence[tuple[float | str, Estimate]]) -> list[tuple[float | str, Estimate]]:
    return [(x, e) for x, e in points if e.mean is not None]


def _bounds(e: Estimate) -> tuple[float, float, float]:
    mean = e.mean if e.mean is not None else math.nan
    low = e.low if e.low is not None else mean
    high = e.high if e.high is not None else mean
    return mean, low, high


def line_chart(
    key: str,
    title: str,
    series: Sequence[Series],
    *,
    xlabel: str,
    ylabel: str = "mean score",
    caption: str = "",
    unit_interval: bool = True,
) -> Chart:
    """Lines of means over numeric x with shaded 95 % bands."""
    drawn = [(s.label, _known(s.points)) for s in series]
    drawn = [(label, pts) for label, pts in drawn if pts]
    if not drawn:
        return Chart(key, title, None, caption)
    fig = _figure(7.0, 3.2)
    ax = fig.subplots()
    for index, (label, pts) in enumerate(drawn):
        color = COLORS[index % len(COLORS)]
        xs = [float(x) for x, _ in pts]
        bounds = [_bounds(e) for _, e in pts]
        means = [b[0] for b in bounds]
        ax.plot(xs, means, marker="o", markersize=3, color=color, label=label)
        # No band where a point rests on a small sample: an interval over two or three items
        # spans most of [0, 1] and draws the eye to the least informative turns. Such points
        # are drawn hollow instead.
        wide = [not e.small for _, e in pts]
        ax.fill_between(
            xs,
            [b[1] for b in bounds],
            [b[2] for b in bounds],
            where=wide,
            color=color,
            alpha=0.18,
        )
        small = [(x, m) for x, m, ok in zip(xs, means, wide, strict=True) if not ok]
        if small:
            ax.plot(
                [x for x, _ in small],
                [m for _, m in small],
                linestyle="none",
                marker="o",
                markersize=5,
                markerfacecolor="white",
                color=color,
            )
        # n is written where it changes along the line (every label costs a text layout, and
        # a 30-turn curve over the same items would repeat one number 30 times).
        previous: int | None = None
        for x, mean, (_, e) in zip(xs, means, pts, strict=True):
            if e.n == previous:
                continue
            previous = e.n
            ax.annotate(
                f"n={e.n}",
                (x, mean),
                textcoords="offset points",
                xytext=(0, 5),
                ha="center",
                fontsize=6,
                color=color,
            )
    # Turns, distances and attempts are whole numbers: no 1.25 ticks.
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if unit_interval:
        ax.set_ylim(-0.02, 1.02)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return Chart(key, title, _svg(fig), caption)


def bar_chart(
    key: str,
    title: str,
    series: Sequence[Series],
    *,
    ylabel: str = "mean score",
    caption: str = "",
    centered: bool = False,
) -> Chart:
    """Grouped bars (one group per x label, one bar per series) with 95 % error bars.

    `centered` draws differences: the axis spans both signs around a zero line."""
    labels = list(dict.fromkeys(str(x) for s in series for x, e in s.points if e.mean is not None))
    if not labels:
        return Chart(key, title, None, caption)
    fig = _figure(min(10.0, max(4.5, 0.7 * len(labels) * max(1, len(series)) + 1.5)), 3.2)
    ax = fig.subplots()
    width = 0.8 / max(1, len(series))
    for index, s in enumerate(series):
        lookup = {str(x): e for x, e in s.points if e.mean is not None}
        xs, means, lower, upper, shown = [], [], [], [], []
        for position, label in enumerate(labels):
            estimate = lookup.get(label)
            if estimate is None:
                continue
            mean, low, high = _bounds(estimate)
            xs.append(position + (index - (len(series) - 1) / 2) * width)
            means.append(mean)
            lower.append(max(0.0, mean - low))
            upper.append(max(0.0, high - mean))
            shown.append(estimate)
        if not xs:
            continue
        bars = ax.bar(
            xs,
            means,
            width=width,
            yerr=[lower, upper],
            capsize=3,
            color=COLORS[index % len(COLORS)],
            label=s.label,
        )
        for bar, x, mean, up, down, estimate in zip(
            bars, xs, means, upper, lower, shown, strict=True
        ):
            if estimate.small:
                # Hatched and pale: a bar over fewer than SMALL_SAMPLE items.
                bar.set_hatch("///")
                bar.set_alpha(0.45)
            below = centered and mean < 0
            ax.annotate(
                f"n={estimate.n}",
                (x, mean - down if below else mean + up),
                textcoords="offset points",
                xytext=(0, -8 if below else 2),
                ha="center",
                fontsize=6,
            )
    ax.set_xticks(range(len(labels)), labels, rotation=20 if len(labels) > 4 else 0)
    ax.set_ylabel(ylabel)
    if centered:
        ax.axhline(0.0, color="#111827", linewidth=0.8)
        ax.set_ylim(-1.05, 1.05)
    else:
        ax.set_ylim(0.0, 1.05)
    if len(series) > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return Chart(key, title, _svg(fig), caption)


def hbar_chart(
    key: str, title: str, rows: Sequence[tuple[str, float, int]], *, xlabel: str, caption: str = ""
) -> Chart:
    """Horizontal bars (label, value in [0, 1], count), first row on top."""
    if not rows:
        return Chart(key, title, None, caption)
    fig = _figure(7.0, 0.28 * len(rows) + 1.0)
    ax = fig.subplots()
    positions = list(range(len(rows)))[::-1]
    ax.barh(positions, [v for _, v, _ in rows], color=COLORS[0])
    ax.set_yticks(positions, [f"{label} (n={n})" for label, _, n in rows])
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel(xlabel)
    return Chart(key, title, _svg(fig), caption)
