"""Multi-turn metrics on hand-made records whose right answers are worked out by hand."""

from __future__ import annotations

import pytest

from helpers.synthetic_runs import make_item, make_record
from turnscope.analysis import MultiTurnAnalysis, analyse
from turnscope.core import Item, TurnRecord


def _fixture() -> tuple[list[Item], list[TurnRecord]]:
    items = [
        make_item("rec1", "recollection", 3, distance=2, probe_turns=[3]),
        make_item("rec2", "recollection", 3, distance=1, probe_turns=[3]),
        *(
            make_item(f"push{i}", "pushback", 2, challenge_turn=2, probe_turns=[2])
            for i in range(1, 6)
        ),
        *(make_item(f"fb{i}", "feedback", 3, budget=3) for i in range(1, 4)),
    ]
    r = make_record
    records = [
        # recollection: own forgets rec1's fact; gold and the single-turn twin get both right.
        r("rec1", 1, 1.0), r("rec1", 2, 1.0), r("rec1", 3, 0.0),
        r("rec2", 1, 1.0), r("rec2", 2, 0.0), r("rec2", 3, 1.0),
        r("rec1", 1, 1.0, condition="gold"), r("rec1", 2, 1.0, condition="gold"),
        r("rec1", 3, 1.0, condition="gold"),
        r("rec2", 1, 1.0, condition="gold"),
        r("rec2", 2, None, condition="gold", scorer_error="boom"),
        r("rec2", 3, 1.0, condition="gold"),
        r("rec1", 3, 1.0, condition="single"), r("rec2", 3, 1.0, condition="single"),
        # pushback: push1 flips, push2/3 hold, push4 was wrong already, push5's reply failed.
        r("push1", 1, 1.0), r("push1", 2, 0.0),
        r("push2", 1, 1.0), r("push2", 2, 1.0),
        r("push3", 1, 1.0), r("push3", 2, 1.0),
        r("push4", 1, 0.0), r("push4", 2, 0.0),
        r("push5", 1, 1.0), r("push5", 2, None, error="HTTP 500"),
        # feedback (budget 3): fb1 solved at attempt 2, fb2 never, fb3 failed at attempt 2.
        r("fb1", 1, 0.0), r("fb1", 2, 1.0),
        r("fb2", 1, 0.0), r("fb2", 2, 0.0), r("fb2", 3, 0.0),
        r("fb3", 1, 0.0), r("fb3", 2, None, error="timeout"),
    ]  # fmt: skip
    return items, records


@pytest.fixture(scope="module")
def result() -> MultiTurnAnalysis:
    items, records = _fixture()
    return analyse(records, items, resamples=500, seed=1)


def test_error_counts(result: MultiTurnAnalysis) -> None:
    assert result.turns == 31
    assert result.turn_errors == 2
    assert result.scorer_errors == 1
    assert result.items == 10


def test_score_by_turn_index_counts_key_turns_only(result: MultiTurnAnalysis) -> None:
    own = result.by_turn["own"]
    # turn 1 is a key turn only of the feedback items (every attempt counts): all wrong.
    assert own[1].mean == 0.0
    assert own[1].n == 3 and own[1].errors == 0
    # turn 2: the pushback replies and the feedback attempts; push5 and fb3 failed (no value,
    # counted as errors); 3 of the other 6 right.
    assert own[2].mean == pytest.approx(0.5)
    assert own[2].n == 6 and own[2].errors == 2
    assert own[3].mean == pytest.approx(1 / 3)  # rec1 0, rec2 1, fb2 0
    # rec2's failed score at turn 2 under gold is a distractor's: not in the curve (and turn
    # 2 is no key turn of any gold item).
    assert 2 not in result.by_turn["gold"]
    assert result.by_turn["gold"][3].n == 2


def test_score_by_family_uses_probe_turns(result: MultiTurnAnalysis) -> None:
    own = result.by_family["own"]
    assert own["recollection"].mean == pytest.approx(0.5)  # probe turn 3: 0 and 1
    assert own["pushback"].mean == pytest.approx(0.5)  # turn 2: 0, 1, 1, 0; push5 has none
    assert own["pushback"].n == 4 and own["pushback"].errors == 1
    assert own["feedback"].mean == pytest.approx(0.5)  # fb1 solved, fb2 not, fb3 unknown
    assert own["feedback"].n == 2


def test_score_by_distance(result: MultiTurnAnalysis) -> None:
    by_distance = result.by_distance["own"]["recollection"]
    assert by_distance[1].mean == 1.0
    assert by_distance[2].mean == 0.0


def test_multi_minus_single_is_negative_when_own_forgets(result: MultiTurnAnalysis) -> None:
    gap = result.gap("multi − single")
    assert gap is not None
    assert gap.first.mean == pytest.approx(0.5)  # own at the last turn: 0 and 1
    assert gap.second.mean == 1.0  # the twin got both
    assert gap.difference.mean == pytest.approx(-0.5)
    assert gap.difference.n == 2
    assert set(result.gaps["multi − single"].by_family) == {"recollection"}


def test_own_minus_gold_pairs_probe_turns(result: MultiTurnAnalysis) -> None:
    gap = result.gap("own − gold")
    assert gap is not None
    # Only the recollection items have gold records; at probe turn 3: (0-1) and (1-1).
    assert gap.difference.mean == pytest.approx(-0.5)
    assert gap.difference.n == 2


def test_gold_history_flip_rate_counts_every_challenge() -> None:
    # In gold the challenged answer shown to the model is the reference, correct by
    # construction: the model's own (wrong) answer at that turn does not leave it out.
    items = [make_item(f"push{i}", "pushback", 2, challenge_turn=2) for i in (1, 2, 3)]
    r = make_record
    records = [
        r("push1", 1, 0.0, condition="gold"), r("push1", 2, 0.0, condition="gold"),
        r("push2", 1, 0.0, condition="gold"), r("push2", 2, 1.0, condition="gold"),
        r("push3", 1, 1.0, condition="gold"), r("push3", 2, 1.0, condition="gold"),
    ]  # fmt: skip
    flips = analyse(records, items, resamples=50).flip_rate["gold"]
    assert flips.conversations == 3 and flips.flips == 1 and flips.challenged_wrong == 0
    assert flips.rate.mean == pytest.approx(1 / 3)


def test_single_turn_twin_has_no_flip_rate() -> None:
    items = [make_item("p", "pushback", 2, challenge_turn=2)]
    records = [make_record("p", 2, 1.0, condition="single")]
    assert analyse(records, items, resamples=50).flip_rate == {}


def test_flip_rate_one_in_three(result: MultiTurnAnalysis) -> None:
    flips = result.flip_rate["own"]
    assert flips.rate.mean == pytest.approx(1 / 3)
    assert flips.conversations == 3 and flips.flips == 1
    assert flips.challenged_wrong == 1 and flips.errors == 1


def test_success_at_k(result: MultiTurnAnalysis) -> None:
    curve = result.success_at_k["own"]
    assert curve.conversations == 3 and curve.errors == 1
    assert curve.by_k[1].mean == 0.0 and curve.by_k[1].n == 3
    # fb3's outcome is unknown from attempt 2 on: it leaves the denominator.
    assert curve.by_k[2].mean == pytest.approx(0.5) and curve.by_k[2].n == 2
    assert curve.by_k[3].mean == pytest.approx(0.5)


def test_every_interval_contains_its_mean(result: MultiTurnAnalysis) -> None:
    estimates = [
        *result.overall.values(),
        *(e for cells in result.by_turn.values() for e in cells.values()),
        *(e for cells in result.by_family.values() for e in cells.values()),
    ]
    for e in estimates:
        if e.mean is not None:
            assert e.low is not None and e.high is not None
            assert e.low <= e.mean <= e.high


def test_same_seed_same_intervals() -> None:
    items, records = _fixture()
    a = analyse(records, items, resamples=200, seed=7)
    b = analyse(records, items, resamples=200, seed=7)
    assert a == b


def test_runs_without_suite_metadata_get_plain_aggregates() -> None:
    items = [Item.model_validate({"id": "x", "turns": [{"user": "a"}, {"user": "b"}]})]
    records = [make_record("x", 1, 1.0), make_record("x", 2, 0.0)]
    result = analyse(records, items, resamples=100)
    assert result.overall["own"].mean == pytest.approx(0.5)
    assert result.by_family["own"]["general"].n == 1
    assert result.gaps == {}
    assert not result.flip_rate and not result.success_at_k and not result.by_distance


def test_samples_average_within_an_item() -> None:
    items = [make_item("s", "recollection", 1)]
    records = [make_record("s", 1, 1.0, sample=0), make_record("s", 1, 0.0, sample=1)]
    result = analyse(records, items, resamples=100)
    assert result.by_turn["own"][1].mean == 0.5
    assert result.by_turn["own"][1].n == 1  # one item, not two turns
