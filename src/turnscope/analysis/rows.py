"""What the analyses read from a turn: a full TurnRecord, or the store's light TurnScores."""

from __future__ import annotations

from typing import Protocol

from turnscope.core import Condition, Score


class ScoredTurn(Protocol):
    """The fields of a turn that metrics use; transcripts are not needed to compute them."""

    @property
    def item_id(self) -> str: ...
    @property
    def turn(self) -> int: ...
    @property
    def condition(self) -> Condition: ...
    @property
    def sample(self) -> int: ...
    @property
    def error(self) -> str | None: ...
    @property
    def cached(self) -> bool: ...
    @property
    def scores(self) -> tuple[Score, ...]: ...
    @property
    def score(self) -> float | None: ...
