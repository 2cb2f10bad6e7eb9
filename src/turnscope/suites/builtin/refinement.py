"""refinement: one writing task, refined turn by turn; every constraint added so far must hold
in each rewrite. Checked with the IFEval-family checkers (scorer `instructions`)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from turnscope.scorers.ifeval import check
from turnscope.suites.builtin._base import Draft, Knobs, register_generator, turn
from turnscope.suites.builtin._texts import (
    END_PHRASES,
    FORBIDDEN_WORDS,
    NOTE_KEYWORDS,
    NOTE_TOPICS,
    TITLES,
)


@dataclass(frozen=True)
class Constraint:
    """One verifiable instruction and how the user words it."""

    id: str
    kwargs: dict[str, Any]
    phrase: str


def _keyword(rng: random.Random) -> Constraint:
    word = rng.choice(NOTE_KEYWORDS)
    return Constraint(
        "keywords:existence", {"keywords": [word]}, f'Mention the word "{word}" somewhere in it.'
    )


def _no_comma(rng: random.Random) -> Constraint:
    return Constraint("punctuation:no_comma", {}, "Do not use any commas.")


def _word_limit(rng: random.Random) -> Constraint:
    limit = rng.randrange(35, 60, 5)
    return Constraint(
        "length_constraints:number_words",
        {"relation": "less than", "num_words": limit},
        f"Keep it under {limit} words.",
    )


def _title(rng: random.Random) -> Constraint:
    return Constraint(
        "detectable_format:title",
        {},
        "Give it a title wrapped in double angle brackets, like <<My title>>.",
    )


def _postscript(rng: random.Random) -> Constraint:
    return Constraint(
        "detectable_content:postscript",
        {"postscript_marker": "P.S."},
        'Add a postscript near the end that starts with "P.S.".',
    )


def _end_phrase(rng: random.Random) -> Constraint:
    phrase = rng.choice(END_PHRASES)
    return Constraint(
        "startend:end_checker",
        {"end_phrase": phrase},
        f'Finish with the exact phrase "{phrase}" and nothing after it.',
    )


def _lowercase(rng: random.Random) -> Constraint:
    return Constraint(
        "change_case:english_lowercase",
        {},
        "Write all of it in lowercase letters, with no capital letters at all.",
    )


def _forbidden(rng: random.Random) -> Constraint:
    first, second = rng.sample(FORBIDDEN_WORDS, 2)
    return Constraint(
        "keywords:forbidden_words",
        {"forbidden_words": [first, second]},
        f'Do not use the words "{first}" or "{second}".',
    )


ADDABLE: tuple[Callable[[random.Random], Constraint], ...] = (
    _keyword,
    _no_comma,
    _word_limit,
    _title,
    _postscript,
    _end_phrase,
    _lowercase,
    _forbidden,
)
"""Constraints that can all hold at once (the reference below follows any mix of them)."""
CHANGEABLE: tuple[Callable[[random.Random], Constraint], ...] = (
    _keyword,
    _word_limit,
    _end_phrase,
    _forbidden,
)
"""Constraints a later turn may change (the new one replaces the old: same instruction id)."""

ADD = (
    "Rewrite the note. Keep every earlier requirement, and also: {phrase}",
    "Now revise it once more. Everything I asked before still applies. In addition: {phrase}",
)
CHANGE = (
    "Rewrite the note again. All other requirements stay, but this one changes: {phrase}",
    "One requirement changes, the rest stay as they are: {phrase} Rewrite the note.",
)
KEYWORD_SENTENCE = "I thought of the {word} today."
POSTSCRIPT = "P.S. Write back when you can."


def reference_note(title: str, sentences: tuple[str, ...], rules: dict[str, Constraint]) -> str:
    """A note that follows every rule in force: built from comma-free sentences that use none
    of the forbidden words, shortened until it fits the word limit."""
    body = list(sentences)
    keyword = rules.get("keywords:existence")
    extra = [KEYWORD_SENTENCE.format(word=keyword.kwargs["keywords"][0])] if keyword else []
    while True:
        parts = []
        if "detectable_format:title" in rules:
            parts.append(f"<<{title}>>")
        parts.append(" ".join(body + extra))
        if "detectable_content:postscript" in rules:
            parts.append(POSTSCRIPT)
        if "startend:end_checker" in rules:
            parts.append(rules["startend:end_checker"].kwargs["end_phrase"])
        text = "\n\n".join(parts)
        if "change_case:english_lowercase" in rules:
            text = text.lower()
        limit = rules.get("length_constraints:number_words")
        if limit is None or len(body) == 1 or check(limit.id, limit.kwargs, text):
            return text
        body.pop()


def _spec(constraint: Constraint) -> dict[str, Any]:
    return {"type": "instructions", "add": [{"id": constraint.id, "kwargs": constraint.kwargs}]}


class Refinement:
    """Turn 1 asks for a short note with one constraint; each later turn adds one more (in a
    random order) and, once all eight are in force, changes one (new keyword, word limit, end
    phrase or forbidden words). Knobs: turns. Every turn is a probe."""

    family = "refinement"

    def generate(self, rng: random.Random, knobs: Knobs) -> Draft:
        recipient, topic, sentences = rng.choice(NOTE_TOPICS)
        title = rng.choice(TITLES)
        order = rng.sample(ADDABLE, len(ADDABLE))
        rules: dict[str, Constraint] = {}
        turns = []
        for index in range(1, knobs.turns + 1):
            if index <= len(order):
                constraint = order[index - 1](rng)
                if index == 1:
                    prompt = f"Write a short note to {recipient} about {topic}. {constraint.phrase}"
                else:
                    prompt = rng.choice(ADD).format(phrase=constraint.phrase)
            else:
                constraint = rng.choice(CHANGEABLE)(rng)
                prompt = rng.choice(CHANGE).format(phrase=constraint.phrase)
            rules[constraint.id] = constraint
            turns.append(turn(prompt, reference_note(title, sentences, rules), [_spec(constraint)]))
        return Draft(
            turns,
            {
                "turns": knobs.turns,
                "probe_turns": list(range(1, knobs.turns + 1)),
                "constraints": list(rules),
            },
        )


register_generator(Refinement())
