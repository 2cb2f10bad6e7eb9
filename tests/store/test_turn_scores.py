"""RunStore.turn_scores: the light read of every turn agrees with the full records."""

from __future__ import annotations

from pathlib import Path

from helpers.synthetic_runs import synthetic_suite_run, write_run
from turnscope.store import RunStore


def test_turn_scores_match_records(tmp_path: Path) -> None:
    items, records = synthetic_suite_run(3, seed=4)
    store = RunStore.open(write_run(tmp_path / "run", items, records))
    try:
        light = store.turn_scores()
        full = list(store.records())
        first = full[0]
        conversation = store.conversation(first.item_id, first.condition, first.sample)
    finally:
        store.close()
    assert len(light) == len(full) == len(records)
    for row, record in zip(light, full, strict=True):
        assert (row.item_id, row.condition, row.sample, row.turn) == (
            record.item_id,
            record.condition,
            record.sample,
            record.turn,
        )
        assert row.error == record.error and row.cached == record.cached
        assert row.scores == record.scores and row.score == record.score
    assert [r.turn for r in conversation] == list(range(1, len(conversation) + 1))
    assert all(r.item_id == first.item_id and r.condition == first.condition for r in conversation)
