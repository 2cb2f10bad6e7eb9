"""Verifiable instructions over a conversation: accumulating (Multi-IF) and global (MMMT-IF).

A turn declares instructions with a scorer spec of type `instructions`:

    {type: instructions, add: [{id: "punctuation:no_comma"}], remove: ["change_case:..."]}

The instructions in force at turn t are those added at turns <= t, minus those a later turn
removes; a turn that adds an id already in force from an earlier turn replaces every earlier
instruction with that id (new keyword arguments). One turn may add the same id more than once
with different arguments ("at least 600 words" and "less than 701 words"): all of them are
in force and each is checked. A turn with a bare `{type: instructions}` adds nothing and is
checked against everything in force, which is how an instruction given once at turn 1 binds
every later answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from turnscope.core import Check, Item, Score, content_text
from turnscope.scorers.base import ScorerParams, TurnView, register_scorer, scorer_params
from turnscope.scorers.ifeval import Instruction, build, check_built, validate

SCORER_TYPE = "instructions"


class InstructionSpec(BaseModel):
    """One verifiable instruction: an IFEval instruction id and its keyword arguments."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    """IFEval instruction id, e.g. "keywords:existence"."""
    kwargs: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments with the reference implementation's names, e.g. {"keywords": [...]}."""

    @model_validator(mode="after")
    def _known_and_complete(self) -> InstructionSpec:
        validate(self.id, self.kwargs)  # InstructionError is a ValueError: pydantic reports it
        return self


class InstructionsParams(ScorerParams):
    add: list[InstructionSpec] = Field(default_factory=list)
    """Instructions given at this turn; they stay in force for every later turn."""
    remove: list[str] = Field(default_factory=list)
    """Instruction ids no longer in force from this turn on."""
    language: str | None = None
    """Language of the answers (e.g. "zh", "Japanese"), for counting words and sentences in
    scripts written without spaces; defaults to the item's metadata "language"."""


@dataclass(frozen=True)
class InForce:
    """An instruction in force, and the turn that gave it."""

    spec: InstructionSpec
    since_turn: int
    instruction: Instruction
    """The spec built (validated when it loaded): checked against every later answer."""


def _progression(item: Item) -> list[list[InForce]]:
    """The instructions in force at each turn of the item, in turn order."""
    by_turn: list[list[InForce]] = []
    active: list[InForce] = []
    for index, spec_turn in enumerate(item.turns, start=1):
        for spec in spec_turn.scorers:
            if spec.type != SCORER_TYPE:
                continue
            params = scorer_params(spec)
            assert isinstance(params, InstructionsParams)
            removed = set(params.remove)
            # What this turn adds replaces what earlier turns gave under the same id, but the
            # adds of one turn never replace one another.
            renewed = {added.id for added in params.add}
            active = [
                e
                for e in active
                if e.spec.id not in removed and (e.spec.id not in renewed or e.since_turn == index)
            ]
            active.extend(
                InForce(added, index, build(added.id, added.kwargs)) for added in params.add
            )
        by_turn.append(active)
    return by_turn


# Every turn of an item is scored, one after the other, and each needs what the turns before
# it gave: the whole progression is worked out once per item. Keyed by id() with the item kept
# alive beside it (items are frozen), so an id is never reused while its entry exists.
_PROGRESSIONS: dict[int, tuple[Item, list[list[InForce]]]] = {}
_PROGRESSIONS_LIMIT = 256


def instructions_in_force(item: Item, turn: int) -> list[InForce]:
    """The instructions binding the answer at `turn` (1-based), in the order they were given;
    an id may be in force more than once (with different arguments)."""
    if turn < 1:
        return []
    cached = _PROGRESSIONS.get(id(item))
    if cached is None or cached[0] is not item:
        if len(_PROGRESSIONS) >= _PROGRESSIONS_LIMIT:
            _PROGRESSIONS.clear()
        cached = item, _progression(item)
        _PROGRESSIONS[id(item)] = cached
    by_turn = cached[1]
    return list(by_turn[min(turn, len(by_turn)) - 1]) if by_turn else []


def _language(params: InstructionsParams, metadata: Mapping[str, Any]) -> str | None:
    if params.language:
        return params.language
    value = metadata.get("language")
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class InstructionsScorer:
    params: InstructionsParams
    name: str = SCORER_TYPE

    def score(self, view: TurnView) -> Score:
        in_force = instructions_in_force(view.item, view.turn)
        if not in_force:
            return Score(scorer=self.name, detail="no instruction in force at this turn")
        language = _language(self.params, view.item.metadata)
        checks = []
        for entry in in_force:
            prompt = content_text(view.item.turns[entry.since_turn - 1].user)
            strict, loose = check_built(
                entry.instruction, view.response, prompt=prompt, language=language
            )
            checks.append(
                Check(
                    name=entry.spec.id,
                    passed=strict,
                    passed_loose=loose,
                    since_turn=entry.since_turn,
                )
            )
        followed = sum(c.passed for c in checks)
        followed_loose = sum(bool(c.passed_loose) for c in checks)
        detail = f"followed {followed}/{len(checks)} (loose {followed_loose})"
        failed = [e for e, c in zip(in_force, checks, strict=True) if not c.passed]
        if failed:
            detail += "; failed: " + "; ".join(
                f"{e.spec.id}: {e.instruction.describe()}" for e in failed
            )
        return Score(
            scorer=self.name, value=followed / len(checks), detail=detail, checks=tuple(checks)
        )


@register_scorer(
    SCORER_TYPE,
    InstructionsParams,
    summary="IFEval-family verifiable instructions that accumulate over turns; score = share "
    "followed (strict), with per-instruction strict and loose checks.",
)
def make_instructions(params: InstructionsParams, reference: str | None) -> InstructionsScorer:
    return InstructionsScorer(params)


def restated_instructions(item: Item, turn: int) -> str:
    """The instructions in force at `turn`, described in words and joined ("" when none is):
    what the `restated` condition appends to a user turn."""
    return "; ".join(e.instruction.describe() for e in instructions_in_force(item, turn))


def gives_instructions(item: Item) -> bool:
    """Whether any turn of the item gives a verifiable instruction."""
    return any(
        spec.type == SCORER_TYPE and spec.params.get("add")
        for turn in item.turns
        for spec in turn.scorers
    )
