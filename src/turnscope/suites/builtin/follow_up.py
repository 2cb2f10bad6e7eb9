"""follow-up: questions about the model's OWN earlier answer (an entry of the list it wrote,
the number it picked), checked against the history by the `own_answer` scorer."""

from __future__ import annotations

import random
from typing import Any

from turnscope.core import Turn
from turnscope.suites.builtin._base import Draft, Knobs, register_generator, task_turn, turn
from turnscope.suites.builtin._tasks import distractor
from turnscope.suites.builtin._texts import LIST_CATEGORIES

LIST_ASKS = {
    "groceries": "things to buy at a grocery shop",
    "packing": "things to pack for a trip",
    "animals": "animals",
    "fruits": "fruits",
    "tools": "tools for a workshop",
    "guests": "first names of people to invite to a party",
}
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")
PICK_LOW, PICK_HIGH = 10, 60


def _own(extract: str, **params: Any) -> dict[str, Any]:
    return {"type": "own_answer", "turn": 1, "extract": extract, **params}


class FollowUp:
    """Turn 1: the model writes a numbered list of 3-6 entries of its choice, or picks a number.
    Turns 2 .. distance are distractors; every turn from distance + 1 to the last asks about
    that turn-1 answer (an entry by position, the list's length, the number transformed).
    Knobs: turns (>= 2), distance (1 .. turns - 1)."""

    family = "follow-up"

    def generate(self, rng: random.Random, knobs: Knobs) -> Draft:
        n, distance = knobs.turns, knobs.distance
        if not 1 <= distance <= n - 1:
            raise ValueError(f"follow-up: distance {distance} needs at least {distance + 1} turns")
        if rng.random() < 0.6:
            turns, kind = self._list_opening(rng), "list"
        else:
            turns, kind = self._number_opening(rng), "number"
        reference = turns[0].reference
        assert reference is not None
        for index in range(2, n + 1):
            if index <= distance:
                turns.append(task_turn(distractor(rng)))
            elif kind == "list":
                turns.append(self._list_question(rng, reference, first=index == distance + 1))
            else:
                turns.append(self._number_question(rng, int(reference)))
        return Draft(
            turns,
            {
                "turns": n,
                "distance": distance,
                "probe_turns": list(range(distance + 1, n + 1)),
                "distractors": distance - 1,
                "asks_about": kind,
            },
        )

    @staticmethod
    def _list_opening(rng: random.Random) -> list[Turn]:
        category, _, pool = rng.choice(LIST_CATEGORIES)
        size = rng.randint(3, 6)
        entries = rng.sample(pool, size)
        prompt = (
            f"Name {size} {LIST_ASKS[category]}, as a numbered list with one entry per line "
            "and nothing else."
        )
        gold = "\n".join(f"{i}. {entry}" for i, entry in enumerate(entries, start=1))
        return [turn(prompt, gold, [{"type": "regex", "pattern": rf"(?m)^\s*{size}\s*[.)]"}])]

    @staticmethod
    def _list_question(rng: random.Random, gold: str, *, first: bool) -> Turn:
        entries = [line.split(". ", 1)[1] for line in gold.splitlines()]
        if first or rng.random() < 0.7:
            position = rng.randint(1, len(entries))
            prompt = (
                f"Which entry did you put {ORDINALS[position - 1]} in your list? "
                "Reply with that entry only."
            )
            return turn(prompt, entries[position - 1], [_own("list_item", index=position)])
        prompt = "How many entries did your list have? Reply with the number only."
        return turn(prompt, str(len(entries)), [_own("list_length")])

    @staticmethod
    def _number_opening(rng: random.Random) -> list[Turn]:
        picked = rng.randint(PICK_LOW, PICK_HIGH)
        prompt = (
            f"Pick a whole number between {PICK_LOW} and {PICK_HIGH} and reply with that "
            "number only."
        )
        pattern = r"\b(?:[1-5][0-9]|60)\b"
        return [turn(prompt, str(picked), [{"type": "regex", "pattern": pattern}])]

    @staticmethod
    def _number_question(rng: random.Random, picked: int) -> Turn:
        choice = rng.randrange(3)
        if choice == 0:
            add = rng.randint(3, 30)
            prompt = f"Add {add} to the number you picked. Reply with the result only."
            return turn(prompt, str(picked + add), [_own("number", add=add)])
        if choice == 1:
            times = rng.randint(2, 5)
            prompt = f"Multiply the number you picked by {times}. Reply with the result only."
            return turn(prompt, str(picked * times), [_own("number", times=times)])
        prompt = "Which number did you pick at the start? Reply with the number only."
        return turn(prompt, str(picked), [_own("number")])


register_generator(FollowUp())
