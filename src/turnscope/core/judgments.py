"""What judges produce: parsed verdicts, judgments with every attempt's raw text, and pairwise
comparisons. These are data contracts shared by the judge role (engine), the run store and the
analyses, so they live here, below all of them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from turnscope.core.records import ModelIdentity

Winner = Literal["a", "b", "tie"]


class Verdict(BaseModel):
    """A judge's parsed verdict; `value` is what becomes a score."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    """The judge kind that gave it: "grade", "pairwise", "checklist", "rubric" ..."""
    value: float | None = Field(default=None, ge=0.0, le=1.0)
    """In [0, 1]: grade/10, share of checklist yes, rubric 1/0; None for pairwise."""
    grade: int | None = Field(default=None, ge=1, le=10)
    """The 1..10 grade (kind grade; an aggregate only when it is a whole grade)."""
    winner: Winner | None = None
    """Pairwise: which answer is better in the labelling the judge was shown."""
    items: tuple[bool, ...] = ()
    """Checklist: the yes/no answers, in item order."""

    @property
    def label(self) -> str:
        """A short label for tables and distributions: "grade 7", "3/4 yes", "yes" (rubric),
        "winner a"."""
        if self.grade is not None:
            return f"grade {self.grade}"
        if self.kind == "rubric" and self.value is not None:
            return "yes" if self.value >= 1.0 else "no"
        if self.items:
            return f"{sum(self.items)}/{len(self.items)} yes"
        if self.winner is not None:
            return f"winner {self.winner}"
        return f"value {self.value:.2f}" if self.value is not None else self.kind


class JudgeAttempt(BaseModel):
    """One request of a judgment and what came back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_hash: str
    """Content address of the request (the response cache key)."""
    text: str | None = None
    """The judge's raw text; None when the model call itself failed."""
    error: str | None = None
    """Why this attempt gave no verdict: the parse error, or the model failure."""
    cached: bool = False
    """Whether the text came from the response cache."""


class Judgment(BaseModel):
    """One judge's verdict on one judged input, with every attempt it took."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    judge: str
    """The judge's model spec, as given to --judge."""
    identity: ModelIdentity
    """What identifies the judge model (backend, model, weights fingerprint)."""
    kind: str
    """Judge kind: "grade", "checklist", "rubric", "pairwise" or a plugin kind."""
    attempts: tuple[JudgeAttempt, ...]
    """Every request made for this judgment, in order (raw text kept for the audit)."""
    verdict: Verdict | None = None
    """The parsed verdict of the last attempt; None when no attempt parsed."""
    error: str | None = None
    """Why there is no verdict (retries exhausted on unparseable text, or a model failure)."""
    finished_at: datetime
    """When the judgment was made."""

    @property
    def requests_sent(self) -> int:
        """Attempts that were not served from the cache."""
        return sum(not a.cached for a in self.attempts)

    @property
    def model_failed(self) -> bool:
        """Whether the judgment ended because the judge model could not be asked (an outage:
        worth asking again), not because its text never parsed (it would come back the same)."""
        return bool(self.attempts) and self.attempts[-1].text is None


class PairJudgment(BaseModel):
    """One judge's comparison of two answers to the same turn, asked in both orders."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ab: Judgment
    """The judgment with the first run's answer shown as A."""
    ba: Judgment
    """The judgment with the second run's answer shown as A."""
    outcome: Winner | None = None
    """Who won, in the first run's terms ("a" = first run); a verdict that flips with the
    order is a tie. None when either order gave no verdict."""
    consistent: bool | None = None
    """Whether both orders agree; None when either order gave no verdict."""
    error: str | None = None
    """Why there is no outcome."""
