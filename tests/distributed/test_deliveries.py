"""What a Ray actor sends back, without Ray: its finished records encoded as the run store's
rows (which the driver inserts as they are), with the positions of those a judge still has to
score, the only ones the driver decodes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from helpers.synthetic_runs import make_record
from turnscope.core import Item, RunConfig
from turnscope.distributed import _Forwarder
from turnscope.store import RunStore, turn_row

LABEL = "ray:0@0123abcd"


def judged_item() -> Item:
    return Item.model_validate(
        {
            "id": "judged",
            "turns": [
                {"user": "first", "scorers": [{"type": "contains", "value": "answer"}]},
                {"user": "second", "scorers": [{"type": "judge"}]},
            ],
        }
    )


def test_an_actor_sends_store_rows_and_marks_the_turns_a_judge_must_score(
    tmp_path: Path,
) -> None:
    item = judged_item()
    records = [
        make_record("judged", 1, 1.0),
        make_record("judged", 2, None),
        make_record("judged", 2, None, sample=1, error="server said no"),
    ]
    forwarder = _Forwarder({}, asyncio.Event(), LABEL, {item.id: item})
    forwarder.commit_many(records[:2])
    forwarder.commit(records[2])
    assert forwarder.ready.is_set()
    # Only the answered turn with a judge spec; a failed turn has nothing to judge.
    assert forwarder.judge == [1]
    stamped = [r.model_copy(update={"served_by": LABEL}) for r in records]
    assert forwarder.rows == [turn_row(r) for r in stamped]

    # A run without judges marks nothing.
    unjudged = _Forwarder({}, asyncio.Event(), LABEL, None)
    unjudged.commit_many(records)
    assert unjudged.judge == [] and unjudged.rows == forwarder.rows

    # The driver's insert of the rows stores what committing the records would.
    config = RunConfig(
        model="openai:x@http://127.0.0.1:9/v1", suite="t", created_at=datetime.now(UTC)
    )
    store = RunStore.create(tmp_path / "run", config, [item])
    store.commit_rows(forwarder.rows)
    assert list(store.records()) == stamped
    assert store.failed_count() == 1
    assert store.served_counts() == {LABEL: 3}
    store.close()
