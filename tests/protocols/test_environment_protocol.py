"""The environment protocol (a hidden rule found by testing it) and the safe rule evaluator
that reads both the hidden rule and the rule a model states.

The model is scripted (tests/helpers/scripted.py) where exact tests and tool calls are needed;
the embedded model plays generated hidden-rule items in tests/e2e/test_tools_embedded.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helpers.scripted import ScriptedModel, calls, forget_turns_after, item, new_run, play
from turnscope.core import Item, TurnRecord, content_text
from turnscope.protocols import RuleError, check_protocols, parse_rule
from turnscope.protocols.rules import agreement


def rule_item(key: str, rule: str = "x < y < z", budget: int = 5, **setup: Any) -> Item:
    return item(
        {
            "id": key,
            "protocol": "environment",
            "setup": {
                "budget": budget,
                "rule": rule,
                "held_out": [[1, 2, 3], [3, 2, 1], [0, 0, 0], [-5, 0, 5], [2, 9, 4]],
                **setup,
            },
            "turns": [{"user": f"{key}: find the rule."}],
        }
    )


def target(store: Any, key: str) -> list[TurnRecord]:
    return [r for r in store.records() if r.item_id == key]


def shown(record: TurnRecord) -> str:
    return "\n".join(content_text(m.content) for m in record.new_messages)


async def test_tests_are_answered_counted_and_repeats_flagged(tmp_path: Path) -> None:
    model = ScriptedModel(
        {
            "inc": [
                "<test>1, 2, 3</test> and <test>3, 2, 1</test>",
                "<test>1, 2, 3</test>",
                "<test>1, 2</test>",
                "<solution>x < y and y < z</solution>",
            ]
        }
    )
    store = new_run(tmp_path, [rule_item("inc")], ["env"])
    await play(store, model)
    records = target(store, "inc")
    assert [r.turn for r in records] == [1, 2, 3, 4]
    assert "test(1, 2, 3) = True" in shown(records[1])
    assert "test(3, 2, 1) = False" in shown(records[1])
    assert records[1].flags == ("env:query", "env:query")
    assert records[2].flags == ("env:query", "env:repeated-query")
    assert "tool:bad-arguments" in records[3].flags and "exactly three numbers" in shown(records[3])
    assert records[3].score == 1.0
    assert records[3].scores[0].detail == "agrees on 5 of 5 held-out cases"
    # No model-written text ever became a sandbox: the environment needs none.
    assert model.requests[0][1].stop[-2:] == ("</test>", "</solution>")


async def test_a_wrong_or_unreadable_rule_scores_zero_with_the_reason(tmp_path: Path) -> None:
    model = ScriptedModel(
        {
            "wrong": ["<solution>x < z</solution>", "<solution>__import__('os').system('x')"],
        }
    )
    store = new_run(tmp_path, [rule_item("wrong", budget=2)], ["env"])
    await play(store, model)
    first, second = target(store, "wrong")
    assert first.score == 0.0 and "first disagreement at (2, 9, 4)" in (
        first.scores[0].detail or ""
    )
    assert second.score == 0.0 and "not a rule that can be checked" in (
        second.scores[0].detail or ""
    )
    assert "Your solution is not correct." in shown(second)


async def test_the_tools_api_test_tool_and_resume(tmp_path: Path) -> None:
    script = {
        "api": [
            calls(("test", json.dumps({"x": 1, "y": 2, "z": 3}))),
            calls(("test", json.dumps({"x": 1, "y": 2, "z": 3})), ("test", '{"x": "a"}')),
            calls(("test", json.dumps({"x": 4, "y": 5, "z": 6}))),
            "<solution>lambda a, b, c: a < b < c</solution>",
        ]
    }
    store = new_run(tmp_path, [rule_item("api", interface="api")], ["env"])
    await play(store, ScriptedModel(script))
    store = forget_turns_after(store, 2)
    again = ScriptedModel(script)
    await play(store, again)
    assert again.requests_for("api") == [3, 4]
    records = target(store, "api")
    # Turn 1's test was made again to know what had been asked: turn 2's repeat is still one.
    assert records[2].flags == ("env:query", "env:repeated-query", "tool:bad-arguments")
    assert "sandbox:replayed" not in records[2].flags
    assert records[3].score == 1.0


def test_environment_items_are_checked_when_the_suite_loads() -> None:
    with pytest.raises(ValueError, match="not a rule"):
        check_protocols([rule_item("bad", rule="open('/etc/passwd')")])
    with pytest.raises(ValueError, match="held_out"):
        check_protocols(
            [
                item(
                    {
                        "id": "h",
                        "protocol": "environment",
                        "setup": {"rule": "x > 0", "held_out": []},
                        "turns": [{"user": "t"}],
                    }
                )
            ]
        )


@pytest.mark.parametrize(
    ("rule", "case", "verdict"),
    [
        ("x < y < z", (1, 2, 3), True),
        ("x < y < z", (1, 3, 2), False),
        ("(x + y + z) % 2 == 0", (1, 2, 3), True),
        ("max(x, y, z) - min(x, y, z) <= 4", (1, 9, 3), False),
        ("abs(x - y) == z", (5, 2, 3), True),
        ("x if y else z", (0, 1, 7), False),
        ("not x >= y", (1, 2, 0), True),
        ("lambda p, q, r: p * q > r", (2, 3, 5), True),
        ("`x > 0`", (1, 0, 0), True),
        ("x ** 2 + y ** 2 == z ** 2", (3, 4, 5), True),
    ],
)
def test_rules_evaluate(rule: str, case: tuple[int, int, int], verdict: bool) -> None:
    assert parse_rule(rule)(*case) is verdict


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("__import__('os').system('true')", "may be called"),
        ("x.__class__", "'Attribute' is not allowed"),
        ("[c for c in ()]", "is not allowed"),
        ("w > 0", "unknown name 'w'"),
        ("'a' < 'b'", "only numbers"),
        ("max", "may only be called"),
        ("x +", "not a valid expression"),
        ("x" + " + x" * 200, "longer than"),
        ("lambda a, b: a", "exactly three parameters"),
        ("1e300 > x", "too large"),
        ("", "empty"),
    ],
)
def test_unsafe_or_unreadable_rules_are_refused(rule: str, reason: str) -> None:
    with pytest.raises(RuleError, match=reason):
        parse_rule(rule)


@pytest.mark.parametrize("rule", ["9 ** 9 ** 9 > x", "x / (y - y) > 0", "(x * 10**6) ** 12 > 0"])
def test_out_of_bound_evaluations_fail_instead_of_hanging(rule: str) -> None:
    with pytest.raises(RuleError):
        parse_rule(rule)(1, 2, 3)


def test_a_guess_that_fails_on_a_case_disagrees_there() -> None:
    truth = parse_rule("x < y")
    guess = parse_rule("x / y < 1")
    agreed, wrong = agreement(guess, truth, [(1, 2, 0), (1, 0, 0), (3, 2, 0)])
    assert agreed == 2 and wrong == [(1, 0, 0)]
