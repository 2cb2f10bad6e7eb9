"""Juries: one verdict from several judges' verdicts, and how much the judges agree."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Literal, TypeVar

import krippendorff
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from turnscope.core import Verdict, Winner

AggregationMethod = Literal["mean", "median", "majority"]


def _single_kind(verdicts: Sequence[Verdict]) -> str:
    kinds = sorted({v.kind for v in verdicts})
    if len(kinds) > 1:
        raise ValueError(f"cannot combine verdicts of different kinds: {', '.join(kinds)}")
    return kinds[0]


_Score = TypeVar("_Score", int, float, bool)


def _lowest_most_common(values: Sequence[_Score]) -> _Score:
    """The most common value; among equally common ones the lowest, so a split jury never
    lifts a score."""
    counts = Counter(values)
    top = max(counts.values())
    return min(v for v, c in counts.items() if c == top)


def _whole(number: float) -> int | None:
    return int(number) if float(number).is_integer() else None


def _aggregate_pairwise(verdicts: Sequence[Verdict], method: AggregationMethod) -> Verdict:
    if method != "majority":
        raise ValueError(f"pairwise verdicts are combined by majority, not {method}")
    counts = Counter(v.winner for v in verdicts)
    if None in counts:
        raise ValueError("a pairwise verdict without a winner cannot be combined")
    top = max(counts.values())
    leaders: list[Winner] = [w for w, c in counts.items() if w is not None and c == top]
    # Without one outcome strictly more common than every other, the jury calls it a tie.
    winner: Winner = leaders[0] if len(leaders) == 1 else "tie"
    return Verdict(kind="pairwise", winner=winner)


def _aggregate_checklist(verdicts: Sequence[Verdict], kind: str) -> Verdict:
    lengths = {len(v.items) for v in verdicts}
    if len(lengths) > 1:
        shown = ", ".join(map(str, sorted(lengths)))
        raise ValueError(f"checklist verdicts answer different numbers of items: {shown}")
    items = tuple(_lowest_most_common([v.items[i] for v in verdicts]) for i in range(lengths.pop()))
    return Verdict(kind=kind, items=items, value=sum(items) / len(items))


def aggregate(verdicts: Sequence[Verdict], method: AggregationMethod) -> Verdict:
    """One verdict from a jury's verdicts (all of one kind).

    mean / median: of the values (and of the grades: the grade is kept when it is whole).
    majority: the most common grade or value, each checklist item's most common answer, the
    most common pairwise winner; ties go to the lower score (rubric: no; checklist item: no;
    grade: the lower grade) and, for pairwise, to "tie". Pairwise accepts majority only."""
    if method not in ("mean", "median", "majority"):
        raise ValueError(f"unknown aggregation method {method!r} (known: mean, median, majority)")
    if not verdicts:
        raise ValueError("no verdicts to aggregate")
    kind = _single_kind(verdicts)
    if kind == "pairwise":
        return _aggregate_pairwise(verdicts, method)
    values = [v.value for v in verdicts]
    if any(v is None for v in values):
        raise ValueError(f"a {kind} verdict without a value cannot be combined")
    present = [v for v in values if v is not None]
    grades = [v.grade for v in verdicts if v.grade is not None]
    graded = len(grades) == len(verdicts)
    if method == "majority":
        if all(v.items for v in verdicts):
            return _aggregate_checklist(verdicts, kind)
        if graded:
            grade = _lowest_most_common(grades)
            return Verdict(kind=kind, grade=grade, value=grade / 10)
        return Verdict(kind=kind, value=_lowest_most_common(present))
    combine = statistics.mean if method == "mean" else statistics.median
    if graded:
        grade_value = float(combine(grades))
        return Verdict(kind=kind, grade=_whole(grade_value), value=grade_value / 10)
    return Verdict(kind=kind, value=float(combine(present)))


class Agreement(BaseModel):
    """How much a jury's judges agree, by Krippendorff's alpha."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: str
    """The statistic and level of measurement, e.g. "krippendorff-alpha-ordinal"."""
    value: float | None
    """1 is perfect agreement, 0 chance level; None when undefined (fewer than two judges,
    no answer judged by two of them, or a single value throughout)."""
    n_items: int = Field(ge=0)
    """Judged answers (or pairs) in the table."""
    n_judges: int = Field(ge=0)
    """Judges (columns of the table)."""


_WINNER_CODES: dict[Winner, float] = {"a": 0.0, "b": 1.0, "tie": 2.0}


def _code(verdict: Verdict | None, kind: str) -> float:
    """A pairwise winner or a value as a number for alpha; NaN where no verdict was given."""
    if verdict is None:
        return math.nan
    if kind == "pairwise":
        if verdict.winner is None:
            raise ValueError("a pairwise verdict without a winner has no agreement to measure")
        return _WINNER_CODES[verdict.winner]
    if verdict.value is None:
        raise ValueError(f"a {kind} verdict without a value has no agreement to measure")
    return verdict.value


def _level_and_rows(
    kind: str, table: Sequence[Sequence[Verdict | None]]
) -> tuple[Literal["nominal", "ordinal", "interval"], list[list[float]]]:
    """How to measure agreement for a kind, and the table as numbers (NaN: no verdict). A
    checklist contributes one row per item question."""
    if kind == "checklist":
        rows = []
        for row in table:
            lengths = {len(v.items) for v in row if v is not None}
            if len(lengths) > 1:
                shown = ", ".join(map(str, sorted(lengths)))
                raise ValueError(f"checklist verdicts answer different numbers of items: {shown}")
            for i in range(lengths.pop() if lengths else 0):
                rows.append([math.nan if v is None else float(v.items[i]) for v in row])
        return "nominal", rows
    rows = [[_code(v, kind) for v in row] for row in table]
    if kind == "pairwise":
        return "nominal", rows
    # A grade's value is grade / 10, so ranks (what ordinal alpha uses) are the grades' ranks.
    if kind == "grade":
        return "ordinal", rows
    binary = all(x in (0.0, 1.0) for row in rows for x in row if not math.isnan(x))
    return ("nominal" if binary else "interval"), rows


def agreement(table: Sequence[Sequence[Verdict | None]]) -> Agreement:
    """Krippendorff's alpha of a jury. `table` has one row per judged answer (or pair) and
    one column per judge, None where that judge gave no verdict. Grades are ordinal;
    pairwise winners, rubric answers and checklist answers (one unit per item) nominal."""
    widths = {len(row) for row in table}
    if len(widths) > 1:
        raise ValueError("every row of the agreement table needs one entry per judge")
    n_judges = widths.pop() if widths else 0
    present = [v for row in table for v in row if v is not None]
    if not present:
        return Agreement(
            method="krippendorff-alpha", value=None, n_items=len(table), n_judges=n_judges
        )
    kind = _single_kind(present)
    level, rows = _level_and_rows(kind, table)
    method = f"krippendorff-alpha-{level}"
    pairable = [row for row in rows if sum(not math.isnan(x) for x in row) >= 2]
    distinct = {x for row in pairable for x in row if not math.isnan(x)}
    if n_judges < 2 or not pairable or len(distinct) < 2:
        return Agreement(method=method, value=None, n_items=len(table), n_judges=n_judges)
    data = np.array(rows, dtype=float).T  # krippendorff wants judges x units
    value = float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))
    return Agreement(method=method, value=value, n_items=len(table), n_judges=n_judges)
