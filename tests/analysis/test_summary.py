from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from turnscope.analysis import summarise
from turnscope.core import GenerationParams, Item, ModelIdentity, RunConfig, Score, TurnRecord
from turnscope.store import RunStore


def rec(
    item: str,
    turn: int,
    values: list[float | None],
    *,
    condition: str = "own",
    error: str | None = None,
) -> TurnRecord:
    scores = tuple(
        Score(scorer="s", value=v) if v is not None else Score(scorer="s", error="boom")
        for v in values
    )
    return TurnRecord(
        item_id=item,
        turn=turn,
        condition=condition,
        request_hash="h",
        new_messages=(),
        response=None if error else "x",
        error=error,
        scores=scores,
        model=ModelIdentity(backend="b", model="m"),
        params=GenerationParams(),
        seed=0,
        finished_at=datetime.now(UTC),
        prompt_tokens=10,
        completion_tokens=2,
    )


def test_counts_keep_turn_and_scorer_errors_apart(tmp_path: Path) -> None:
    records = [
        rec("a", 1, [1.0]),
        rec("a", 2, [0.0, 1.0]),
        rec("b", 1, [0.0]),
        rec("b", 2, [], error="HTTP 400: too long"),
        rec("a", 2, [None]),
        rec("a", 2, [1.0], condition="gold"),
    ]
    items = [Item.model_validate({"id": i, "turns": [{"user": "q"}] * 2}) for i in ("a", "b")]
    config = RunConfig(model="m", suite="s", created_at=datetime.now(UTC))
    store = RunStore.create(tmp_path / "run", config, items)
    for sample, record in enumerate(records):
        # The store keeps one record per (item, condition, sample, turn): a sample each.
        store.commit(record.model_copy(update={"sample": sample}))
    summary = summarise(store.turn_scores(), store.turn_totals())
    store.close()
    assert summary.turns == 6
    assert summary.turn_errors == 1 and summary.scorer_errors == 1
    assert summary.error_messages["HTTP 400: too long"] == 1
    assert summary.prompt_tokens == 60 and summary.answered == 5
