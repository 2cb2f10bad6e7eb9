"""Jury aggregation rules and inter-judge agreement against hand-computed alphas."""

from __future__ import annotations

import pytest

from turnscope.scorers.judges import Agreement, Verdict, Winner, aggregate, agreement


def grade(n: int) -> Verdict:
    return Verdict(kind="grade", grade=n, value=n / 10)


def rubric(yes: bool) -> Verdict:
    return Verdict(kind="rubric", value=1.0 if yes else 0.0)


def pair(winner: Winner) -> Verdict:
    return Verdict(kind="pairwise", winner=winner)


def checklist(*answers: bool) -> Verdict:
    return Verdict(kind="checklist", items=answers, value=sum(answers) / len(answers))


def test_grade_mean_and_median() -> None:
    assert aggregate([grade(6), grade(8), grade(7)], "mean") == grade(7)
    mean = aggregate([grade(7), grade(8)], "mean")
    assert mean.grade is None and mean.value == pytest.approx(0.75)  # not a whole grade
    assert aggregate([grade(2), grade(9), grade(8)], "median") == grade(8)
    assert aggregate([grade(2), grade(9), grade(8), grade(3)], "median").value == 0.55


def test_grade_majority_breaks_ties_downwards() -> None:
    assert aggregate([grade(7), grade(4), grade(7)], "majority") == grade(7)
    assert aggregate([grade(7), grade(4)], "majority") == grade(4)
    assert aggregate([grade(9), grade(9), grade(3), grade(3), grade(5)], "majority") == grade(3)


def test_rubric() -> None:
    assert aggregate([rubric(True), rubric(True), rubric(False)], "majority") == rubric(True)
    assert aggregate([rubric(True), rubric(False)], "majority") == rubric(False)  # split: no
    assert aggregate([rubric(True), rubric(True), rubric(False)], "mean").value == pytest.approx(
        2 / 3
    )
    assert aggregate([rubric(True), rubric(False), rubric(False)], "median") == rubric(False)


def test_pairwise_majority() -> None:
    assert aggregate([pair("a"), pair("a"), pair("b")], "majority") == pair("a")
    assert aggregate([pair("a"), pair("b")], "majority") == pair("tie")
    assert aggregate([pair("b"), pair("tie"), pair("tie")], "majority") == pair("tie")
    assert aggregate([pair("a"), pair("tie"), pair("b")], "majority") == pair("tie")
    with pytest.raises(ValueError, match="pairwise verdicts are combined by majority, not mean"):
        aggregate([pair("a"), pair("b")], "mean")


def test_checklist() -> None:
    jury = [checklist(True, True, False), checklist(True, False, False), checklist(False, True)]
    with pytest.raises(ValueError, match="different numbers of items: 2, 3"):
        aggregate(jury, "majority")
    jury[2] = checklist(False, True, True)
    assert aggregate(jury, "majority") == checklist(True, True, False)
    assert aggregate(jury[:2], "majority") == checklist(True, False, False)  # split item: no
    assert aggregate(jury, "mean").value == pytest.approx((2 / 3 + 1 / 3 + 2 / 3) / 3)


def test_aggregate_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown aggregation method 'mode'"):
        aggregate([grade(3)], "mode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no verdicts"):
        aggregate([], "mean")
    with pytest.raises(ValueError, match="different kinds: grade, rubric"):
        aggregate([grade(3), rubric(True)], "mean")
    with pytest.raises(ValueError, match="without a value"):
        aggregate([Verdict(kind="grade")], "mean")


def test_perfect_agreement_is_one() -> None:
    table = [[grade(3), grade(3)], [grade(8), grade(8)], [grade(5), grade(5)]]
    assert agreement(table) == Agreement(
        method="krippendorff-alpha-ordinal", value=1.0, n_items=3, n_judges=2
    )
    table_pairs = [[pair("a")] * 3, [pair("b")] * 3, [pair("tie")] * 3]
    assert agreement(table_pairs).value == pytest.approx(1.0)


def test_nominal_alpha_by_hand() -> None:
    # Units (a,a), (a,b), (b,b), (b,b): coincidences o_ab = o_ba = 1, n_a = 3, n_b = 5, n = 8;
    # alpha = 1 - (n - 1) * (o_ab + o_ba) / (2 * n_a * n_b) = 1 - 7 * 2 / 30 = 8/15.
    table = [[rubric(True), rubric(True)], [rubric(True), rubric(False)]]
    table += [[rubric(False), rubric(False)], [rubric(False), rubric(False)]]
    result = agreement(table)
    assert result.method == "krippendorff-alpha-nominal"
    assert result.value == pytest.approx(8 / 15)
    as_pairs = [[pair("a" if v.value else "b") for v in row] for row in table]
    assert agreement(as_pairs).value == pytest.approx(8 / 15)


def test_ordinal_alpha_by_hand() -> None:
    # Units (1,1), (2,3), (3,3): n_1 = 2, n_2 = 1, n_3 = 3, n = 6. Ordinal distances
    # d(1,2) = 1.5^2, d(2,3) = 2^2, d(1,3) = 3.5^2; observed sum 2 * 4 = 8; expected sum
    # 2 * (2*1*2.25 + 2*3*12.25 + 1*3*4) = 180; alpha = 1 - 5 * 8 / 180 = 7/9.
    table = [[grade(1), grade(1)], [grade(2), grade(3)], [grade(3), grade(3)]]
    assert agreement(table).value == pytest.approx(7 / 9)


def test_missing_verdicts_and_checklists() -> None:
    # A judge that gave no verdict leaves a gap; the unit still counts when two judged it.
    table = [[grade(1), grade(1), None], [grade(2), None, grade(3)], [None, grade(3), grade(3)]]
    result = agreement(table)
    assert (result.n_items, result.n_judges) == (3, 3)
    assert result.value == pytest.approx(7 / 9)
    # each checklist question is one unit: the same units as the nominal example above
    lists = [[checklist(True, True), checklist(True, False)]]
    lists += [[checklist(False, False), checklist(False, False)]]
    checked = agreement(lists)
    assert checked.value == pytest.approx(8 / 15) and checked.n_items == 2


@pytest.mark.parametrize(
    "table",
    [
        [],
        [[grade(3)], [grade(8)]],  # one judge
        [[grade(3), None], [None, grade(8)]],  # no answer judged twice
        [[grade(6), grade(6)], [grade(6), grade(6)]],  # no variation
        [[None, None]],
    ],
)
def test_undefined_agreement_is_none(table: list[list[Verdict | None]]) -> None:
    assert agreement(table).value is None


def test_agreement_refuses_ragged_or_mixed_tables() -> None:
    with pytest.raises(ValueError, match="one entry per judge"):
        agreement([[grade(1), grade(2)], [grade(1)]])
    with pytest.raises(ValueError, match="different kinds"):
        agreement([[grade(1), rubric(True)]])


def test_agreement_of_aggregated_grades_uses_their_values() -> None:
    halves = Verdict(kind="grade", value=0.75)  # a jury's mean of 7 and 8: no whole grade
    table = [[grade(7), halves], [grade(8), grade(8)], [grade(2), grade(2)]]
    value = agreement(table).value
    assert value is not None and 0 < value < 1


def test_agreement_refuses_verdicts_it_cannot_measure() -> None:
    with pytest.raises(ValueError, match="pairwise verdict without a winner"):
        agreement([[pair("a"), Verdict(kind="pairwise")]])
    with pytest.raises(ValueError, match="different numbers of items: 1, 2"):
        agreement([[checklist(True), checklist(True, False)]])
