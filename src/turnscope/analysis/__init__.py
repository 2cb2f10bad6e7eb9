"""Metrics over stored records."""

from turnscope.analysis.compare import (
    Comparison,
    NoCommonItems,
    PairedRow,
    RunErrors,
    compare_runs,
)
from turnscope.analysis.instruction_following import (
    AccuracyCell,
    InstructionReport,
    InstructionTypeRow,
    instruction_report,
)
from turnscope.analysis.multiturn import (
    FlipRate,
    Gap,
    MultiTurnAnalysis,
    SuccessCurve,
    analyse,
    item_families,
    item_scores,
)
from turnscope.analysis.rows import ScoredTurn
from turnscope.analysis.stats import (
    PAIRED_TEST,
    Estimate,
    ItemResampler,
    bootstrap_mean,
    paired_p_value,
)
from turnscope.analysis.summary import Cell, RunSummary, summarise

__all__ = [
    "PAIRED_TEST",
    "AccuracyCell",
    "Cell",
    "Comparison",
    "Estimate",
    "FlipRate",
    "Gap",
    "InstructionReport",
    "InstructionTypeRow",
    "ItemResampler",
    "MultiTurnAnalysis",
    "NoCommonItems",
    "PairedRow",
    "RunErrors",
    "RunSummary",
    "ScoredTurn",
    "SuccessCurve",
    "analyse",
    "bootstrap_mean",
    "compare_runs",
    "instruction_report",
    "item_families",
    "item_scores",
    "paired_p_value",
    "summarise",
]
