"""The multi-turn `instructions` scorer: accumulating, replaced, removed and global instructions."""

from __future__ import annotations

from pathlib import Path

import pytest

from turnscope.core import Item
from turnscope.scorers import TurnView, score_turn
from turnscope.scorers.instructions import instructions_in_force
from turnscope.suites import SuiteError, load_suite_file

SUITE = """
- id: accumulate
  turns:
    - user: "Describe a harbour without commas."
      scorers: [{type: instructions, add: [{id: "punctuation:no_comma"}]}]
    - user: "Also write in capitals."
      scorers: [{type: instructions, add: [{id: "change_case:english_capital"}]}]
    - user: "Drop the capitals and mention the word rope at least twice."
      scorers:
        - type: instructions
          remove: ["change_case:english_capital"]
          add: [{id: "keywords:frequency", kwargs: {keyword: rope, frequency: 2,
                 relation: "at least"}}]
    - user: "Now mention rope at least three times."
      scorers:
        - type: instructions
          add: [{id: "keywords:frequency", kwargs: {keyword: rope, frequency: 3,
                 relation: "at least"}}]
- id: repeated
  turns:
    - user: "Write at least 6 and less than 9 words."
      scorers:
        - type: instructions
          add:
            - {id: "length_constraints:number_words", kwargs: {num_words: 6, relation: "at least"}}
            - {id: "length_constraints:number_words", kwargs: {num_words: 9, relation: "less than"}}
    - user: "Now at least 3 words."
      scorers:
        - type: instructions
          add:
            - {id: "length_constraints:number_words", kwargs: {num_words: 3, relation: "at least"}}
- id: backtracking
  turns:
    - user: "Say a."
      scorers:
        - type: instructions
          add: [{id: "keywords:existence", kwargs: {keywords: ["(a|aa)+$"]}}]
- id: global
  system: "Be brief."
  turns:
    - user: "From now on never use commas. Say hi."
      scorers: [{type: instructions, add: [{id: "punctuation:no_comma"}]}]
    - user: "Name two fruits."
      scorers: [{type: instructions}]
    - user: "Name two colours."
      scorers: [{type: instructions}]
"""


@pytest.fixture
def items(tmp_path: Path) -> dict[str, Item]:
    path = tmp_path / "s.yaml"
    path.write_text(SUITE, encoding="utf-8")
    return {item.id: item for item in load_suite_file(path).suite.items}


def score(item: Item, turn: int, response: str) -> tuple[float | None, list[tuple[str, bool]]]:
    view = TurnView(item=item, turn=turn, response=response, history=(), condition="own")
    (result,) = score_turn(view, item.turns[turn - 1].scorers)
    assert result.error is None
    return result.value, [(c.name, c.passed) for c in result.checks]


def test_instructions_accumulate_are_removed_and_replaced(items: dict[str, Item]) -> None:
    item = items["accumulate"]
    names = [[e.spec.id for e in instructions_in_force(item, t)] for t in (1, 2, 3, 4)]
    assert names[0] == ["punctuation:no_comma"]
    assert names[1] == ["punctuation:no_comma", "change_case:english_capital"]
    assert names[2] == ["punctuation:no_comma", "keywords:frequency"]
    assert names[3] == ["punctuation:no_comma", "keywords:frequency"]
    replaced = instructions_in_force(item, 4)[1]
    assert replaced.spec.kwargs["frequency"] == 3 and replaced.since_turn == 4

    assert score(item, 2, "A QUIET HARBOUR. BOATS REST.") == (
        1.0,
        [("punctuation:no_comma", True), ("change_case:english_capital", True)],
    )
    assert score(item, 2, "A quiet harbour, boats rest.") == (
        0.0,
        [("punctuation:no_comma", False), ("change_case:english_capital", False)],
    )
    value, checks = score(item, 3, "The rope and the rope hold the boat")
    assert value == 1.0 and checks == [("punctuation:no_comma", True), ("keywords:frequency", True)]
    value, _ = score(item, 4, "The rope and the rope hold the boat")
    assert value == 0.5  # the replaced instruction now asks for three


def test_a_global_instruction_binds_every_later_answer(items: dict[str, Item]) -> None:
    item = items["global"]
    assert score(item, 3, "Red and blue")[0] == 1.0
    value, checks = score(item, 3, "Red, blue")
    assert value == 0.0 and checks == [("punctuation:no_comma", False)]
    view = TurnView(item=item, turn=3, response="Red, blue", history=(), condition="own")
    (result,) = score_turn(view, item.turns[2].scorers)
    assert result.checks[0].since_turn == 1
    assert "failed: punctuation:no_comma" in (result.detail or "")


def test_loose_mode_is_recorded_beside_strict(items: dict[str, Item]) -> None:
    item = items["global"]
    view = TurnView(
        item=item,
        turn=2,
        response="Sure, here you go:\nApple and pear",
        history=(),
        condition="own",
    )
    (result,) = score_turn(view, item.turns[1].scorers)
    (only,) = result.checks
    assert only.passed is False and only.passed_loose is True  # first line dropped in loose


@pytest.mark.parametrize(
    ("instruction", "message"),
    [
        ('{id: "keywords:telepathy"}', "keywords:telepathy"),
        ('{id: "keywords:frequency", kwargs: {keyword: rope}}', "frequency"),
        ('{id: "punctuation:no_comma", kwargs: {colour: red}}', "colour"),
    ],
)
def test_bad_instructions_name_item_turn_and_instruction(
    tmp_path: Path, instruction: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "- id: broken\n  turns:\n    - user: hi\n    - user: there\n"
        f"      scorers: [{{type: instructions, add: [{instruction}]}}]\n",
        encoding="utf-8",
    )
    with pytest.raises(SuiteError) as caught:
        load_suite_file(path)
    text = str(caught.value)
    assert "bad.yaml:5" in text and "item 'broken'" in text and "turns.1.scorers.0" in text
    assert message in text
    assert "\n" not in text


def test_one_turn_may_give_the_same_instruction_twice(items: dict[str, Item]) -> None:
    item = items["repeated"]
    in_force = [(e.spec.kwargs["num_words"], e.since_turn) for e in instructions_in_force(item, 1)]
    assert in_force == [(6, 1), (9, 1)]
    assert score(item, 1, "one two three four five six seven")[0] == 1.0
    assert score(item, 1, "one two three four five six seven eight nine ten")[0] == 0.5
    assert score(item, 1, "one two three")[0] == 0.5
    # A later turn's instruction with the same id replaces both.
    assert [e.spec.kwargs["num_words"] for e in instructions_in_force(item, 2)] == [3]


def test_a_keyword_regex_that_runs_too_long_is_an_error(items: dict[str, Item]) -> None:
    item = items["backtracking"]
    view = TurnView(item=item, turn=1, response="a" * 40 + "!", history=(), condition="own")
    (result,) = score_turn(view, item.turns[0].scorers)
    assert result.value is None and result.error is not None
    assert "ran longer than" in result.error
