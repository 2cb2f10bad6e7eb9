from __future__ import annotations

from datetime import UTC, datetime

import pytest

from turnscope.analysis import instruction_report
from turnscope.core import Check, GenerationParams, ModelIdentity, Score, TurnRecord


def rec(item: str, turn: int, sample: int, checks: list[tuple[str, bool, bool]]) -> TurnRecord:
    score = Score(
        scorer="instructions",
        value=sum(p for _, p, _ in checks) / len(checks),
        checks=tuple(Check(name=n, passed=p, passed_loose=lo) for n, p, lo in checks),
    )
    return TurnRecord(
        item_id=item,
        turn=turn,
        condition="own",
        sample=sample,
        request_hash="h",
        new_messages=(),
        response="x",
        scores=(score,),
        model=ModelIdentity(backend="b", model="m"),
        params=GenerationParams(),
        seed=0,
        finished_at=datetime.now(UTC),
    )


A, B = "punctuation:no_comma", "change_case:english_capital"


def test_pif_by_turn_strict_and_loose_and_all_followed() -> None:
    records = [
        rec("x", 1, 0, [(A, True, True)]),
        rec("x", 2, 0, [(A, True, True), (B, False, True)]),
        rec("y", 1, 0, [(A, False, False)]),
        rec("y", 2, 0, [(A, True, True), (B, True, True)]),
    ]
    report = instruction_report(records)
    assert report is not None
    turn2 = report.by_turn["own"][2]
    assert turn2.answers == 2 and turn2.instructions == 4
    assert turn2.instruction_strict == 0.75 and turn2.instruction_loose == 1.0
    assert turn2.all_followed_strict == 0.5 and turn2.all_followed_loose == 1.0
    assert report.overall["own"].instruction_strict == pytest.approx(4 / 6)
    # Per type, most failed first: B followed 1/2, A 3/4.
    assert [(r.instruction, r.checks, r.strict) for r in report.by_type] == [
        (B, 2, 0.5),
        (A, 4, 0.75),
    ]


def test_pif_n_k_counts_samples_that_follow_everything() -> None:
    records = [
        # item x turn 1: 3 samples, 2 follow everything
        rec("x", 1, 0, [(A, True, True)]),
        rec("x", 1, 1, [(A, True, True)]),
        rec("x", 1, 2, [(A, False, True)]),
        # item y turn 1: 3 samples, all follow
        *(rec("y", 1, s, [(A, True, True)]) for s in range(3)),
        # item z turn 1: 3 samples, none follows
        *(rec("z", 1, s, [(A, False, False)]) for s in range(3)),
    ]
    report = instruction_report(records)
    assert report is not None and report.samples == 3
    assert report.pif_n_k["own"] == {
        1: pytest.approx(2 / 3),
        2: pytest.approx(2 / 3),
        3: pytest.approx(1 / 3),
    }


def test_no_instruction_checks_means_no_report() -> None:
    plain = rec("x", 1, 0, [(A, True, True)]).model_copy(update={"scores": ()})
    assert instruction_report([plain]) is None
