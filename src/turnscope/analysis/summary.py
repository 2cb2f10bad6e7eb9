"""Aggregates over stored turns: score by turn index, category, condition; errors.

They read the store's light per-turn rows (scores, errors) and SQL totals, never the
transcripts, so summarising a run of any size holds only its scores in memory."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict

from turnscope.analysis.rows import ScoredTurn
from turnscope.store import TurnTotals


class Cell(BaseModel):
    """A mean score over some turns, with how many were scored."""

    model_config = ConfigDict(frozen=True)

    mean: float | None
    """Mean turn score; None when no turn in the group was scored."""
    scored: int
    """Turns with at least one successful score."""
    turns: int
    """Turns in the group (scored or not)."""


class RunSummary(BaseModel):
    """What the terminal summary and `runs` show about one run."""

    model_config = ConfigDict(frozen=True)

    turns: int
    """Turn records in the store."""
    answered: int
    """Turns with an answer."""
    turn_errors: int
    """Turns without an answer (model failures)."""
    scorer_errors: int
    """Scores that failed (never counted as a value)."""
    cached: int
    """Answers reused from the response cache."""
    overall: Cell
    by_condition: dict[str, Cell]
    """Condition -> cell."""
    by_turn: dict[str, dict[int, Cell]]
    """Condition -> turn index -> cell."""
    by_category: dict[str, dict[str, Cell]]
    """Condition -> category -> cell."""
    error_messages: dict[str, int]
    """Distinct error messages (first line, shortened) and how often they occurred."""
    prompt_tokens: int | None
    """Prompt tokens over the answered turns; None when the backend reported none."""
    completion_tokens: int | None
    """Generated tokens; None when the backend reported none."""


def _cell(rows: list[ScoredTurn]) -> Cell:
    values = [r.score for r in rows if r.score is not None]
    return Cell(
        mean=sum(values) / len(values) if values else None, scored=len(values), turns=len(rows)
    )


def short_message(text: str, limit: int = 120) -> str:
    """An error message as summaries list it: its first line, cut at `limit` characters."""
    return text.splitlines()[0][:limit] if text else text


def error_message_counts(rows: Iterable[ScoredTurn]) -> Counter[str]:
    """Distinct turn and scorer error messages (shortened) and how often each occurred."""
    counts: Counter[str] = Counter()
    for row in rows:
        if row.error:
            counts[short_message(row.error)] += 1
        for score in row.scores:
            if score.error:
                counts[f"scorer {score.scorer}: {short_message(score.error, 100)}"] += 1
    return counts


def summarise(
    turns: Iterable[ScoredTurn], categories: Mapping[str, str], totals: TurnTotals
) -> RunSummary:
    """Summarise a run's target turns (`RunStore.turn_scores`) with its SQL totals
    (`RunStore.turn_totals`); `categories` maps item id to its category."""
    rows = list(turns)
    by_condition: dict[str, list[ScoredTurn]] = defaultdict(list)
    by_turn: dict[str, dict[int, list[ScoredTurn]]] = defaultdict(lambda: defaultdict(list))
    by_category: dict[str, dict[str, list[ScoredTurn]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        condition = row.condition
        by_condition[condition].append(row)
        by_turn[condition][row.turn].append(row)
        by_category[condition][categories.get(row.item_id, "?")].append(row)
    return RunSummary(
        turns=len(rows),
        answered=totals.answered,
        turn_errors=sum(r.error is not None for r in rows),
        scorer_errors=sum(s.error is not None for r in rows for s in r.scores),
        cached=sum(r.cached for r in rows),
        overall=_cell(rows),
        by_condition={v: _cell(rs) for v, rs in by_condition.items()},
        by_turn={v: {t: _cell(rs) for t, rs in sorted(ts.items())} for v, ts in by_turn.items()},
        by_category={
            v: {c: _cell(rs) for c, rs in sorted(cs.items())} for v, cs in by_category.items()
        },
        error_messages=dict(error_message_counts(rows).most_common()),
        prompt_tokens=totals.prompt_tokens,
        completion_tokens=totals.completion_tokens,
    )
