"""Bradley–Terry ratings: recovery of known strengths, ties, intervals, bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from turnscope.analysis import PairOutcome, RatingError, bradley_terry

TRUTH = {"alpha": 1200.0, "bravo": 1100.0, "charlie": 1000.0, "delta": 900.0, "echo": 800.0}


def _tournament(items: int, seed: int, truth: dict[str, float] = TRUTH) -> list[PairOutcome]:
    """Every pair of models meets once per item; the winner is drawn from the true odds."""
    rng = np.random.default_rng(seed)
    names = list(truth)
    outcomes = []
    for item in range(items):
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                p_a = 1.0 / (1.0 + 10 ** ((truth[b] - truth[a]) / 400))
                outcomes.append(
                    PairOutcome(
                        item_id=f"item-{item}",
                        turn=1,
                        model_a=a,
                        model_b=b,
                        outcome="a" if rng.random() < p_a else "b",
                    )
                )
    return outcomes


def _outcome(a: str, b: str, outcome: str, item: str = "i1", turn: int = 1) -> PairOutcome:
    return PairOutcome.model_validate(
        {"item_id": item, "turn": turn, "model_a": a, "model_b": b, "outcome": outcome}
    )


def test_recovers_known_strengths_with_intervals_that_cover_them() -> None:
    ratings = bradley_terry(_tournament(400, seed=1), bootstrap=500, seed=3)
    assert [r.model for r in ratings] == list(TRUTH)  # best first, the true order
    assert math.isclose(sum(r.rating for r in ratings) / len(ratings), 1000.0, abs_tol=1e-6)
    for r in ratings:
        assert abs(r.rating - TRUTH[r.model]) < 30, r
        assert r.low < TRUTH[r.model] < r.high, r
        assert r.low < r.rating < r.high
        assert 15 < r.high - r.low < 80  # 1600 games per model: intervals of a few dozen points
        assert r.comparisons == r.wins + r.losses == 1600
        assert r.ties == 0


def test_intervals_cover_the_truth_about_95_percent_of_the_time() -> None:
    covered = total = 0
    for seed in range(20):
        for r in bradley_terry(_tournament(60, seed=100 + seed), bootstrap=300, seed=seed):
            covered += r.low <= TRUTH[r.model] <= r.high
            total += 1
    assert covered / total >= 0.88, f"coverage {covered}/{total}"


def test_same_seed_same_intervals_and_no_bootstrap_gives_a_point() -> None:
    outcomes = _tournament(30, seed=5)
    first = bradley_terry(outcomes, bootstrap=200, seed=7)
    assert first == bradley_terry(outcomes, bootstrap=200, seed=7)
    assert first != bradley_terry(outcomes, bootstrap=200, seed=8)
    point = bradley_terry(outcomes, bootstrap=0)
    assert [(r.model, r.rating) for r in point] == [(r.model, r.rating) for r in first]
    assert all(r.low == r.rating == r.high for r in point)


def test_resampling_is_by_item_not_by_outcome() -> None:
    """Ten verdicts that share an item carry less evidence than ten items with one verdict."""
    base = _tournament(40, seed=9)
    spread = [o.model_copy(update={"item_id": f"{o.item_id}-{k}"}) for o in base for k in range(10)]
    clustered = [o.model_copy(update={"turn": k + 1}) for o in base for k in range(10)]
    width = {
        name: {r.model: r.high - r.low for r in bradley_terry(data, bootstrap=300)}
        for name, data in (("spread", spread), ("clustered", clustered))
    }
    for model in TRUTH:
        assert width["clustered"][model] > 2 * width["spread"][model]


def test_a_tie_is_half_a_win_for_each_side() -> None:
    outcomes = [_outcome("a", "b", "a", "i1"), _outcome("a", "b", "tie", "i2")]
    ratings = bradley_terry(outcomes, bootstrap=0, prior=1e-9)
    by_model = {r.model: r for r in ratings}
    # 1.5 wins against 0.5: odds 3 to 1.
    gap = by_model["a"].rating - by_model["b"].rating
    assert math.isclose(gap, 400 * math.log10(3), abs_tol=1e-3)
    assert (by_model["a"].wins, by_model["a"].losses, by_model["a"].ties) == (1, 0, 1)
    assert (by_model["b"].wins, by_model["b"].losses, by_model["b"].ties) == (0, 1, 1)
    assert by_model["a"].comparisons == by_model["b"].comparisons == 2


def test_only_ties_rate_everyone_average() -> None:
    outcomes = [
        _outcome(a, b, "tie", f"i{k}") for k in range(5) for a, b in (("x", "y"), ("y", "z"))
    ]
    ratings = bradley_terry(outcomes, bootstrap=100)
    for r in ratings:
        assert math.isclose(r.rating, 1000.0, abs_tol=1e-6)
        assert math.isclose(r.low, 1000.0, abs_tol=1e-6)
        assert math.isclose(r.high, 1000.0, abs_tol=1e-6)
    assert {r.model: r.ties for r in ratings} == {"x": 5, "y": 10, "z": 5}


def test_a_model_that_wins_everything_gets_a_finite_rating() -> None:
    outcomes = [_outcome("strong", "weak", "a", f"i{k}") for k in range(5)]
    ratings = bradley_terry(outcomes, bootstrap=100)
    assert [r.model for r in ratings] == ["strong", "weak"]
    strong, weak = ratings
    assert all(math.isfinite(v) for r in ratings for v in (r.rating, r.low, r.high))
    assert strong.rating > 1200 > 800 > weak.rating
    # The prior's pull fades as the unbroken record grows.
    longer = bradley_terry(
        [_outcome("strong", "weak", "a", f"i{k}") for k in range(50)], bootstrap=0
    )
    assert longer[0].rating > strong.rating


def test_position_of_a_model_in_the_pair_does_not_matter() -> None:
    outcomes = _tournament(20, seed=11)
    swapped = [
        o.model_copy(
            update={
                "model_a": o.model_b,
                "model_b": o.model_a,
                "outcome": {"a": "b", "b": "a", "tie": "tie"}[o.outcome],
            }
        )
        for o in outcomes
    ]
    for r, s in zip(bradley_terry(outcomes), bradley_terry(swapped), strict=True):
        assert r.model == s.model
        assert math.isclose(r.rating, s.rating, abs_tol=1e-6)


@pytest.mark.parametrize(
    ("outcomes", "kwargs", "message"),
    [
        ([], {}, "at least 2 models, got 0"),
        ([_outcome("x", "x", "tie")], {}, "item 'i1' turn 1: model 'x' is compared with itself"),
        ([_outcome("x", "y", "a")], {"models": ["x", "y", "z"]}, "no comparisons for model(s) 'z'"),
        (
            [_outcome("x", "y", "a"), _outcome("z", "w", "tie", "i2"), _outcome("y", "v", "b")],
            {},
            "the comparison graph is disconnected: no comparisons link the groups "
            "{v, x, y}; {w, z}",
        ),
        ([_outcome("x", "y", "a")], {"prior": 0.0}, "prior must be positive"),
        ([_outcome("x", "y", "a")], {"bootstrap": -1}, "bootstrap must be 0 or more"),
    ],
)
def test_bad_inputs_are_named(outcomes: list[PairOutcome], kwargs: dict, message: str) -> None:
    with pytest.raises(RatingError) as caught:
        bradley_terry(outcomes, **kwargs)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_one_model_alone_is_named() -> None:
    with pytest.raises(RatingError, match=r"at least 2 models, got 1 \('solo'\)"):
        bradley_terry([], models=["solo"])


def test_an_unknown_outcome_is_rejected_by_the_model() -> None:
    with pytest.raises(ValueError, match="outcome"):
        _outcome("x", "y", "draw")


def test_agrees_with_a_general_purpose_optimiser() -> None:
    """The same penalised likelihood maximised by scipy's L-BFGS gives the same ratings."""
    optimize = pytest.importorskip("scipy.optimize")
    outcomes = _tournament(15, seed=21)
    outcomes += [_outcome("alpha", "echo", "tie", f"t{k}") for k in range(4)]
    names = sorted(TRUTH)
    index = {n: i for i, n in enumerate(names)}
    wins = np.zeros((len(names), len(names)))
    for o in outcomes:
        a, b = index[o.model_a], index[o.model_b]
        if o.outcome == "tie":
            wins[a, b] += 0.5
            wins[b, a] += 0.5
        else:
            wins[(a, b) if o.outcome == "a" else (b, a)] += 1.0

    def negative_log_likelihood(theta: np.ndarray) -> float:
        diff = theta[:, None] - theta[None, :]
        pairs = float((wins * -np.logaddexp(0.0, -diff)).sum())
        prior = float((0.5 * theta - np.logaddexp(0.0, theta)).sum())  # one game, half won
        return -(pairs + prior)

    theta = optimize.minimize(negative_log_likelihood, np.zeros(len(names)), tol=1e-12).x
    elo = 400 * theta / np.log(10)
    expected = {n: 1000 + e - elo.mean() for n, e in zip(names, elo, strict=True)}
    for r in bradley_terry(outcomes, bootstrap=0):
        assert math.isclose(r.rating, expected[r.model], abs_tol=0.05), (r, expected[r.model])
