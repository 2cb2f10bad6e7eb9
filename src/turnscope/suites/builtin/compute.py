"""compute: tasks that are easy with code and hard without, played by the tools protocol under
`tools` (a Python interpreter in the sandbox) and `no-tools`, so the report shows the tool's
gain: products of big numbers, letters counted in long strings, days between two dates, and
words sorted by a key. Every answer is checked by code.

Knobs: level (1-3: more digits, longer strings, wider date spans, more words) and budget (the
turn budget k)."""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from datetime import date, timedelta

from turnscope.protocols.tools import ToolsSetup
from turnscope.suites.builtin._base import Draft, Knobs, register_generator, turn
from turnscope.suites.builtin._texts import WORDS

ANSWER_NUMBER = " Give the number alone as your solution."

Made = tuple[str, str, str, dict[str, object]]
"""(task text, reference answer, scorer type, metadata) of one drawn task."""


def _digits(rng: random.Random, count: int) -> int:
    return rng.randint(10 ** (count - 1), 10**count - 1)


def product(rng: random.Random, level: int) -> Made:
    # Below 2**53 at every level, so the numeric check compares the digits exactly.
    width = {1: (4, 5), 2: (5, 7), 3: (7, 8)}[level]
    a, b = _digits(rng, width[0]), _digits(rng, width[1])
    return f"What is {a} multiplied by {b}?{ANSWER_NUMBER}", str(a * b), "numeric", {}


def letter_count(rng: random.Random, level: int) -> Made:
    length = {1: 40, 2: 90, 3: 180}[level]
    letter = rng.choice("aeiorst")
    pool = string.ascii_lowercase + letter * 3
    text = "".join(rng.choice(pool) for _ in range(length))
    count = text.count(letter)
    task = f"How many times does the letter '{letter}' occur in this string?\n{text}\n"
    return task + ANSWER_NUMBER.strip(), str(count), "numeric", {"length": length}


def date_span(rng: random.Random, level: int) -> Made:
    years = {1: 1, 2: 6, 3: 40}[level]
    start = date(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 60))
    end = start + timedelta(days=rng.randint(30, 365 * years + 30))
    days = (end - start).days
    task = (
        f"How many days are there from {start.isoformat()} to {end.isoformat()} (count the "
        f"end date but not the start date)?{ANSWER_NUMBER}"
    )
    return task, str(days), "numeric", {}


def key_sort(rng: random.Random, level: int) -> Made:
    count = {1: 5, 2: 8, 3: 12}[level]
    words = rng.sample(WORDS, count)
    ordered = sorted(words, key=lambda w: (w[-1], len(w), w))
    task = (
        f"Sort these words by their last letter; among words with the same last letter, "
        f"shorter words first, and words of the same length alphabetically: "
        f"{', '.join(words)}. Give the sorted words, separated by commas, as your solution."
    )
    return task, ", ".join(ordered), "normalised", {"words": count}


KINDS: dict[str, Callable[[random.Random, int], Made]] = {
    "product": product,
    "letter-count": letter_count,
    "date-span": date_span,
    "key-sort": key_sort,
}


class Compute:
    """One task, played by the tools protocol with a turn budget."""

    family = "compute"

    def generate(self, rng: random.Random, knobs: Knobs) -> Draft:
        kind = rng.choice(sorted(KINDS))
        task, answer, scorer, extra = KINDS[kind](rng, knobs.level)
        setup = ToolsSetup(budget=knobs.budget)
        return Draft(
            [turn(task, answer, [{"type": scorer}])],
            {"kind": kind, "level": knobs.level, "budget": knobs.budget, **extra},
            protocol="tools",
            setup=setup.model_dump(mode="json", exclude_defaults=True),
        )


register_generator(Compute())
