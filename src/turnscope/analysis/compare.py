"""Paired comparison of two runs on the items they share.

The unit is the item: for each item present in both runs with a score in both (the item score
of docs/analysis.md, per condition), the difference is run B minus run A. Per family and overall,
the mean difference gets a paired bootstrap interval (items resampled, both runs' values move
together) and a two-sided Wilcoxon signed-rank p-value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from turnscope.analysis.multiturn import item_families, item_scores
from turnscope.analysis.rows import ScoredTurn, ServingTurn
from turnscope.analysis.stats import (
    DEFAULT_RESAMPLES,
    PAIRED_TEST,
    Estimate,
    ItemResampler,
    paired_p_value,
)
from turnscope.core import Item

ALL = "all"
CHANGED_SHOWN = 10


class NoCommonItems(ValueError):
    """The two runs have no scored item in common, so there is nothing to pair."""


class PairedRow(BaseModel):
    """Run B against run A on the items of one family (or all) and one condition."""

    model_config = ConfigDict(frozen=True)

    condition: str
    """The condition compared (own, gold, single ...)."""
    family: str
    """Item family, or "all"."""
    n: int
    """Paired items."""
    mean_a: float
    """Mean item score of run A over the paired items."""
    mean_b: float
    """Mean item score of run B over the same items."""
    difference: Estimate
    """Mean of B minus A with its paired bootstrap 95 % interval."""
    p_value: float | None
    """Two-sided Wilcoxon signed-rank p-value of the differences."""


class ChangedItem(BaseModel):
    """An item whose score per conversation (key turns) moved between the two runs."""

    model_config = ConfigDict(frozen=True)

    condition: str
    """The condition it was played under."""
    item_id: str
    """The item."""
    family: str
    """Its family."""
    score_a: float
    """Its item score in run A."""
    score_b: float
    """Its item score in run B."""


class RunErrors(BaseModel):
    """Failures in one run's records (never counted as scores)."""

    model_config = ConfigDict(frozen=True)

    turns: int
    """Turn records."""
    turn_errors: int
    """Turns without an answer."""
    scorer_errors: int
    """Failed scores."""


class Comparison(BaseModel):
    """A paired comparison of two runs."""

    model_config = ConfigDict(frozen=True)

    label_a: str
    """Name of run A (the baseline)."""
    label_b: str
    """Name of run B."""
    test: str
    """The paired significance test used."""
    resamples: int
    """Bootstrap resamples behind each interval."""
    rows: list[PairedRow]
    """One row per condition and family, then the condition's "all" row."""
    only_a: int
    """Scored items of run A with no scored counterpart in run B (left out)."""
    only_b: int
    """Scored items of run B with no scored counterpart in run A (left out)."""
    errors_a: RunErrors
    """Failures in run A."""
    errors_b: RunErrors
    """Failures in run B."""
    changed: list[ChangedItem] = []
    """The paired items whose score changed most (largest |B - A| first, at most
    CHANGED_SHOWN; unchanged ones are not listed)."""


def _errors(records: Sequence[ScoredTurn]) -> RunErrors:
    return RunErrors(
        turns=len(records),
        turn_errors=sum(r.error is not None for r in records),
        scorer_errors=sum(s.error is not None for r in records for s in r.scores),
    )


def compare_runs(
    records_a: Iterable[ScoredTurn],
    items_a: Sequence[Item],
    records_b: Iterable[ScoredTurn],
    items_b: Sequence[Item],
    *,
    label_a: str = "A",
    label_b: str = "B",
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    serving_a: Iterable[ServingTurn] = (),
    serving_b: Iterable[ServingTurn] = (),
) -> Comparison:
    """Pair the two runs' item scores; NoCommonItems when no scored item is in both.
    `serving_a`/`serving_b` are the runs' serving-role records: conversations they spoilt are
    left out of the item scores."""
    rows_a, rows_b = list(records_a), list(records_b)
    scores_a = item_scores(rows_a, items_a, serving_a)
    scores_b = item_scores(rows_b, items_b, serving_b)
    families = {**item_families(items_b), **item_families(items_a)}
    keys_a = {(v, i) for v, s in scores_a.items() for i in s}
    keys_b = {(v, i) for v, s in scores_b.items() for i in s}
    common = keys_a & keys_b
    if not common:
        raise NoCommonItems(
            f"{label_a} and {label_b} have no scored item in common (same item id and condition)"
        )
    item_ids = sorted({i for _, i in common})
    column = {item_id: c for c, item_id in enumerate(item_ids)}
    resampler = ItemResampler(len(item_ids), resamples=resamples, seed=seed)
    rows: list[PairedRow] = []
    for condition in dict.fromkeys([*scores_a, *scores_b]):
        paired = sorted(i for c, i in common if c == condition)
        if not paired:
            continue
        groups: dict[str, list[str]] = defaultdict(list)
        for item_id in paired:
            groups[families.get(item_id, "?")].append(item_id)
        for family, ids in [*sorted(groups.items()), (ALL, paired)]:
            a = [scores_a[condition][i] for i in ids]
            b = [scores_b[condition][i] for i in ids]
            diffs = [y - x for x, y in zip(a, b, strict=True)]
            rows.append(
                PairedRow(
                    condition=condition,
                    family=family,
                    n=len(ids),
                    mean_a=sum(a) / len(a),
                    mean_b=sum(b) / len(b),
                    difference=resampler.estimate([column[i] for i in ids], diffs),
                    p_value=paired_p_value(diffs),
                )
            )
    moved = [
        ChangedItem(
            condition=condition,
            item_id=item_id,
            family=families.get(item_id, "?"),
            score_a=scores_a[condition][item_id],
            score_b=scores_b[condition][item_id],
        )
        for condition, item_id in common
        if scores_a[condition][item_id] != scores_b[condition][item_id]
    ]
    moved.sort(key=lambda c: (-abs(c.score_b - c.score_a), c.family, c.item_id, c.condition))
    return Comparison(
        changed=moved[:CHANGED_SHOWN],
        label_a=label_a,
        label_b=label_b,
        test=PAIRED_TEST,
        resamples=resamples,
        rows=rows,
        only_a=len(keys_a - keys_b),
        only_b=len(keys_b - keys_a),
        errors_a=_errors(rows_a),
        errors_b=_errors(rows_b),
    )
