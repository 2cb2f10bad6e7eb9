"""global-instruction: a rule given once at turn 1 must hold for every later answer, while
each turn also asks a question of its own. Checked with the `instructions` scorer (a bare
spec on each later turn checks everything in force) plus the question's own scorer."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from turnscope.suites.builtin._base import Draft, Knobs, register_generator, turn
from turnscope.suites.builtin._tasks import distractor
from turnscope.suites.builtin._texts import GLOBAL_END_WORDS, GLOBAL_KEYWORDS


@dataclass(frozen=True)
class Rule:
    """A verifiable instruction for the whole conversation, and an answer that follows it."""

    id: str
    kwargs: dict[str, Any]
    phrase: str
    apply: Callable[[str], str]


def _end_word(rng: random.Random) -> Rule:
    word = rng.choice(GLOBAL_END_WORDS)
    return Rule(
        "startend:end_checker",
        {"end_phrase": word},
        f'end every answer with "{word}"',
        lambda answer: f"{answer} {word}",
    )


def _quotes(rng: random.Random) -> Rule:
    return Rule(
        "startend:quotation",
        {},
        "put every answer inside double quotation marks",
        lambda answer: f'"{answer}"',
    )


def _title(rng: random.Random) -> Rule:
    return Rule(
        "detectable_format:title",
        {},
        "start every answer with a title in double angle brackets, such as <<Answer>>",
        lambda answer: f"<<Answer>>\n{answer}",
    )


def _postscript(rng: random.Random) -> Rule:
    return Rule(
        "detectable_content:postscript",
        {"postscript_marker": "P.S."},
        'finish every answer with a postscript that starts with "P.S."',
        lambda answer: f"{answer}\nP.S. Ask me anything else.",
    )


def _keyword(rng: random.Random) -> Rule:
    word = rng.choice(GLOBAL_KEYWORDS)
    return Rule(
        "keywords:existence",
        {"keywords": [word]},
        f'include the word "{word}" in every answer',
        lambda answer: f"{answer} {word}",
    )


RULES: tuple[Callable[[random.Random], Rule], ...] = (
    _end_word,
    _quotes,
    _title,
    _postscript,
    _keyword,
)
OPENING = (
    "For the rest of our conversation, {phrase}. This applies to every answer from now on, "
    "even when a question asks for a short reply. First question: {question}"
)


class GlobalInstruction:
    """Turn 1 gives the rule and a first question; turns 2 .. n are questions only.
    Knobs: turns (>= 2). Probe turns: 2 .. n (the answers after the rule was given)."""

    family = "global-instruction"

    def generate(self, rng: random.Random, knobs: Knobs) -> Draft:
        if knobs.turns < 2:
            raise ValueError("global-instruction: needs at least 2 turns")
        rule = rng.choice(RULES)(rng)
        turns = []
        for index in range(1, knobs.turns + 1):
            task = distractor(rng)
            if index == 1:
                prompt = OPENING.format(phrase=rule.phrase, question=task.prompt)
                spec: dict[str, Any] = {
                    "type": "instructions",
                    "add": [{"id": rule.id, "kwargs": rule.kwargs}],
                }
            else:
                prompt, spec = task.prompt, {"type": "instructions"}
            turns.append(turn(prompt, rule.apply(task.answer), [spec, *task.scorers]))
        return Draft(
            turns,
            {
                "turns": knobs.turns,
                "probe_turns": list(range(2, knobs.turns + 1)),
                "instruction": rule.id,
            },
        )


register_generator(GlobalInstruction())
