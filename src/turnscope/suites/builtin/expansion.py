"""expansion: each later turn extends a list the user is building; the whole list must come
back every time, keeping every earlier entry. Checked by code: the share of entries kept."""

from __future__ import annotations

import random

from turnscope.suites.builtin._base import Draft, Knobs, register_generator, task_turn, turn
from turnscope.suites.builtin._tasks import distractor
from turnscope.suites.builtin._texts import LIST_CATEGORIES

START_ENTRIES = 3
START = (
    "Let's make a {label} list. Start it with these entries: {entries}. "
    "Reply with the list only, one entry per line."
)
EXTEND = (
    "Add {entries} to the {label} list. Reply with the whole list, one entry per line, "
    "keeping every earlier entry.",
    "Please also put {entries} on the {label} list. Give me the complete list again, "
    "one entry per line.",
    "One more change: the {label} list needs {entries} too. Reply with the full list, "
    "one entry per line, and drop nothing.",
)


def _joined(entries: list[str]) -> str:
    return entries[0] if len(entries) == 1 else ", ".join(entries[:-1]) + " and " + entries[-1]


class Expansion:
    """Turn 1 starts a list of 3 entries; every other non-distractor turn adds 1 or 2 entries.
    Knobs: turns (>= 2), distractors (scored questions mixed in, never at turn 1 or the last
    turn). The smallest entry pool caps the expansion turns at 11."""

    family = "expansion"

    def generate(self, rng: random.Random, knobs: Knobs) -> Draft:
        n, distractors = knobs.turns, knobs.distractors
        if n < 2 or distractors > n - 2:
            raise ValueError(
                f"expansion: {n} turns leave room for at most {max(n - 2, 0)} distractors"
            )
        _, label, pool = rng.choice(LIST_CATEGORIES)
        distractor_turns = set(rng.sample(range(2, n), distractors))
        expansions = n - 1 - distractors
        room = len(pool) - START_ENTRIES
        if expansions > room:
            raise ValueError(
                f"expansion: {expansions} expansion turns need {expansions + START_ENTRIES} "
                f"entries; the {label} list has {len(pool)}"
            )
        adds = [rng.choice((1, 1, 2)) for _ in range(expansions)]
        for position in range(expansions):  # two entries at a time only while the pool lasts
            if sum(adds) <= room:
                break
            adds[position] = 1
        entries = rng.sample(pool, START_ENTRIES + sum(adds))
        kept = entries[:START_ENTRIES]
        turns = [
            turn(START.format(label=label, entries=_joined(kept)), "\n".join(kept), [_all(kept)])
        ]
        probes = []
        for index in range(2, n + 1):
            if index in distractor_turns:
                turns.append(task_turn(distractor(rng)))
                continue
            new = entries[len(kept) : len(kept) + adds.pop()]
            kept = kept + new
            prompt = rng.choice(EXTEND).format(label=label, entries=_joined(new))
            turns.append(turn(prompt, "\n".join(kept), [_all(kept)]))
            probes.append(index)
        return Draft(
            turns,
            {
                "turns": n,
                "distractors": distractors,
                "probe_turns": probes,
                "final_entries": len(kept),
                "list": label,
            },
        )


def _all(entries: list[str]) -> dict[str, object]:
    return {"type": "contains", "value": list(entries), "mode": "all"}


register_generator(Expansion())
