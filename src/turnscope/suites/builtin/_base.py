"""The generator extension point: a family turns a seeded Random and knobs into one item."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from turnscope.core import Item, Turn, derive_seed
from turnscope.suites.builtin._tasks import Spec, Task

MAX_TURNS = 64


class Knobs(BaseModel):
    """Difficulty knobs of one generated item; each family reads the ones it documents."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    turns: int = Field(default=4, ge=1, le=MAX_TURNS)
    """Number of user turns of the conversation."""
    distance: int = Field(default=1, ge=1, le=MAX_TURNS - 1)
    """Turns between the turn a question is about and the question (recollection, follow-up)."""
    distractors: int = Field(default=0, ge=0, le=MAX_TURNS)
    """Unrelated scored questions mixed in between the turns that matter (expansion)."""
    budget: int = Field(default=3, ge=1, le=20)
    """Attempts allowed (feedback), turns allowed (compute, hidden-rule)."""
    hints: bool = False
    """Whether a wrong attempt is answered with a hint instead of a bare 'wrong' (feedback)."""
    shards: int = Field(default=4, ge=3, le=8)
    """Pieces the task is split into, released one per turn (sharded)."""
    simulator: Literal["scripted-user", "llm-user"] | None = None
    """Who plays the user of a simulated conversation (sharded); None leaves it to the run:
    a model when it has a `user` role, else the scripted user."""
    level: int = Field(default=1, ge=1, le=3)
    """Difficulty level of the task (compute, hidden-rule)."""


@dataclass
class Draft:
    """What a generator builds; `generate_item` adds the id, category and common metadata."""

    turns: list[Turn]
    metadata: dict[str, Any] = field(default_factory=dict)
    """Family-specific metadata: probe_turns, distance, challenge_turn, budget, knobs used."""
    system: str | None = None
    protocol: str = "scripted"
    setup: dict[str, Any] = field(default_factory=dict)
    """What the item's protocol needs beyond the turns (the feedback budget and messages)."""


class Generator(Protocol):
    """One family of built-in items."""

    family: str
    """The family name: item.category and item.metadata["family"]."""

    def generate(self, rng: random.Random, knobs: Knobs) -> Draft:
        """One item drawn with `rng` only (never the global random state)."""
        ...


_GENERATORS: dict[str, Generator] = {}


def register_generator(generator: Generator) -> Generator:
    """Make a generator available by its family name."""
    _GENERATORS[generator.family] = generator
    return generator


def get_generator(family: str) -> Generator:
    """A registered generator; ValueError naming the known families otherwise."""
    try:
        return _GENERATORS[family]
    except KeyError:
        known = ", ".join(_GENERATORS)
        raise ValueError(f"unknown generator family {family!r} (known: {known})") from None


def families() -> list[str]:
    """Registered family names, in registration order."""
    return list(_GENERATORS)


def item_seed(suite_seed: int, family: str, index: int) -> int:
    """The seed of one item's Random: a stable function of the suite seed, family and index
    (sha256-based, so the same in every process whatever PYTHONHASHSEED says)."""
    return derive_seed(suite_seed, "builtin", family, index)


def generate_item(
    family: str, index: int, suite_seed: int, knobs: Knobs, *, redraw: int = 0
) -> Item:
    """Item `index` of `family` for a suite seed: id `<family>-<index>`, category = family.

    `redraw` > 0 draws the item again from another seed (recorded in its metadata): what a
    suite does when the first draw repeats an earlier item of the family."""
    generator = get_generator(family)
    rng_seed = item_seed(suite_seed, family, index)
    if redraw:
        rng_seed = derive_seed(suite_seed, "builtin", family, index, "redraw", redraw)
    draft = generator.generate(random.Random(rng_seed), knobs)
    metadata = {
        "family": family,
        "generator": f"builtin.{family}",
        "seed": suite_seed,
        **({"redraw": redraw} if redraw else {}),
        **draft.metadata,
    }
    return Item(
        id=f"{family}-{index:04d}",
        system=draft.system,
        turns=tuple(draft.turns),
        category=family,
        metadata=metadata,
        protocol=draft.protocol,
        setup=draft.setup,
    )


def turn(user: str, reference: str, scorers: Sequence[Spec] = ()) -> Turn:
    """A user turn with its reference answer and scorer specs."""
    return Turn.model_validate({"user": user, "reference": reference, "scorers": list(scorers)})


def task_turn(task: Task, prefix: str = "") -> Turn:
    """The turn asking `task`, optionally after some lead-in text."""
    return turn(f"{prefix}{task.prompt}", task.answer, task.scorers)
