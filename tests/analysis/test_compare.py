"""Paired comparison of two runs on hand-made stores."""

from __future__ import annotations

import random

import pytest
from rich.console import Console

from helpers.synthetic_runs import make_item, make_record
from turnscope.analysis import NoCommonItems, compare_runs
from turnscope.core import Item, TurnRecord
from turnscope.report import render_comparison


def _run(shift: float, n: int = 40) -> tuple[list[Item], list[TurnRecord]]:
    """n recollection and n pushback items; every item score is base + shift (in [0, 1])."""
    rng = random.Random(0)
    items, records = [], []
    for family in ("recollection", "pushback"):
        for i in range(n):
            item = make_item(f"{family}-{i}", family, 1)
            items.append(item)
            base = rng.uniform(0.1, 0.7)
            records.append(make_record(item.id, 1, base + shift))
    return items, records


def test_shift_is_found_per_family_and_overall() -> None:
    items_a, records_a = _run(0.0)
    items_b, records_b = _run(0.2)
    result = compare_runs(records_a, items_a, records_b, items_b, label_a="a", label_b="b")
    rows = {(r.condition, r.family): r for r in result.rows}
    assert set(rows) == {("own", "recollection"), ("own", "pushback"), ("own", "all")}
    overall = rows[("own", "all")]
    assert overall.n == 80
    assert overall.difference.mean == pytest.approx(0.2)
    assert overall.mean_b - overall.mean_a == pytest.approx(0.2)
    assert overall.p_value is not None and overall.p_value < 1e-6
    assert rows[("own", "pushback")].n == 40
    assert result.only_a == result.only_b == 0


def test_same_run_has_no_difference() -> None:
    items, records = _run(0.0)
    result = compare_runs(records, items, records, items)
    for row in result.rows:
        assert row.difference.mean == 0.0
        assert row.difference.low == row.difference.high == 0.0
        assert row.p_value == 1.0


def test_only_shared_scored_items_are_paired_and_errors_are_reported() -> None:
    items_a, records_a = _run(0.0, n=5)
    items_b, records_b = _run(0.1, n=5)
    # B failed on one item: it has no score there, so that item drops out of the pairing.
    failed = records_b[0].item_id
    records_b[0] = make_record(failed, 1, None, error="HTTP 500")
    result = compare_runs(records_a, items_a, records_b, items_b)
    overall = next(r for r in result.rows if r.family == "all")
    assert overall.n == 9
    assert result.only_a == 1 and result.only_b == 0
    assert result.errors_b.turn_errors == 1 and result.errors_a.turn_errors == 0


def test_no_common_items_is_a_clear_error() -> None:
    items_a = [make_item("x", "recollection", 1)]
    items_b = [make_item("y", "recollection", 1)]
    with pytest.raises(NoCommonItems, match="no scored item in common"):
        compare_runs([make_record("x", 1, 1.0)], items_a, [make_record("y", 1, 1.0)], items_b)


def test_a_family_of_one_item_gets_no_test_and_is_marked_small() -> None:
    items_a, records_a = _run(0.0)
    items_b, records_b = _run(0.2)
    lone = make_item("lone", "lonely", 1)
    items_a, items_b = [*items_a, lone], [*items_b, lone]
    records_a = [*records_a, make_record("lone", 1, 1.0)]
    records_b = [*records_b, make_record("lone", 1, 0.0)]
    result = compare_runs(records_a, items_a, records_b, items_b)
    row = next(r for r in result.rows if r.family == "lonely")
    assert row.n == 1 and row.difference.mean == -1.0 and row.difference.small
    assert row.p_value is None  # was 1.0: a test over one item says nothing
    console = Console(record=True, width=200, color_system=None)
    render_comparison(result, console)
    line = next(x for x in console.export_text().splitlines() if "lonely" in x)
    assert "small" in line and line.rstrip(" │").endswith("-")
