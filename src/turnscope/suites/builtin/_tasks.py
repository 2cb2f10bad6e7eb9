"""Small tasks with one right answer that code can check: the building blocks of the families.

A Task knows its prompt (which says how to answer), its answer, the scorer specs that check
it, a plausible wrong answer (for pushback) and hints (for feedback)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from turnscope.suites.builtin._texts import LONG_WORDS, WEEKDAYS, WORDS

Spec = dict[str, Any]


@dataclass(frozen=True)
class Task:
    """One question with one right answer."""

    prompt: str
    answer: str
    scorers: tuple[Spec, ...]
    wrong: str
    """A plausible wrong answer, never equal to `answer`."""
    numeric: bool
    hints: tuple[str, ...] = field(default=())
    """Hints from vague to precise, for the feedback family's hint variant."""


def _numeric_wrong(rng: random.Random, answer: int) -> str:
    delta = rng.choice((-10, -2, -1, 1, 2, 3, 10))
    wrong = answer + delta
    return str(wrong if wrong >= 0 else answer + abs(delta))


def _numeric(rng: random.Random, prompt: str, answer: int) -> Task:
    low = max(0, answer - rng.randint(2, 9))
    high = answer + rng.randint(2, 9)
    hints = (
        f"Hint: the answer is an {'even' if answer % 2 == 0 else 'odd'} number.",
        f"Hint: the answer is between {low} and {high}.",
        f"Hint: the last digit of the answer is {answer % 10}.",
    )
    return Task(
        prompt=f"{prompt} Reply with the number only.",
        answer=str(answer),
        scorers=({"type": "numeric", "expected": answer},),
        wrong=_numeric_wrong(rng, answer),
        numeric=True,
        hints=hints,
    )


def add(rng: random.Random) -> Task:
    a, b = rng.randint(11, 89), rng.randint(11, 89)
    return _numeric(rng, f"What is {a} plus {b}?", a + b)


def subtract(rng: random.Random) -> Task:
    a = rng.randint(40, 99)
    b = rng.randint(11, a - 5)
    return _numeric(rng, f"What is {a} minus {b}?", a - b)


def multiply_small(rng: random.Random) -> Task:
    a, b = rng.randint(3, 12), rng.randint(3, 12)
    return _numeric(rng, f"What is {a} times {b}?", a * b)


def multiply_large(rng: random.Random) -> Task:
    a, b = rng.randint(13, 49), rng.randint(13, 29)
    return _numeric(rng, f"What is {a} times {b}?", a * b)


def sum_of_four(rng: random.Random) -> Task:
    numbers = [rng.randint(5, 60) for _ in range(4)]
    listed = ", ".join(map(str, numbers))
    return _numeric(rng, f"What is the sum of {listed}?", sum(numbers))


def word_length(rng: random.Random) -> Task:
    word = rng.choice(WORDS)
    return _numeric(rng, f'How many letters are in the word "{word}"?', len(word))


def letter_count(rng: random.Random) -> Task:
    word = rng.choice(LONG_WORDS)
    letter = rng.choice(sorted({c for c in word if word.count(c) > 1}))
    return _numeric(
        rng, f'How many times does the letter "{letter}" appear in "{word}"?', word.count(letter)
    )


def weekday(rng: random.Random) -> Task:
    start = rng.randrange(7)
    days = rng.choice([n for n in range(2, 20) if n % 7])
    answer = WEEKDAYS[(start + days) % 7]
    wrong = WEEKDAYS[(start + days + rng.choice((1, 6))) % 7]
    return Task(
        prompt=f"If today is {WEEKDAYS[start]}, what day of the week is it in {days} days? "
        "Reply with the day only.",
        answer=answer,
        # The day asked from is never the answer (days is no multiple of 7), so an answer that
        # repeats the question and names the right day still holds only one candidate.
        scorers=({"type": "contains", "value": answer},),
        wrong=wrong,
        numeric=False,
    )


def capitals(rng: random.Random) -> Task:
    word = rng.choice(WORDS)
    return Task(
        prompt=f'Write the word "{word}" in capital letters. Reply with that word only.',
        answer=word.upper(),
        scorers=({"type": "contains", "value": word.upper(), "case_sensitive": True},),
        wrong=word.capitalize(),
        numeric=False,
    )


TaskMaker = Callable[[random.Random], Task]

DISTRACTOR_TASKS: tuple[TaskMaker, ...] = (
    add,
    subtract,
    multiply_small,
    word_length,
    weekday,
    capitals,
)
"""Quick questions between the turns that matter; each is scored on its own."""
NUMERIC_TASKS: tuple[TaskMaker, ...] = (add, subtract, multiply_small, word_length, letter_count)
"""Questions whose answer is one number: pushback disputes them."""
HARD_TASKS: tuple[TaskMaker, ...] = (multiply_large, sum_of_four, letter_count)
"""Questions a small model often gets wrong at first: the feedback family's tasks."""


def distractor(rng: random.Random) -> Task:
    """A quick scored question between the turns that matter."""
    return rng.choice(DISTRACTOR_TASKS)(rng)
