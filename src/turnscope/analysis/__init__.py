"""Metrics over stored records."""

from turnscope.analysis.instruction_following import (
    AccuracyCell,
    InstructionReport,
    InstructionTypeRow,
    instruction_report,
)
from turnscope.analysis.judges import (
    JudgeReport,
    JudgeStats,
    JuryAgreement,
    PairwiseStats,
    judge_report,
)
from turnscope.analysis.ratings import PairOutcome, Rating, RatingError, bradley_terry
from turnscope.analysis.summary import Cell, RunSummary, summarise

__all__ = [
    "AccuracyCell",
    "Cell",
    "InstructionReport",
    "InstructionTypeRow",
    "JudgeReport",
    "JudgeStats",
    "JuryAgreement",
    "PairOutcome",
    "PairwiseStats",
    "Rating",
    "RatingError",
    "RunSummary",
    "bradley_terry",
    "instruction_report",
    "judge_report",
    "summarise",
]
