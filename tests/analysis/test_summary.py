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


def test_means_by_turn_category_and_condition_with_errors_kept_apart(tmp_path: Path) -> None:
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
    summary = summarise(store.turn_scores(), {"a": "recall", "b": "math"}, store.turn_totals())
    store.close()
    own = summary.by_turn["own"]
    assert own[1].mean == 0.5 and own[1].scored == 2
    # turn 2: a scored 0.5, the failed turn and the all-errors scorer give no value at all
    assert own[2].mean == 0.5 and own[2].scored == 1 and own[2].turns == 3
    assert summary.by_category["own"]["math"].mean == 0.0
    assert summary.by_condition["gold"].mean == 1.0
    assert summary.turn_errors == 1 and summary.scorer_errors == 1
    assert summary.error_messages["HTTP 400: too long"] == 1
    assert summary.prompt_tokens == 60 and summary.answered == 5
