"""Instruction-following metrics over stored records: PIF by turn, PIF-N-K, failures by type.

PIF (programmatic instruction following) of one answer is the share of the instructions in
force that it follows. Instruction-level accuracy pools every check; conversation-level (or
prompt-level) accuracy is the share of answers that follow *all* their instructions. PIF-N-K
is the share of (item, turn) units where at least K of N sampled answers reach PIF = 1.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from turnscope.analysis.rows import ScoredTurn
from turnscope.core import Check

INSTRUCTIONS_SCORER = "instructions"


class AccuracyCell(BaseModel):
    """Instruction-following accuracy of a group of answers, strict and loose."""

    model_config = ConfigDict(frozen=True)

    answers: int
    """Answers with at least one instruction in force."""
    instructions: int
    """Instruction checks pooled over those answers."""
    instruction_strict: float
    """Share of instruction checks followed (strict): the pooled PIF."""
    instruction_loose: float
    """The same, loose."""
    all_followed_strict: float
    """Share of answers that follow every instruction in force (strict)."""
    all_followed_loose: float
    """The same, loose."""


class InstructionTypeRow(BaseModel):
    """How often one instruction type was followed."""

    model_config = ConfigDict(frozen=True)

    instruction: str
    checks: int
    strict: float
    loose: float


class InstructionReport(BaseModel):
    """Every instruction-following figure of a run."""

    model_config = ConfigDict(frozen=True)

    by_turn: dict[str, dict[int, AccuracyCell]]
    """Condition -> turn index -> accuracy."""
    overall: dict[str, AccuracyCell]
    """Condition -> accuracy over all turns."""
    by_type: list[InstructionTypeRow]
    """Instruction types, most often failed (strict) first."""
    pif_n_k: dict[str, dict[int, float]]
    """Condition -> K -> share of (item, turn) units where >= K of N samples reach PIF = 1."""
    samples: int
    """N: the number of samples per (item, turn), the smallest over units."""


def _checks(record: ScoredTurn) -> tuple[Check, ...]:
    for score in record.scores:
        if score.scorer == INSTRUCTIONS_SCORER and score.error is None and score.checks:
            return score.checks
    return ()


def _cell(groups: list[tuple[Check, ...]]) -> AccuracyCell:
    pooled = [c for checks in groups for c in checks]
    n = len(pooled) or 1
    answers = len(groups) or 1
    return AccuracyCell(
        answers=len(groups),
        instructions=len(pooled),
        instruction_strict=sum(c.passed for c in pooled) / n,
        instruction_loose=sum(bool(c.passed_loose) for c in pooled) / n,
        all_followed_strict=sum(all(c.passed for c in g) for g in groups) / answers,
        all_followed_loose=sum(all(c.passed_loose for c in g) for g in groups) / answers,
    )


def instruction_report(records: Iterable[ScoredTurn]) -> InstructionReport | None:
    """Instruction-following figures, or None when no record has instruction checks."""
    by_turn: dict[str, dict[int, list[tuple[Check, ...]]]] = defaultdict(lambda: defaultdict(list))
    by_type: dict[str, list[Check]] = defaultdict(list)
    units: dict[tuple[str, str, int], list[bool]] = defaultdict(list)
    for record in records:
        checks = _checks(record)
        if not checks:
            continue
        condition = record.condition
        by_turn[condition][record.turn].append(checks)
        for c in checks:
            by_type[c.name].append(c)
        units[(condition, record.item_id, record.turn)].append(all(c.passed for c in checks))
    if not by_turn:
        return None
    samples = min(len(v) for v in units.values())
    pif_n_k: dict[str, dict[int, float]] = {}
    for condition in by_turn:
        mine = [v for (cond, _, _), v in units.items() if cond == condition]
        pif_n_k[condition] = {
            k: sum(sum(v) >= k for v in mine) / len(mine) for k in range(1, samples + 1)
        }
    rows = [
        InstructionTypeRow(
            instruction=name,
            checks=len(cs),
            strict=sum(c.passed for c in cs) / len(cs),
            loose=sum(bool(c.passed_loose) for c in cs) / len(cs),
        )
        for name, cs in by_type.items()
    ]
    rows.sort(key=lambda r: (r.strict, r.instruction))
    return InstructionReport(
        by_turn={v: {t: _cell(g) for t, g in sorted(ts.items())} for v, ts in by_turn.items()},
        overall={v: _cell([g for gs in ts.values() for g in gs]) for v, ts in by_turn.items()},
        by_type=rows,
        pif_n_k=pif_n_k,
        samples=samples,
    )
