"""THROWAWAY STAND-IN for wip-judge-kinds (reverted before merging that branch)."""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from turnscope.core import Message, content_text
from turnscope.scorers.base import ScorerParams


class JudgeInput(BaseModel):
    model_config = ConfigDict(frozen=True)
    history: tuple[Message, ...]
    answer: str
    answer_b: str | None = None
    reference: str | None = None
    guidance: str | None = None


class Verdict(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: str
    value: float | None = None
    grade: int | None = None
    winner: Literal["a", "b", "tie"] | None = None
    items: tuple[bool, ...] = ()


class VerdictParseError(ValueError):
    pass


class JudgeParams(ScorerParams):
    kind: str = "grade"
    guidance: str | None = None
    use_reference: bool = True
    items: tuple[str, ...] = ()
    rubric: str | None = None


class JudgeKind(Protocol):
    name: str

    def messages(self, inp: JudgeInput) -> list[Message]: ...

    def parse(self, text: str) -> Verdict: ...


class _Grade:
    name = "grade"

    def messages(self, inp: JudgeInput) -> list[Message]:
        convo = "\n".join(f"{m.role}: {content_text(m.content)}" for m in inp.history)
        ref = f"\nReference: {inp.reference}" if inp.reference else ""
        return [
            Message(
                role="user",
                content=f"{convo}\nAnswer: {inp.answer}{ref}\nRating: [[N]]",
            )
        ]

    def parse(self, text: str) -> Verdict:
        found = re.findall(r"\[\[(\d+)\]\]", text)
        if len(set(found)) != 1:
            raise VerdictParseError("no single [[N]] grade")
        grade = int(found[-1])
        if not 1 <= grade <= 10:
            raise VerdictParseError(f"grade {grade} out of range")
        return Verdict(kind="grade", grade=grade, value=grade / 10)


class _Pairwise:
    name = "pairwise"

    def messages(self, inp: JudgeInput) -> list[Message]:
        convo = "\n".join(f"{m.role}: {content_text(m.content)}" for m in inp.history)
        return [
            Message(
                role="user",
                content=f"{convo}\nA: {inp.answer}\nB: {inp.answer_b}\nVerdict: [[A]]",
            )
        ]

    def parse(self, text: str) -> Verdict:
        found = re.findall(r"\[\[(A|B|TIE)\]\]", text)
        if len(set(found)) != 1:
            raise VerdictParseError("no single [[A]]/[[B]]/[[TIE]]")
        winner: Literal["a", "b", "tie"] = {"A": "a", "B": "b", "TIE": "tie"}[found[0]]  # type: ignore[assignment]
        return Verdict(kind="pairwise", winner=winner)


def judge_kind(name: str, params: JudgeParams) -> JudgeKind:
    kinds: dict[str, JudgeKind] = {"grade": _Grade(), "pairwise": _Pairwise()}
    return kinds[name]


class PairwiseResult(BaseModel):
    winner: Literal["a", "b", "tie"]
    position_consistent: bool


def resolve_swap(first: Verdict, second: Verdict) -> PairwiseResult:
    swapped = {"a": "b", "b": "a", "tie": "tie"}[second.winner or "tie"]
    if first.winner == swapped:
        return PairwiseResult(winner=first.winner or "tie", position_consistent=True)
    return PairwiseResult(winner="tie", position_consistent=False)


def aggregate(
    verdicts: Sequence[Verdict], method: Literal["mean", "median", "majority"]
) -> Verdict:
    values = [v.value for v in verdicts if v.value is not None]
    return Verdict(kind=verdicts[0].kind, value=statistics.mean(values))
