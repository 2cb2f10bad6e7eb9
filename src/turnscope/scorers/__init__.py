"""Scorers: turn an answer into a Score. Reference scorers here; IFEval checkers in `ifeval`."""

from turnscope.scorers.base import (
    Scorer,
    ScorerConfigError,
    ScorerParams,
    TurnView,
    build_scorer,
    check_scorer_spec,
    is_deferred,
    register_deferred_scorer,
    register_scorer,
    score_turn,
    scorer_names,
    scorer_params,
)
from turnscope.scorers.bleu import bleu
from turnscope.scorers.reference import extract_numbers, normalise

__all__ = [
    "Scorer",
    "ScorerConfigError",
    "ScorerParams",
    "TurnView",
    "bleu",
    "build_scorer",
    "check_scorer_spec",
    "extract_numbers",
    "is_deferred",
    "normalise",
    "register_deferred_scorer",
    "register_scorer",
    "score_turn",
    "scorer_names",
    "scorer_params",
]
