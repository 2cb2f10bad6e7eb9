"""The terminal's multi-turn headline and comparison table."""

from __future__ import annotations

from rich.console import Console

from helpers.synthetic_runs import make_item, make_record
from turnscope.analysis import RunSummary, analyse, compare_runs
from turnscope.report import render_comparison, render_multiturn, render_summary


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


def _counts(turns: int) -> RunSummary:
    return RunSummary(
        turns=turns,
        answered=turns,
        turn_errors=0,
        scorer_errors=0,
        cached=0,
        error_messages={},
        prompt_tokens=None,
        completion_tokens=None,
    )


def test_summary_shows_one_figure_per_conversation_key_turns_only() -> None:
    # Recollection: turns 1-2 are distractors the model fails, turn 3 asks for the fact.
    items = [make_item(f"r{n}", "recollection", 3, probe_turns=[3]) for n in range(6)]
    records = [make_record(f"r{n}", t, 1.0 if t == 3 else 0.0) for n in range(6) for t in (1, 2, 3)]
    items.append(make_item("p", "pushback", 2, probe_turns=[2], challenge_turn=2))
    records += [make_record("p", 1, 1.0), make_record("p", 2, 0.0)]
    console = _console()
    render_summary(_counts(len(records)), analyse(records, items, resamples=50), console, title="t")
    text = console.export_text()
    # The headline and the family table say the same: the key turns' mean per conversation
    # (a per-turn mean with the distractors would say 0.333 for recollection).
    assert "score (own): 0.857" in text and "(n=7)" in text
    assert "score per family, per conversation (key turns)" in text
    family_row = next(line for line in text.splitlines() if "recollection" in line)
    assert "own" in family_row and "1.000" in family_row and " 6 " in family_row
    assert "0.333" not in text
    # Score by turn index: distractor turns are not in it.
    turn_rows = text.split("score by turn index, per turn")[1].splitlines()
    assert not any(row.strip().startswith(("│ 1 ", "│    1 ")) for row in turn_rows)
    assert any("1.000 n=6" in row for row in turn_rows)
    # One pushback item: marked as a small sample wherever it shows.
    pushback_row = next(line for line in text.splitlines() if "pushback" in line)
    assert "0.000" in pushback_row and " 1* " in pushback_row
    assert "* small sample: fewer than 5 items" in text


def test_summary_tables_wrap_rather_than_cut_in_a_narrow_terminal() -> None:
    # The core suite's nine conditions and longest family names in 80 columns.
    families = ("recollection", "global-instruction", "hidden-rule")
    conditions = ("own", "gold", "single", "full", "concat", "sharded", "tools", "no-tools", "env")
    items = [make_item(f"{f}-{i}", f, 2) for f in families for i in range(3)]
    records = [
        make_record(item.id, t, 0.5, condition=c)
        for item in items
        for c in conditions
        for t in (1, 2)
    ]
    console = Console(record=True, width=80, color_system=None)
    render_summary(_counts(len(records)), analyse(records, items, resamples=20), console, title="t")
    text = console.export_text()
    assert all(family in text for family in families)
    families_table = text.split("score per family")[1].split("score by turn index")[0]
    assert "…" not in families_table  # nothing cut short
    assert families_table.count(" 3* ") == len(families) * len(conditions)
    assert max(len(line) for line in families_table.splitlines()) <= 80
