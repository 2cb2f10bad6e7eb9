"""The terminal's multi-turn headline and comparison table."""

from __future__ import annotations

from rich.console import Console

from helpers.synthetic_runs import make_item, make_record
from turnscope.analysis import analyse, compare_runs
from turnscope.report import render_comparison, render_multiturn


def _console() -> Console:
    return Console(record=True, width=200, color_system=None)


def test_multiturn_headline_lists_what_the_run_has() -> None:
    items = [
        make_item("p", "pushback", 2, challenge_turn=2),
        make_item("r", "recollection", 2, probe_turns=[2]),
    ]
    records = [
        make_record("p", 1, 1.0),
        make_record("p", 2, 0.0),
        make_record("r", 1, 1.0),
        make_record("r", 2, None, error="HTTP 500"),
        make_record("r", 2, 1.0, condition="single"),
    ]
    console = _console()
    render_multiturn(analyse(records, items, resamples=100), console)
    text = console.export_text()
    assert "score (own): " in text and "score (single): 1.000" in text
    assert "flip rate (own): 1.000" in text and "1 of 1 correct answers abandoned" in text
    assert "turn errors: 1  scorer errors: 0" in text
    assert "own minus gold" not in text  # no gold records: no line
    assert "success at k" not in text


def test_comparison_table() -> None:
    items = [make_item(f"i{n}", "recollection", 1) for n in range(4)]
    a = [make_record(f"i{n}", 1, 0.0) for n in range(4)]
    b = [make_record(f"i{n}", 1, 1.0) for n in range(4)]
    console = _console()
    render_comparison(compare_runs(a, items, b, items, label_a="base", label_b="new"), console)
    text = console.export_text()
    assert "new minus base" in text and "+1.000 [+1.000, +1.000]" in text
    assert "Wilcoxon" in text and "turn errors: 0" in text
