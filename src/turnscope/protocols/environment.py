"""The environment protocol: find a hidden rule by experiment (in the manner of WILT).

The item hides a deterministic rule over three numbers x, y, z that answers True or False
(`setup.rule`, an expression such as "x < y < z"; see turnscope.protocols.rules). At every
turn the model tests the rule on numbers of its choice (`<test>1, 2, 3</test>`, or a call to
the `test` tool through the tools API) and sees the verdicts at the next turn, or states the
rule (`<solution>x < y < z</solution>`). A stated rule is checked by code on the item's
held-out cases (`setup.held_out`): it must agree with the hidden rule on every one.

Figures beside success: tests used ("env:query" flags) and tests that repeat an earlier one
("env:repeated-query"). Condition: `env`. Nothing here runs model-written code: both rules are
read by the safe evaluator, so no sandbox is needed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator

from turnscope.core import Condition, Item, Message, Score, ToolSpec
from turnscope.protocols.base import PlayContext, register_protocol
from turnscope.protocols.interactive import (
    Action,
    Episode,
    InteractiveProtocol,
    InteractiveSetup,
    ToolDef,
)
from turnscope.protocols.rules import Number, RuleError, agreement, parse_rule

ENV = "env"
TEST = "test"
MAX_INPUT = 1_000_000
"""Largest absolute value a test may use."""

TEST_TOOL = ToolDef(
    spec=ToolSpec(
        name=TEST,
        description="Apply the hidden rule to three numbers x, y, z; returns True or False.",
        parameters={
            "type": "object",
            "properties": {name: {"type": "number"} for name in ("x", "y", "z")},
            "required": ["x", "y", "z"],
        },
    ),
    tag=TEST,
)

_TAGS = (
    "A hidden rule takes three numbers x, y and z and answers True or False. Find it in at "
    "most {budget} turns. At each turn, think briefly, then do one of two things:\n"
    "- test the rule on three numbers: <test>1, 2, 3</test> (you may write several tests in "
    "one turn). You will see the answers.\n"
    "- state the rule as a Python expression over x, y and z: <solution>x < y and z > 0"
    "</solution>. It is checked on numbers you have not seen, so state it exactly."
)
_API = (
    "A hidden rule takes three numbers x, y and z and answers True or False. Find it in at "
    "most {budget} turns. At each turn, think briefly, then either call the test tool on three "
    "numbers to see the rule's answer, or state the rule as a Python expression over x, y "
    "and z: <solution>x < y and z > 0</solution>. It is checked on numbers you have not seen."
)

_NUMBERS = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _number(value: Any) -> Number | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if abs(value) <= MAX_INPUT else None


def test_inputs(arguments: Mapping[str, Any]) -> tuple[Number, Number, Number] | str:
    """The three numbers of a test (from the API's x, y, z or a tag's text), or why not."""
    if "text" in arguments:
        text = str(arguments["text"])[:200]
        raw: list[Any] = []
        for token in _NUMBERS.findall(text):
            try:
                raw.append(float(token))
            except ValueError:
                raw.append(None)
        if len(raw) != 3:
            return f"a test takes exactly three numbers, e.g. <{TEST}>1, 2, 3</{TEST}>"
    else:
        raw = [arguments.get(name) for name in ("x", "y", "z")]
    values = [_number(v) for v in raw]
    if any(v is None for v in values):
        return f"a test takes three numbers x, y, z, each between -{MAX_INPUT} and {MAX_INPUT}"
    x, y, z = values
    assert x is not None and y is not None and z is not None
    return x, y, z


class EnvironmentSetup(InteractiveSetup):
    """An environment item's `setup`: the hidden rule and the cases a stated rule must pass."""

    rule: str = Field(min_length=1)
    """The hidden rule: an expression over x, y, z (see turnscope.protocols.rules)."""
    held_out: tuple[tuple[Number, Number, Number], ...] = Field(min_length=1, max_length=500)
    """Cases the stated rule is checked on (x, y, z each); the model never sees them."""

    @field_validator("rule")
    @classmethod
    def _readable(cls, value: str) -> str:
        try:
            parse_rule(value)
        except RuleError as exc:
            raise ValueError(f"not a rule: {exc}") from None
        return value


class EnvironmentProtocol(InteractiveProtocol):
    """Find a hidden rule by testing it, then state it."""

    name = "environment"
    conditions: tuple[Condition, ...] = (ENV,)
    setup_model = EnvironmentSetup

    def spec(self, item: Item) -> EnvironmentSetup:
        setup = self.setup(item)
        assert isinstance(setup, EnvironmentSetup)
        return setup

    def check_item(self, item: Item) -> None:
        super().check_item(item)
        if len(item.turns) != 1:
            raise ValueError("field 'turns': an environment item has exactly one turn, the task")

    def tools(self, item: Item, condition: Condition) -> tuple[ToolDef, ...]:
        return (TEST_TOOL,)

    def instructions(self, item: Item, condition: Condition) -> str:
        text = _API if self.interface(item) == "api" else _TAGS
        return text.format(budget=self.budget(item))

    def argument_problem(self, name: str, arguments: Mapping[str, Any]) -> str | None:
        inputs = test_inputs(arguments)
        return inputs if isinstance(inputs, str) else None

    async def answer_call(
        self, item: Item, action: Action, episode: Episode
    ) -> tuple[str, list[str]]:
        inputs = test_inputs(action.arguments)
        assert not isinstance(inputs, str), "parse_move lets only valid tests through"
        key = repr(tuple(float(v) for v in inputs))
        repeated = key in episode.asked
        episode.asked.add(key)
        verdict = parse_rule(self.spec(item).rule)(*inputs)
        x, y, z = inputs
        flags = ["env:query", *(["env:repeated-query"] if repeated else [])]
        return f"test({x}, {y}, {z}) = {verdict}", flags

    async def check_solution(
        self, item: Item, solution: str, ctx: PlayContext, request: tuple[Message, ...]
    ) -> tuple[Score, ...]:
        spec = self.spec(item)
        try:
            guess = parse_rule(solution)
        except RuleError as exc:
            return (
                Score(scorer="rule", value=0.0, detail=f"not a rule that can be checked: {exc}"),
            )
        cases = spec.held_out
        agreed, wrong = agreement(guess, parse_rule(spec.rule), cases)
        detail = f"agrees on {agreed} of {len(cases)} held-out cases"
        if wrong:
            detail += f", first disagreement at {wrong[0]}"
        return (Score(scorer="rule", value=1.0 if not wrong else 0.0, detail=detail),)


register_protocol(EnvironmentProtocol())
