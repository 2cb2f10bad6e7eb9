"""What a run did, counted over its stored turns: answers, errors, cache hits, tokens.

Scores are not here: every score figure is per conversation (key turns) and comes from
analysis/multiturn.py, so a label shows the same number wherever it appears. These counts
read the store's light per-turn rows and SQL totals, never the transcripts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from turnscope.analysis.rows import ScoredTurn
from turnscope.store import TurnTotals


class RunSummary(BaseModel):
    """The counts the terminal summary shows about one run."""

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
    error_messages: dict[str, int]
    """Distinct error messages (first line, shortened) and how often they occurred."""
    prompt_tokens: int | None
    """Prompt tokens over the answered turns; None when the backend reported none."""
    completion_tokens: int | None
    """Generated tokens; None when the backend reported none."""


def short_message(text: str, limit: int = 120) -> str:
    """An error message as summaries list it: its first line, cut at `limit` characters."""
    return text.splitlines()[0][:limit] if text else text


JUDGE_ERROR_CHARS = 1000
"""Longest judge error text a summary shows: whole, as a judge's error names the verdict it
could not find and what it found instead; bounded, since the judge wrote part of it."""


def full_message(text: str, limit: int = JUDGE_ERROR_CHARS) -> str:
    """An error message whole, on one line (runs of whitespace made one space), cut with an
    ellipsis only past `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


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


def summarise(turns: Iterable[ScoredTurn], totals: TurnTotals) -> RunSummary:
    """Count a run's target turns (`RunStore.turn_scores`) with its SQL totals
    (`RunStore.turn_totals`)."""
    rows = list(turns)
    return RunSummary(
        turns=len(rows),
        answered=totals.answered,
        turn_errors=sum(r.error is not None for r in rows),
        scorer_errors=sum(s.error is not None for r in rows for s in r.scores),
        cached=sum(r.cached for r in rows),
        error_messages=dict(error_message_counts(rows).most_common()),
        prompt_tokens=totals.prompt_tokens,
        completion_tokens=totals.completion_tokens,
    )
