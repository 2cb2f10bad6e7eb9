"""Metrics over stored records."""

from turnscope.analysis.instruction_following import (
    AccuracyCell,
    InstructionReport,
    InstructionTypeRow,
    instruction_report,
)
from turnscope.analysis.summary import Cell, RunSummary, summarise

__all__ = [
    "AccuracyCell",
    "Cell",
    "InstructionReport",
    "InstructionTypeRow",
    "RunSummary",
    "instruction_report",
    "summarise",
]
