from __future__ import annotations

import time

import pytest

from turnscope.core import Item, ScorerSpec, Turn
from turnscope.scorers import TurnView, build_scorer, extract_numbers, normalise, score_turn
from turnscope.scorers.base import ScorerConfigError, ScorerParams, register_scorer
from turnscope.scorers.patterns import MATCH_TIMEOUT_S


def view(response: str, reference: str | None = None) -> TurnView:
    item = Item(id="i", turns=(Turn(user="q", reference=reference),))
    return TurnView(item=item, turn=1, response=response, history=(), condition="own")


def value(spec: dict[str, object], response: str, reference: str | None = None) -> float | None:
    scorer = build_scorer(ScorerSpec.model_validate(spec), reference)
    return scorer.score(view(response, reference)).value


def test_exact() -> None:
    assert value({"type": "exact"}, "  Paris \n", "Paris") == 1.0
    assert value({"type": "exact"}, "paris", "Paris") == 0.0
    assert value({"type": "exact", "case_sensitive": False}, "paris", "Paris") == 1.0
    assert value({"type": "exact", "expected": "Rome"}, "Rome", "Paris") == 1.0


def test_normalised() -> None:
    assert normalise("The  Eiffel Tower!") == "eiffel tower"
    assert value({"type": "normalised"}, "the eiffel tower.", "Eiffel Tower") == 1.0
    assert value({"type": "normalised"}, "eiffel towers", "Eiffel Tower") == 0.0


def test_contains_all_is_a_share_and_any_is_binary() -> None:
    spec = {"type": "contains", "value": ["eggs", "milk", "flour", "butter"]}
    assert value(spec, "Eggs and MILK") == 0.5
    assert value({**spec, "mode": "any"}, "just milk") == 1.0
    assert value({**spec, "mode": "any"}, "nothing") == 0.0
    assert value({"type": "contains", "case_sensitive": True}, "ok", "OK") == 0.0
    assert value({"type": "contains"}, "It is Lisbon.", "Lisbon") == 1.0


def test_regex() -> None:
    assert value({"type": "regex", "pattern": r"^\d+$"}, "42") == 1.0
    assert value({"type": "regex", "pattern": "[a-z]", "must_match": False}, "HOT") == 1.0
    assert value({"type": "regex", "pattern": "[a-z]", "must_match": False}, "Hot") == 0.0
    assert value({"type": "regex", "pattern": "yes", "ignore_case": True}, "YES") == 1.0


# (a|aa)+$ backtracks exponentially on the regex engine too; (a+)+$ (the example)
# blocks the stdlib engine but not the `regex` one.
BACKTRACKING = "a" * 40 + "!"


def test_a_regex_that_runs_too_long_is_an_error_not_a_score() -> None:
    spec = ScorerSpec.model_validate({"type": "regex", "pattern": "(a|aa)+$"})
    started = time.monotonic()
    (result,) = score_turn(view(BACKTRACKING), (spec,))
    assert time.monotonic() - started < MATCH_TIMEOUT_S + 5
    assert result.value is None
    assert result.error is not None and "ran longer than" in result.error
    assert value({"type": "regex", "pattern": "(a+)+$"}, BACKTRACKING) == 0.0


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("a{99999999999}", "repetition number is too large"),
        ("(?:x{65535}){100}", "too large to compile"),
        ("(", "bad syntax"),
        ("x" * 10_001, "at most 10000"),
    ],
)
def test_regex_patterns_are_bounded_when_loaded(pattern: str, problem: str) -> None:
    started = time.monotonic()
    with pytest.raises(ScorerConfigError, match="invalid regular expression") as raised:
        build_scorer(ScorerSpec.model_validate({"type": "regex", "pattern": pattern}), None)
    assert problem in str(raised.value)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("12 + 30 = 42.", [12.0, 30.0, 42.0]),
        ("It costs 1,234.50 dollars", [1234.5]),
        ("minus -3 and .5 and 2e3", [-3.0, 0.5, 2000.0]),
        ("no numbers here", []),
        ("version v2", []),
        # A bare exponent is no number, and the digits after its sign are not one either.
        ("e5, E+36 and -e2 then 7", [7.0]),
        ("x,E+36a-6", [6.0]),
    ],
)
def test_extract_numbers(text: str, numbers: list[float]) -> None:
    assert extract_numbers(text) == numbers


def test_numeric() -> None:
    assert value({"type": "numeric"}, "12 + 30 = 42", "42") == 1.0
    assert value({"type": "numeric"}, "42 is not it, 41 is", "42") == 0.0
    assert value({"type": "numeric", "pick": "any"}, "42 is not it, 41 is", "42") == 1.0
    assert value({"type": "numeric", "pick": "first"}, "42 then 41", "42") == 1.0
    assert value({"type": "numeric", "expected": 3.14, "abs_tol": 0.01}, "about 3.141") == 1.0
    assert value({"type": "numeric", "expected": 100, "rel_tol": 0.05}, "104") == 1.0
    assert value({"type": "numeric"}, "I do not know", "7") == 0.0


class _BoomParams(ScorerParams):
    pass


class _Boom:
    name = "boom"

    def score(self, view: TurnView) -> object:
        raise RuntimeError("checker crashed")


@register_scorer("test-boom", _BoomParams, summary="raises, for the test")
def _make_boom(params: _BoomParams, reference: str | None) -> _Boom:
    return _Boom()


def test_a_failing_scorer_yields_an_error_never_a_score() -> None:
    specs = (
        ScorerSpec(type="test-boom"),
        ScorerSpec.model_validate({"type": "contains", "value": "x"}),
    )
    scores = score_turn(view("x"), specs)
    assert scores[0].value is None
    assert scores[0].error == "RuntimeError: checker crashed"
    assert scores[1].value == 1.0 and scores[1].error is None
