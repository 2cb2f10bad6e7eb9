"""The own_answer scorer reads the model's own earlier answer from the history."""

from __future__ import annotations

import pytest

from turnscope.core import Item, Message, ScorerSpec
from turnscope.scorers import ScorerConfigError, TurnView, build_scorer, score_turn
from turnscope.scorers.own_answer import list_entries

ITEM = Item.model_validate(
    {
        "id": "f",
        "turns": [
            {"user": "Name four fruits as a numbered list."},
            {"user": "What is 2 plus 2?"},
            {"user": "Which was the third entry of your list?"},
        ],
    }
)


def view(first_answer: str | None, response: str, variant: str = "own") -> TurnView:
    history: list[Message] = [Message(role="user", content="Name four fruits.")]
    if first_answer is not None:
        history += [
            Message(role="assistant", content=first_answer),
            Message(role="user", content="What is 2 plus 2?"),
            Message(role="assistant", content="4"),
        ]
    history.append(Message(role="user", content="Which was the third entry?"))
    shows = variant not in ("single", "user-only")
    return TurnView(ITEM, 3, response, tuple(history), variant, shows_answers=shows)


def spec(**params: object) -> tuple[ScorerSpec, ...]:
    return (ScorerSpec.model_validate({"type": "own_answer", "turn": 1, **params}),)


@pytest.mark.parametrize(
    ("answer", "entries"),
    [
        (
            "1. Mango\n2. **Kiwi**\n3. Star fruit: sweet\n4) Fig",
            ["Mango", "Kiwi", "Star fruit", "Fig"],
        ),
        ("Sure!\n- pear - green\n- plum (purple)\n* lime", ["pear", "plum", "lime"]),
        ("apple\nbanana\n\ncherry", ["apple", "banana", "cherry"]),
        ("apple, banana, cherry.", ["apple", "banana", "cherry"]),
        ("", []),
    ],
)
def test_list_entries(answer: str, entries: list[str]) -> None:
    assert list_entries(answer) == entries


def test_list_item_is_checked_against_the_models_own_list() -> None:
    own = "1. Mango\n2. Kiwi\n3. Star fruit\n4. Fig"
    (score,) = score_turn(view(own, "Star fruit."), spec(extract="list_item", index=3))
    assert score.value == 1.0 and "'Star fruit'" in (score.detail or "")
    (score,) = score_turn(view(own, "Kiwi"), spec(extract="list_item", index=3))
    assert score.value == 0.0
    # A word inside another word does not count: "fig" is not in "figure".
    (score,) = score_turn(view(own, "a figure"), spec(extract="list_item", index=4))
    assert score.value == 0.0


def test_list_length_and_number_with_arithmetic() -> None:
    (score,) = score_turn(view("1. a\n2. b\n3. c", "3"), spec(extract="list_length"))
    assert score.value == 1.0
    (score,) = score_turn(view("I pick 23.", "The result is 30"), spec(extract="number", add=7))
    assert score.value == 1.0
    (score,) = score_turn(view("I pick 23.", "46"), spec(extract="number", times=2))
    assert score.value == 1.0
    (score,) = score_turn(view("I pick 23.", "45"), spec(extract="number", times=2))
    assert score.value == 0.0 and "expected 46" in (score.detail or "")
    (score,) = score_turn(view("I pick 23.", "no idea"), spec(extract="number"))
    assert score.value == 0.0 and "no number" in (score.detail or "")


def test_unusable_earlier_answer_is_an_error_not_a_score() -> None:
    (score,) = score_turn(view("1. a\n2. b", "b"), spec(extract="list_item", index=3))
    assert score.value is None and "lists 2 entries, so it has no entry 3" in (score.error or "")
    (score,) = score_turn(view("no digits here", "5"), spec(extract="number"))
    assert score.value is None and "holds no number" in (score.error or "")
    (score,) = score_turn(view("", "5"), spec(extract="list_length"))
    assert score.value is None and "holds no list" in (score.error or "")


def test_single_turn_twin_is_not_scored_and_not_an_error() -> None:
    (score,) = score_turn(view(None, "Kiwi", "single"), spec(extract="list_item", index=3))
    assert score.value is None and score.error is None
    assert "the single history holds no earlier answer" in (score.detail or "")
    (score,) = score_turn(view(None, "Kiwi", "user-only"), spec(extract="list_item", index=3))
    assert score.value is None and score.error is None
    (score,) = score_turn(view(None, "Kiwi"), spec(extract="list_item", index=3))
    assert score.error is not None and "no answer to turn 1" in score.error


def test_asking_about_a_later_turn_is_an_error() -> None:
    specs = (ScorerSpec.model_validate({"type": "own_answer", "turn": 3, "extract": "number"}),)
    (score,) = score_turn(view("1", "1"), specs)
    assert score.error is not None and "cannot ask about later turn 3" in score.error


def test_bad_params_are_config_errors() -> None:
    with pytest.raises(ScorerConfigError, match="'index' is required"):
        build_scorer(spec(extract="list_item")[0], None)
    with pytest.raises(ScorerConfigError, match="'index' is required"):
        build_scorer(spec(extract="number", index=2)[0], None)
    with pytest.raises(ScorerConfigError, match="turn"):
        build_scorer(ScorerSpec.model_validate({"type": "own_answer", "extract": "number"}), None)
