"""Position-swap resolution on all nine combinations of the two orders' verdicts."""

from __future__ import annotations

import pytest

from turnscope.scorers.judges import PairwiseResult, Verdict, Winner, resolve_swap


def pairwise(winner: Winner) -> Verdict:
    return Verdict(kind="pairwise", winner=winner)


# (verdict on A,B) x (verdict on B,A, in the labels the judge saw) -> (winner, consistent)
CASES: list[tuple[Winner, Winner, Winner, bool]] = [
    ("a", "b", "a", True),  # A wins in both orders
    ("b", "a", "b", True),  # B wins in both orders
    ("tie", "tie", "tie", True),
    ("a", "a", "tie", False),  # the first-shown answer wins both times: a flip
    ("b", "b", "tie", False),  # the second-shown answer wins both times: a flip
    ("a", "tie", "tie", False),  # a win that becomes a tie when swapped
    ("tie", "b", "tie", False),
    ("b", "tie", "tie", False),
    ("tie", "a", "tie", False),
]


@pytest.mark.parametrize(("first", "swapped", "winner", "consistent"), CASES)
def test_resolve_swap(first: Winner, swapped: Winner, winner: Winner, consistent: bool) -> None:
    result = resolve_swap(pairwise(first), pairwise(swapped))
    assert result == PairwiseResult(winner=winner, position_consistent=consistent)


def test_a_resolved_pair_feeds_a_jury() -> None:
    result = resolve_swap(pairwise("b"), pairwise("a"))
    assert result.as_verdict() == pairwise("b")


def test_all_nine_combinations_are_covered() -> None:
    assert len({(first, swapped) for first, swapped, _, _ in CASES}) == 9


def test_non_pairwise_verdicts_are_refused() -> None:
    grade = Verdict(kind="grade", grade=7, value=0.7)
    with pytest.raises(ValueError, match="the first verdict is not a pairwise verdict"):
        resolve_swap(grade, pairwise("a"))
    with pytest.raises(ValueError, match="the swapped verdict is not a pairwise verdict"):
        resolve_swap(pairwise("a"), Verdict(kind="pairwise"))
