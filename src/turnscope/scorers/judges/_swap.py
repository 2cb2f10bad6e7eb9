"""Position swap: a pairwise comparison is judged in both orders, then resolved."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from turnscope.core import Verdict, Winner


class PairwiseResult(BaseModel):
    """The outcome of a comparison judged in both orders."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    winner: Winner
    """The better answer in the original labelling (a: the first run's answer), or a tie."""
    position_consistent: bool
    """Whether the judge gave the same outcome in both orders."""

    def as_verdict(self) -> Verdict:
        """The resolved outcome as a pairwise verdict, for `aggregate` and `agreement`."""
        return Verdict(kind="pairwise", winner=self.winner)


_UNSWAP: dict[Winner, Winner] = {"a": "b", "b": "a", "tie": "tie"}


def _winner(verdict: Verdict, which: str) -> Winner:
    # Any pairwise kind's verdict ("pairwise", "fastchat-pair" ...) names a winner.
    if verdict.winner is None:
        raise ValueError(f"the {which} verdict is not a pairwise verdict with a winner")
    return verdict.winner


def resolve_swap(first: Verdict, swapped: Verdict) -> PairwiseResult:
    """Combine the verdict on (A, B) with the verdict on the same answers shown as (B, A).

    The same outcome in both orders stands and is consistent. Any disagreement is a tie and
    position-inconsistent: a flip (A wins, then B wins), and also a win in one order with a
    tie in the other, since that win depends on where the answers were placed."""
    original = _winner(first, "first")
    unswapped = _UNSWAP[_winner(swapped, "swapped")]
    if original == unswapped:
        return PairwiseResult(winner=original, position_consistent=True)
    return PairwiseResult(winner="tie", position_consistent=False)
