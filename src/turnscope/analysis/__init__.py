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
from turnscope.analysis.summary import Cell, RunSummary, summarise

__all__ = [
    "AccuracyCell",
    "Cell",
    "InstructionReport",
    "InstructionTypeRow",
    "JudgeReport",
    "JudgeStats",
    "JuryAgreement",
    "PairwiseStats",
    "RunSummary",
    "instruction_report",
    "judge_report",
    "summarise",
]
