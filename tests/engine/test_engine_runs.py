from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from turnscope.core import (
    GenerationParams,
    Item,
    Message,
    ModelIdentity,
    RunConfig,
    Turn,
    TurnRecord,
)
from turnscope.engine import RetryPolicy, plan_run
from turnscope.engine.runner import _GroupCommit
from turnscope.models.llamacpp import LlamaCppClient
from turnscope.run import create_run, execute_run
from turnscope.store import STORE_FILE, RunStore
from turnscope.suites import load_suite_file


def config(tmp_path: Path, **overrides: object) -> RunConfig:
    base: dict[str, object] = {
        "model": "llamacpp",
        "suite": "mini",
        "params": GenerationParams(max_tokens=8),
        "cache_path": str(tmp_path / "cache.sqlite"),
        "created_at": datetime.now(UTC),
    }
    return RunConfig.model_validate({**base, **overrides})


def responses(store: RunStore) -> dict[tuple[str, str, int, int], str | None]:
    return {(r.item_id, r.condition, r.sample, r.turn): r.response for r in store.records()}


async def test_plays_every_variant_and_commits_every_turn(
    embedded: LlamaCppClient, mini_suite: Path, tmp_path: Path
) -> None:
    items = load_suite_file(mini_suite).suite.items
    cfg = config(tmp_path, variants=["own", "gold", "single"], samples=2)
    store = create_run(cfg, items, tmp_path / "runs")
    seen: list[int] = []
    on_disk = sqlite3.connect(store.run_dir / STORE_FILE)

    def acknowledged(record: TurnRecord) -> None:
        # A record is reported only once it is committed: another connection already sees it.
        key = (record.item_id, record.condition, record.sample, record.turn)
        query = "SELECT COUNT(*) FROM turns WHERE item_id=? AND condition=? AND sample=? AND turn=?"
        assert on_disk.execute(query, key).fetchone() == (1,)
        seen.append(record.turn)

    outcome = await execute_run(store, embedded, on_record=acknowledged)
    on_disk.close()
    # own and gold: 7 turns each per sample; single: one per item per sample.
    assert outcome.plan.total_turns == 2 * (7 + 7 + 3)
    assert store.turn_count() == outcome.plan.total_turns == len(seen)
    assert outcome.engine.turn_errors == 0
    assert outcome.requests_sent == outcome.plan.total_turns
    assert store.meta("status") == "finished"
    records = list(store.records())
    assert {r.condition for r in records} == {"own", "gold", "single"}
    assert all(r.response is not None and r.latency_s > 0 for r in records)


async def test_same_seed_same_answers_and_cache_serves_a_repeat(
    embedded: LlamaCppClient, mini_suite: Path, tmp_path: Path
) -> None:
    items = load_suite_file(mini_suite).suite.items[:2]
    cfg = config(tmp_path, params=GenerationParams(max_tokens=8, temperature=0.9), seed=5)
    first = create_run(cfg, items, tmp_path / "runs")
    await execute_run(first, embedded)
    again = create_run(cfg, items, tmp_path / "runs")
    repeat = await execute_run(again, embedded)
    assert repeat.requests_sent == 0 and repeat.cache_hits == first.turn_count()
    assert responses(again) == responses(first)
    assert all(r.cached for r in again.records())

    uncached = create_run(cfg.model_copy(update={"use_cache": False}), items, tmp_path / "runs")
    fresh = await execute_run(uncached, embedded)
    assert fresh.requests_sent == first.turn_count()
    assert responses(uncached) == responses(first)  # seeded sampling reproduces the answers


async def test_resume_asks_only_unfinished_turns(
    embedded: LlamaCppClient, mini_suite: Path, tmp_path: Path
) -> None:
    items = load_suite_file(mini_suite).suite.items
    cfg = config(tmp_path, use_cache=False)
    full = create_run(cfg, items, tmp_path / "runs")
    await execute_run(full, embedded)
    # Simulate a run killed after the first two turns of the first item.
    partial = create_run(cfg, items, tmp_path / "runs")
    kept = [r for r in full.records() if r.item_id == items[0].id and r.turn <= 2]
    for record in kept:
        partial.commit(record)
    reopened = RunStore.open(partial.run_dir)
    outcome = await execute_run(reopened, embedded)
    assert outcome.requests_sent == full.turn_count() - len(kept)
    assert outcome.engine.turns_already_done == len(kept)
    resumed = responses(reopened)
    assert resumed.keys() == responses(full).keys()
    assert all(resumed[(r.item_id, "own", 0, r.turn)] == r.response for r in kept)
    assert all(text is not None for text in resumed.values())


def test_gold_variant_skips_items_without_references(tmp_path: Path) -> None:
    items = [
        Item(id="a", turns=(Turn(user="x", reference="y"),)),
        Item(id="b", turns=(Turn(user="x"), Turn(user="z", reference="y"))),
    ]
    plan = plan_run(items, config(tmp_path, variants=["gold", "own"], samples=3))
    assert plan.skipped == {
        "gold: a turn has no reference answer (gold history needs one on every turn)": 1
    }
    gold = [c for c in plan.conversations if c.condition == "gold"]
    assert {c.item.id for c in gold} == {"a"} and len(gold) == 3
    assert len(plan.conversations) == 3 + 6


def test_backoff_grows_is_jittered_bounded_and_honours_retry_after() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=8.0)
    rng = random.Random(0)
    delays = [policy.delay(attempt, None, rng) for attempt in range(6)]
    for attempt, delay in enumerate(delays):
        ceiling = min(8.0, 2.0**attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert policy.delay(0, 3.0, rng) == 3.0
    assert policy.delay(0, 600.0, rng) == 8.0


class BatchCountingStore(RunStore):
    """A run store that remembers how many records each transaction held."""

    batches: list[int]

    def commit_many(self, records: Sequence[TurnRecord]) -> None:
        self.batches.append(len(records))
        super().commit_many(records)


def turn_record(item: str, turn: int) -> TurnRecord:
    return TurnRecord(
        item_id=item,
        turn=turn,
        condition="own",
        request_hash=f"h-{item}-{turn}",
        new_messages=(Message(role="user", content="hi"),),
        response="ok",
        model=ModelIdentity(backend="openai", model="m"),
        params=GenerationParams(),
        seed=1,
        finished_at=datetime.now(UTC),
    )


async def test_records_finishing_together_share_one_transaction(tmp_path: Path) -> None:
    """Records that finish in the same pass of the event loop are committed in one
    transaction, each conversation going on only once it is on disk; a commit that fails
    fails every conversation of its batch (as a full disk does), none silently."""
    items = [Item(id=f"i{n}", turns=(Turn(user="a"), Turn(user="b"))) for n in range(8)]
    store = BatchCountingStore.create(tmp_path / "run", config(tmp_path), items)
    store.batches = []
    committer = _GroupCommit(store)
    await asyncio.gather(*(committer.commit(turn_record(it.id, 1)) for it in items))
    await committer.commit(turn_record("i0", 2))
    assert store.batches == [8, 1]
    with sqlite3.connect(store.run_dir / STORE_FILE) as other:
        assert other.execute("SELECT COUNT(*) FROM turns").fetchone() == (9,)
    store.close()
    failed = await asyncio.gather(
        *(committer.commit(turn_record(it.id, 2)) for it in items[1:4]), return_exceptions=True
    )
    assert [type(exc) for exc in failed] == [sqlite3.ProgrammingError] * 3
