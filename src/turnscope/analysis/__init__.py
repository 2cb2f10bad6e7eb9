"""Metrics over stored records."""

from turnscope.analysis.instruction_following import (
    AccuracyCell,
    InstructionReport,
    InstructionTypeRow,
    instruction_report,
)
from turnscope.analysis.ratings import PairOutcome, Rating, RatingError, bradley_terry
from turnscope.analysis.summary import Cell, RunSummary, summarise

__all__ = [
    "AccuracyCell",
    "Cell",
    "InstructionReport",
    "InstructionTypeRow",
    "PairOutcome",
    "Rating",
    "RatingError",
    "RunSummary",
    "bradley_terry",
    "instruction_report",
    "summarise",
]
