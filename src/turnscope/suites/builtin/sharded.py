"""sharded: a fully specified task with one answer code can check, split into shards that a
simulated user releases one per turn (played by the simulated protocol: sharded, full, concat).

Four kinds of task, each written as a list of shards: the first states the request and the
answer format, the others one fact or one step each. Every number in a shard is distinct and
differs from the answer, so the audit can tell which shard a user message reveals (its
markers) and whether a message leaks the answer."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from turnscope.protocols.simulated import Shard, SimulatedSpec
from turnscope.suites.builtin._base import Draft, Knobs, register_generator, turn
from turnscope.suites.builtin._texts import PERSON_NAMES, TOWNS

MIN_SHARDS = 3
MAX_SHARDS = 8
EXAMPLE_DAY = 4
"""The day of the answer-format example of the date task (no other number of the task)."""
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")


@dataclass(frozen=True)
class ShardedTask:
    """A task as shards, with its answer and the scorer that checks an attempt."""

    kind: str
    persona: str
    goal: str
    shards: tuple[Shard, ...]
    answer: str
    scorer: dict[str, Any]


def _distinct(rng: random.Random, count: int, low: int, high: int, avoid: set[int]) -> list[int]:
    """`count` distinct numbers in [low, high], none in `avoid` (which they join)."""
    pool = [n for n in range(low, high + 1) if n not in avoid]
    picked = rng.sample(pool, count)
    avoid.update(picked)
    return picked


def _shard(text: str, *markers: object) -> Shard:
    return Shard(text=text, markers=tuple(str(m) for m in markers))


def boxes(rng: random.Random, n: int) -> ShardedTask:
    """Arithmetic: full boxes packed from several batches of muffins."""
    used: set[int] = set()
    size = _distinct(rng, 1, 6, 12, used)[0]
    batches = _distinct(rng, n - 2, 13, 97, used)
    answer = sum(batches) // size
    if answer in used:
        return boxes(rng, n)
    town = rng.choice(TOWNS)
    shards = [
        _shard(
            f"I run a small bakery in {town} and need to know how many boxes I can fill "
            "completely with muffins. Give me just the number of full boxes.",
            "full boxes",
        ),
        _shard(f"One box holds exactly {size} muffins.", size),
        *(
            _shard(f"The {ORDINALS[i]} batch gave {count} muffins.", count)
            for i, count in enumerate(batches)
        ),
    ]
    return ShardedTask(
        kind="arithmetic",
        persona=f"A busy baker in {town} who writes short, practical messages.",
        goal="Find out how many muffin boxes can be filled completely.",
        shards=tuple(shards),
        answer=str(answer),
        scorer={"type": "numeric", "expected": answer},
    )


_OPERATIONS: tuple[tuple[str, str, Callable[[list[int], int], list[int]], tuple[str, ...]], ...] = (
    ("drop", "Remove every number below {x}.", lambda xs, x: [v for v in xs if v >= x], ("below",)),
    ("add", "Add {x} to each remaining number.", lambda xs, x: [v + x for v in xs], ("add",)),
    ("double", "Double every number.", lambda xs, x: [v * 2 for v in xs], ("double",)),
    ("even", "Keep only the even numbers.", lambda xs, x: [v for v in xs if v % 2 == 0], ("even",)),
    (
        "desc",
        "Sort them in descending order.",
        lambda xs, x: sorted(xs, reverse=True),
        ("descending",),
    ),
    ("asc", "Sort them in ascending order.", lambda xs, x: sorted(xs), ("ascending",)),
)


def numbers_list(rng: random.Random, n: int) -> ShardedTask:
    """List transformation: filter, change and sort a list of numbers in stated steps."""
    for _ in range(100):
        used: set[int] = set()
        values = _distinct(rng, 6, 2, 60, used)
        steps = rng.sample(range(len(_OPERATIONS)), n - 2)
        result = list(values)
        shards = [
            _shard(
                "I have a list of numbers to transform step by step. Reply with the final "
                "numbers only, separated by commas.",
                "transform",
            ),
            _shard("The numbers are " + ", ".join(map(str, values)) + ".", *values),
        ]
        for index in steps:
            _, text, apply, words = _OPERATIONS[index]
            x = _distinct(rng, 1, 3, 40, used)[0] if "{x}" in text else 0
            result = apply(result, x)
            markers = (*words, x) if "{x}" in text else words
            shards.append(_shard(text.format(x=x), *markers))
        answer = ", ".join(map(str, result))
        if len(result) >= 2 and not set(result) & used:
            return ShardedTask(
                kind="list",
                persona="A student checking homework, polite and brief.",
                goal="Get the list of numbers after every step of the transformation.",
                shards=tuple(shards),
                answer=answer,
                scorer={"type": "normalised", "expected": answer},
            )
    raise RuntimeError("no list task found in 100 draws")  # pragma: no cover - bounded draw


def dates(rng: random.Random, n: int) -> ShardedTask:
    """Date calculation: a start date and stages that each last some days."""
    used = {EXAMPLE_DAY}
    start = date(2025, rng.randint(1, 9), rng.randint(1, 28))
    used.add(start.day)
    lengths = _distinct(rng, n - 2, 2, 29, used)
    end = start + timedelta(days=sum(lengths))
    month = end.strftime("%B")
    answer = f"{month} {end.day}"
    if end.day in used or end.year != start.year:
        return dates(rng, n)
    name = rng.choice(PERSON_NAMES)
    shards = [
        _shard(
            f"I'm planning a garden project with my neighbour {name} and need its finishing "
            f"date. Tell me the month and the day, like 'May {EXAMPLE_DAY}'.",
            "finishing date",
        ),
        _shard(
            f"We start on {start.strftime('%B')} {start.day}, 2025.",
            start.strftime("%B"),
            start.day,
        ),
        *(
            _shard(
                f"The {ORDINALS[i]} stage takes {days} days, starting when the one before ends.",
                days,
            )
            for i, days in enumerate(lengths)
        ),
    ]
    return ShardedTask(
        kind="date",
        persona=f"A hobby gardener planning a project with {name}; chatty but clear.",
        goal="Learn the date on which the garden project is finished.",
        shards=tuple(shards),
        answer=answer,
        scorer={"type": "regex", "pattern": rf"\b{month}\s+{end.day}(?!\d)", "ignore_case": True},
    )


def distance(rng: random.Random, n: int) -> ShardedTask:
    """Unit conversion: laps of a track in metres, total asked in kilometres."""
    used: set[int] = set()
    track = rng.choice([200, 250, 400, 500])
    used.add(track)
    laps = _distinct(rng, n - 2, 3, 19, used)
    metres = track * sum(laps)
    kilometres = metres / 1000
    answer = f"{kilometres:g}"
    if kilometres in used:
        return distance(rng, n)
    shards = [
        _shard(
            "I want the total distance I ran this week, in kilometres. Reply with the number only.",
            "kilometres",
        ),
        _shard(f"I always run on a track where one lap is {track} metres.", track),
        *(
            _shard(f"On the {ORDINALS[i]} day I ran {count} laps.", count)
            for i, count in enumerate(laps)
        ),
    ]
    return ShardedTask(
        kind="units",
        persona="An amateur runner keeping a training log, to the point.",
        goal="Know the week's total running distance in kilometres.",
        shards=tuple(shards),
        answer=answer,
        scorer={"type": "numeric", "expected": kilometres, "abs_tol": 0.0005},
    )


TASKS: tuple[Callable[[random.Random, int], ShardedTask], ...] = (
    boxes,
    numbers_list,
    dates,
    distance,
)


class Sharded:
    """One task, drawn from four kinds, in `shards` pieces (3-8): the request, then one fact
    or step each. Knobs: shards, simulator (scripted-user or llm-user)."""

    family = "sharded"

    def generate(self, rng: random.Random, knobs: Knobs) -> Draft:
        n = knobs.shards
        task = TASKS[rng.randrange(len(TASKS))](rng, n)
        spec = SimulatedSpec(
            persona=task.persona, goal=task.goal, shards=task.shards, simulator=knobs.simulator
        )
        full = " ".join(shard.text for shard in task.shards)
        return Draft(
            [turn(full, task.answer, [task.scorer])],
            {"shards": n, "task": task.kind, "simulator": knobs.simulator or "run's choice"},
            protocol="simulated",
            setup=spec.model_dump(mode="json", exclude_defaults=True),
        )


register_generator(Sharded())
