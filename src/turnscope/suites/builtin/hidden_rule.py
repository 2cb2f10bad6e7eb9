"""hidden-rule: find a hidden rule over three numbers by testing it, then state it (the
environment protocol, in the manner of WILT). The rule templates are our own, in three levels:
one comparison or a parity (1), an order or a sum relation of all three (2), two conditions
combined or a product (3). The stated rule is checked by code on held-out cases, half of them
True and half False where the rule allows, so neither "always True" nor "always False" passes.

Knobs: level (1-3) and budget (the turn budget k)."""

from __future__ import annotations

import random
from collections.abc import Callable

from turnscope.protocols.environment import EnvironmentSetup
from turnscope.protocols.rules import parse_rule
from turnscope.suites.builtin._base import Draft, Knobs, register_generator, turn

HELD_OUT = 40
"""Held-out cases per item."""
SPAN = 20
"""Held-out numbers are whole numbers in [-SPAN, SPAN]."""

TASK = (
    "Find the hidden rule. Test it on any three numbers you like (whole numbers are easiest); "
    "when you are sure, state it as a Python expression over x, y and z."
)

Template = Callable[[random.Random], str]


def _level_one(rng: random.Random) -> str:
    a, b = rng.sample("xyz", 2)
    return rng.choice(
        [
            f"{a} < {b}",
            f"{a} >= {b}",
            f"{a} % 2 == 0",
            f"{a} > {rng.randint(-3, 5)}",
        ]
    )


def _level_two(rng: random.Random) -> str:
    a, b, c = rng.sample("xyz", 3)
    m = rng.choice((3, 4, 5))
    return rng.choice(
        [
            f"{a} < {b} < {c}",
            f"{a} + {b} > {c}",
            f"({a} + {b} + {c}) % {m} == 0",
            f"max({a}, {b}, {c}) == {b}",
            f"abs({a} - {b}) <= {rng.randint(1, 4)}",
        ]
    )


def _level_three(rng: random.Random) -> str:
    a, b, c = rng.sample("xyz", 3)
    m = rng.choice((2, 3))
    return rng.choice(
        [
            f"{a} < {b} and {c} % {m} == 1",
            f"{a} * {b} > {c}",
            f"({a} + {b}) % 4 == {c} % 4",
            f"{a} == {b} or {b} == {c}",
            f"{a} + {b} == {c}",
        ]
    )


LEVELS: dict[int, Template] = {1: _level_one, 2: _level_two, 3: _level_three}


def held_out_cases(rng: random.Random, rule: str) -> list[list[int]]:
    """HELD_OUT cases, half where the rule says True and half False when enough of both turn
    up among a few thousand random draws (a rare answer is kept whenever it is found)."""
    check = parse_rule(rule)
    true: list[list[int]] = []
    false: list[list[int]] = []
    half = HELD_OUT // 2
    for _ in range(4000):
        case = [rng.randint(-SPAN, SPAN) for _ in range(3)]
        bucket = true if check(*case) else false
        if len(bucket) < half and case not in bucket:
            bucket.append(case)
        if len(true) == half and len(false) == half:
            break
    cases = true + false
    rng.shuffle(cases)
    return cases


class HiddenRule:
    """One hidden rule, played by the environment protocol with a turn budget."""

    family = "hidden-rule"

    def generate(self, rng: random.Random, knobs: Knobs) -> Draft:
        rule = LEVELS[knobs.level](rng)
        setup = EnvironmentSetup(
            budget=knobs.budget,
            rule=rule,
            held_out=tuple((x, y, z) for x, y, z in held_out_cases(rng, rule)),
        )
        return Draft(
            [turn(TASK, rule)],
            {"level": knobs.level, "budget": knobs.budget},
            protocol="environment",
            setup=setup.model_dump(mode="json", exclude_defaults=True),
        )


register_generator(HiddenRule())
