"""Hand-made items, turn records and run stores shaped like the built-in suite's output.

Items follow the suite contract: category == metadata["family"], and metadata may hold
distance, probe_turns, challenge_turn and budget (1-based turn numbers)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from turnscope.core import (
    Check,
    GenerationParams,
    Item,
    Message,
    ModelIdentity,
    RunConfig,
    Score,
    TurnRecord,
    Variant,
)
from turnscope.store import RunStore

MODEL = ModelIdentity(backend="test", model="hand-made")
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def make_item(item_id: str, family: str, n_turns: int, **metadata: Any) -> Item:
    """An item of `family` with `n_turns` turns, each with a reference answer."""
    return Item.model_validate(
        {
            "id": item_id,
            "category": family,
            "metadata": {"family": family, **metadata},
            "turns": [
                {"user": f"{item_id} question {t}", "reference": f"answer {t}"}
                for t in range(1, n_turns + 1)
            ],
        }
    )


def make_record(
    item_id: str,
    turn: int,
    score: float | None,
    *,
    variant: str = "own",
    sample: int = 0,
    error: str | None = None,
    scorer_error: str | None = None,
    user: str | None = None,
    response: str | None = None,
    checks: Sequence[Check] = (),
) -> TurnRecord:
    """One turn: `score` is the scorer's value; `error` makes it a failed turn (no answer)."""
    scores: tuple[Score, ...] = ()
    if error is None:
        if scorer_error is not None:
            scores = (Score(scorer="exact", error=scorer_error),)
        elif score is not None:
            scores = (Score(scorer="exact", value=score, detail="hand-made"),)
        if checks:
            passed = sum(c.passed for c in checks) / len(checks)
            scores = (*scores, Score(scorer="instructions", value=passed, checks=tuple(checks)))
    return TurnRecord(
        item_id=item_id,
        turn=turn,
        variant=Variant(variant),
        sample=sample,
        request_hash=f"{item_id}-{variant}-{sample}-{turn}",
        new_messages=(Message(role="user", content=user or f"{item_id} question {turn}"),),
        response=None if error is not None else (response or f"answer to {turn}"),
        error=error,
        model=MODEL,
        params=GenerationParams(),
        seed=0,
        scores=scores,
        finished_at=NOW,
    )


def write_run(
    run_dir: Path,
    items: Sequence[Item],
    records: Sequence[TurnRecord],
    *,
    suite: str = "core",
    model: str = "llamacpp",
) -> Path:
    """A finished run directory holding `items` and `records`, written through RunStore."""
    variants = tuple(dict.fromkeys(r.variant for r in records)) or (Variant.OWN,)
    config = RunConfig(model=model, suite=suite, variants=variants, created_at=NOW)
    store = RunStore.create(run_dir, config, items)
    try:
        for record in records:
            store.commit(record)
        store.set_meta("status", "finished")
    finally:
        store.close()
    return run_dir
