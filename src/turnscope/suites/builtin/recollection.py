"""recollection: a fact planted at turn i is asked for at turn j; distance j - i is the knob."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from turnscope.suites.builtin._base import Draft, Knobs, register_generator, task_turn, turn
from turnscope.suites.builtin._tasks import Spec, distractor
from turnscope.suites.builtin._texts import (
    CODE_WORDS,
    COLOURS,
    LETTERS,
    PERSON_NAMES,
    PET_NAMES,
    PLACES,
    TOWNS,
)


@dataclass(frozen=True)
class Fact:
    """A statement to remember, the question that asks for it, and how to check the answer."""

    kind: str
    statement: str
    question: str
    answer: str
    scorers: tuple[Spec, ...]


def _contains(answer: str) -> tuple[Spec, ...]:
    return ({"type": "contains", "value": answer},)


def _locker(rng: random.Random) -> Fact:
    code = str(rng.randint(1000, 9999))
    return Fact(
        "code",
        f"my locker code is {code}.",
        "What is my locker code? Reply with the code only.",
        code,
        _contains(code),
    )


def _pet(rng: random.Random) -> Fact:
    name = rng.choice(PET_NAMES)
    return Fact(
        "pet",
        f"my cousin's cat is called {name}.",
        "What is my cousin's cat called? Reply with the name only.",
        name,
        _contains(name),
    )


def _village(rng: random.Random) -> Fact:
    town = rng.choice(TOWNS)
    return Fact(
        "place",
        f"my grandmother grew up in a village called {town}.",
        "What is the name of the village my grandmother grew up in? Reply with the name only.",
        town,
        _contains(town),
    )


def _meeting(rng: random.Random) -> Fact:
    person, place = rng.choice(PERSON_NAMES), rng.choice(PLACES)
    return Fact(
        "person",
        f"tomorrow I am meeting {person} at {place}.",
        "Who am I meeting tomorrow? Reply with the name only.",
        person,
        _contains(person),
    )


def _door(rng: random.Random) -> Fact:
    colour = rng.choice(COLOURS)
    return Fact(
        "colour",
        f"the front door of my new flat is painted {colour}.",
        "What colour is the front door of my new flat? Reply with the colour only.",
        colour,
        _contains(colour),
    )


def _password(rng: random.Random) -> Fact:
    password = f"{rng.choice(CODE_WORDS)}{rng.randint(10, 99)}"
    return Fact(
        "password",
        f"the wifi password at the cabin is {password}.",
        "What is the wifi password at the cabin? Reply with the password only.",
        password,
        _contains(password),
    )


def _booking(rng: random.Random) -> Fact:
    reference = f"{rng.choice(LETTERS)}{rng.choice(LETTERS)}{rng.randint(100, 999)}"
    return Fact(
        "booking",
        f"my hotel booking reference is {reference}.",
        "What is my hotel booking reference? Reply with the reference only.",
        reference,
        _contains(reference),
    )


def _platform(rng: random.Random) -> Fact:
    platform = rng.randint(2, 19)
    return Fact(
        "number",
        f"my train leaves from platform {platform}.",
        "Which platform does my train leave from? Reply with the number only.",
        str(platform),
        ({"type": "numeric", "expected": platform},),
    )


FACTS: tuple[Callable[[random.Random], Fact], ...] = (
    _locker,
    _pet,
    _village,
    _meeting,
    _door,
    _password,
    _booking,
    _platform,
)
PLANT = 'Please remember this for later: {statement} Reply with "Noted." only.'


class Recollection:
    """Turns: distractors, the planted fact at turn n - distance, distractors, the question at
    turn n. Knobs: turns (n >= 2), distance (1 .. n - 1); every other turn is a distractor."""

    family = "recollection"

    def generate(self, rng: random.Random, knobs: Knobs) -> Draft:
        n, distance = knobs.turns, knobs.distance
        if not 1 <= distance <= n - 1:
            raise ValueError(
                f"recollection: distance {distance} needs at least {distance + 1} turns"
            )
        fact = rng.choice(FACTS)(rng)
        plant_turn = n - distance
        turns = []
        for index in range(1, n + 1):
            if index == plant_turn:
                statement = fact.statement[0].upper() + fact.statement[1:]
                turns.append(turn(PLANT.format(statement=statement), "Noted."))
            elif index == n:
                turns.append(turn(fact.question, fact.answer, fact.scorers))
            else:
                turns.append(task_turn(distractor(rng)))
        return Draft(
            turns,
            {
                "turns": n,
                "distance": distance,
                "plant_turn": plant_turn,
                "probe_turns": [n],
                "distractors": n - 2,
                "fact": fact.kind,
            },
        )


register_generator(Recollection())
