"""Scorers: turn an answer into a Score. Reference scorers here; IFEval checkers in `ifeval`."""

from turnscope.scorers.base import (
    Scorer,
    ScorerConfigError,
    ScorerParams,
    TurnView,
    build_scorer,
    register_scorer,
    score_turn,
    scorer_names,
)
from turnscope.scorers.reference import extract_numbers, normalise

__all__ = [
    "Scorer",
    "ScorerConfigError",
    "ScorerParams",
    "TurnView",
    "build_scorer",
    "extract_numbers",
    "normalise",
    "register_scorer",
    "score_turn",
    "scorer_names",
]
