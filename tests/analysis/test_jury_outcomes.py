"""A jury's pairwise outcome on a turn enters the ratings once, as the jury's majority."""

from __future__ import annotations

from datetime import UTC, datetime

from turnscope.core import Judgment, ModelIdentity, PairJudgment, Winner
from turnscope.pairwise import PairwiseResult, outcomes
from turnscope.store import PairRecord


def record(judge: str, turn: int, outcome: Winner | None) -> PairRecord:
    side = Judgment(
        judge=judge,
        identity=ModelIdentity(backend="scripted", model=judge),
        kind="pairwise",
        attempts=(),
        finished_at=datetime.now(UTC),
    )
    return PairRecord(
        run_a="run-a",
        run_b="run-b",
        item_id="q1",
        condition="own",
        sample=0,
        turn=turn,
        judge=judge,
        judgment=PairJudgment(ab=side, ba=side, outcome=outcome, error=None if outcome else "x"),
    )


def test_one_outcome_per_turn_by_jury_majority() -> None:
    result = PairwiseResult("run-a", "run-b")
    result.records = [
        record("j1", 1, "a"),
        record("j2", 1, "a"),
        record("j3", 1, "b"),
        record("j1", 2, "a"),
        record("j2", 2, "b"),
        record("j3", 2, None),  # no outcome: left out, and the two left are split
        record("j1", 3, "b"),
    ]
    found = sorted((o.turn, o.outcome) for o in outcomes([result]))
    assert found == [(1, "a"), (2, "tie"), (3, "b")]
