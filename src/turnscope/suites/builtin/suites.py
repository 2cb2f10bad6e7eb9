"""The named built-in suites: recipes of (family, knobs) per item, built from a seed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

from turnscope.core import Item, Suite
from turnscope.suites.builtin._base import Knobs, generate_item


@dataclass(frozen=True)
class Recipe:
    """What a named suite holds and how it is played when the user does not say."""

    name: str
    summary: str
    plan: tuple[tuple[str, tuple[Knobs, ...]], ...]
    """Per family, the knobs of each of its items, in order."""
    conditions: tuple[str, ...]
    """The conditions `turnscope run` plays when no --variant is given."""
    max_tokens: int | None
    """The answer budget `turnscope run` uses when no --max-tokens is given (None: the CLI's)."""

    @property
    def size(self) -> int:
        """Number of items."""
        return sum(len(knobs) for _, knobs in self.plan)


def interleave(per_family: Iterable[list[Item]]) -> Iterator[Item]:
    """Round robin over the families, so that the first N items (--limit N) mix them all."""
    for row in zip_longest(*per_family):
        yield from (item for item in row if item is not None)


MAX_REDRAWS = 8
"""How many times an item that repeats an earlier one of its family is drawn again before the
repeat is kept (a family whose task pool is exhausted)."""


def _task(item: Item) -> str:
    """What the model is given and checked against: everything but the id and metadata."""
    return item.model_dump_json(include={"system", "turns", "protocol", "setup"})


def _family_items(family: str, knobs: tuple[Knobs, ...], seed: int) -> list[Item]:
    """The family's items; one whose first draw repeats an earlier item's task is drawn again
    (only those: every other item is its first draw)."""
    items: list[Item] = []
    seen: set[str] = set()
    for index, k in enumerate(knobs):
        item = generate_item(family, index, seed, k)
        task, redraw = _task(item), 0
        while task in seen and redraw < MAX_REDRAWS:
            redraw += 1
            item = generate_item(family, index, seed, k, redraw=redraw)
            task = _task(item)
        seen.add(task)
        items.append(item)
    return items


def build(recipe: Recipe, seed: int) -> Suite:
    """The suite of `recipe` for `seed`: the same seed gives the same items, byte for byte."""
    per_family = [_family_items(family, knobs, seed) for family, knobs in recipe.plan]
    name = recipe.name if seed == 0 else f"{recipe.name}:{seed}"
    return Suite(name=name, items=tuple(interleave(per_family)))


def to_jsonl(items: Iterable[Item]) -> str:
    """One item per line, in the suite-file format the loader reads (defaults left out)."""
    return "".join(item.model_dump_json(exclude_defaults=True) + "\n" for item in items)


def write_jsonl(items: Iterable[Item], path: Path) -> int:
    """Write items as JSONL; returns how many were written (OSError if the path is unusable)."""
    text = to_jsonl(items)
    path.write_text(text, encoding="utf-8")
    return text.count("\n")


def _k(**values: int | bool | str) -> Knobs:
    return Knobs.model_validate(values)


ALL_CONDITIONS = ("own", "gold", "single", "full", "concat", "sharded", "tools", "no-tools", "env")
"""Scripted items play own, gold and single; sharded items full, concat and sharded; compute
items tools and no-tools (the python tool's gain); hidden-rule items env. Each item is played
under those of its protocol."""

CORE = Recipe(
    name="core",
    summary="73 generated conversations (2-8 turns; feedback: 3 attempts; sharded: 3-8 "
    "shards; compute: 3 turns with and without a Python sandbox; hidden-rule: 5 turns), ten "
    "families: recollection, expansion, refinement, follow-up, global-instruction, pushback, "
    "feedback, sharded, compute, hidden-rule. Plays each item under its protocol's conditions "
    "(own, gold, single; full, concat, sharded; tools, no-tools; env), 64 tokens an answer.",
    plan=(
        (
            "recollection",
            tuple(
                _k(turns=t, distance=d)
                for t, d in (
                    (3, 1),
                    (3, 2),
                    (4, 3),
                    (5, 2),
                    (5, 4),
                    (6, 5),
                    (6, 1),
                    (7, 6),
                    (8, 4),
                    (8, 7),
                )
            ),
        ),
        (
            "expansion",
            tuple(
                _k(turns=t, distractors=x)
                for t, x in ((2, 0), (3, 0), (3, 1), (4, 0), (4, 1), (5, 0), (5, 2), (6, 1))
            ),
        ),
        ("refinement", tuple(_k(turns=t) for t in (2, 2, 3, 3, 3, 4, 4, 5))),
        (
            "follow-up",
            tuple(
                _k(turns=t, distance=d)
                for t, d in ((2, 1), (3, 1), (3, 2), (4, 1), (4, 2), (4, 3), (5, 2), (6, 4))
            ),
        ),
        ("global-instruction", tuple(_k(turns=t) for t in (2, 3, 3, 4, 4, 5, 5, 6))),
        ("pushback", tuple(_k(turns=t) for t in (2, 2, 2, 3, 3, 3, 4, 4, 5, 6))),
        ("feedback", tuple(_k(budget=3, hints=h) for h in (False, True) * 4)),
        ("sharded", tuple(_k(shards=n) for n in (3, 4, 5, 6, 7, 8))),
        ("compute", tuple(_k(budget=3, level=v) for v in (1, 1, 2, 2))),
        ("hidden-rule", tuple(_k(budget=5, level=v) for v in (1, 1, 2))),
    ),
    conditions=ALL_CONDITIONS,
    max_tokens=64,
)


def _cycle(count: int, grid: list[Knobs]) -> tuple[Knobs, ...]:
    return tuple(grid[i % len(grid)] for i in range(count))


def _distances(turns: int) -> list[int]:
    """Distances from near to far for a conversation of `turns` turns (all < turns)."""
    return sorted({max(1, min(turns - 1, round(turns * f))) for f in (0.1, 0.3, 0.5, 0.75, 1.0)})


FULL_PER_FAMILY = 150
LONG = (4, 8, 12, 16, 20, 24, 30, 32)

FULL = Recipe(
    name="full",
    summary=f"{10 * FULL_PER_FAMILY} generated conversations, {FULL_PER_FAMILY} per family, "
    "2 to 32 turns (distances up to 31, feedback budgets up to 10, 3 to 8 shards, tool and "
    "rule budgets up to 15): for servers, not the embedded model. Plays own, gold, single, "
    "full, concat, sharded, tools, no-tools and env by default.",
    plan=(
        (
            "recollection",
            _cycle(FULL_PER_FAMILY, [_k(turns=t, distance=d) for t in LONG for d in _distances(t)]),
        ),
        (
            "expansion",
            _cycle(
                FULL_PER_FAMILY,
                [
                    _k(turns=t, distractors=t - 1 - e)
                    for t in (3, 6, 10, 12, 16, 20, 24, 30)
                    for e in (2, 5, 8, 11)
                    if e <= t - 1
                ],
            ),
        ),
        (
            "refinement",
            _cycle(FULL_PER_FAMILY, [_k(turns=t) for t in (2, 4, 6, 8, 10, 12, 16, 20, 25, 30)]),
        ),
        (
            "follow-up",
            _cycle(FULL_PER_FAMILY, [_k(turns=t, distance=d) for t in LONG for d in _distances(t)]),
        ),
        (
            "global-instruction",
            _cycle(FULL_PER_FAMILY, [_k(turns=t) for t in (3, 5, 8, 12, 16, 20, 25, 30)]),
        ),
        (
            "pushback",
            _cycle(FULL_PER_FAMILY, [_k(turns=t) for t in (2, 3, 4, 6, 8, 12, 16, 20, 25, 30)]),
        ),
        (
            "feedback",
            _cycle(
                FULL_PER_FAMILY,
                [_k(budget=b, hints=h) for b in (1, 2, 3, 5, 8, 10) for h in (False, True)],
            ),
        ),
        ("sharded", _cycle(FULL_PER_FAMILY, [_k(shards=n) for n in range(3, 9)])),
        (
            "compute",
            _cycle(FULL_PER_FAMILY, [_k(budget=b, level=v) for b in (3, 5, 8) for v in (1, 2, 3)]),
        ),
        (
            "hidden-rule",
            _cycle(
                FULL_PER_FAMILY, [_k(budget=b, level=v) for b in (6, 10, 15) for v in (1, 2, 3)]
            ),
        ),
    ),
    conditions=ALL_CONDITIONS,
    max_tokens=None,
)

PERSONA = Recipe(
    name="persona",
    summary="8 generated conversations (3-6 turns) in which the model keeps a persona given "
    "in the system prompt; every answer is scored by the persona judge, so it needs --judge.",
    plan=(("persona", tuple(_k(turns=t) for t in (3, 3, 4, 4, 5, 5, 6, 6))),),
    conditions=("own",),
    max_tokens=96,
)

RECIPES = {recipe.name: recipe for recipe in (CORE, FULL, PERSONA)}
"""The named built-in suites."""
