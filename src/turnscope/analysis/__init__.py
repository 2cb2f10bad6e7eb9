"""Metrics over stored records."""

from turnscope.analysis.compare import (
    Comparison,
    NoCommonItems,
    PairedRow,
    RunErrors,
    compare_runs,
)
from turnscope.analysis.flags import (
    FlaggedRecord,
    FlagReport,
    FlagTally,
    flag_report,
    played_conversations,
)
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
from turnscope.analysis.multiturn import (
    FlipRate,
    Gap,
    GapReport,
    MultiTurnAnalysis,
    ServingStats,
    SuccessCurve,
    analyse,
    item_families,
    item_scores,
    ordered_conditions,
)
from turnscope.analysis.ratings import PairOutcome, Rating, RatingError, bradley_terry
from turnscope.analysis.rows import ScoredTurn, ServingTurn
from turnscope.analysis.stats import (
    PAIRED_TEST,
    Estimate,
    ItemResampler,
    bootstrap_mean,
    paired_p_value,
)
from turnscope.analysis.summary import (
    Cell,
    RunSummary,
    error_message_counts,
    short_message,
    summarise,
)

__all__ = [
    "PAIRED_TEST",
    "AccuracyCell",
    "Cell",
    "Comparison",
    "Estimate",
    "FlagReport",
    "FlagTally",
    "FlaggedRecord",
    "FlipRate",
    "Gap",
    "GapReport",
    "InstructionReport",
    "InstructionTypeRow",
    "ItemResampler",
    "JudgeReport",
    "JudgeStats",
    "JuryAgreement",
    "MultiTurnAnalysis",
    "NoCommonItems",
    "PairOutcome",
    "PairedRow",
    "PairwiseStats",
    "Rating",
    "RatingError",
    "RunErrors",
    "RunSummary",
    "ScoredTurn",
    "ServingStats",
    "ServingTurn",
    "SuccessCurve",
    "analyse",
    "bootstrap_mean",
    "bradley_terry",
    "compare_runs",
    "error_message_counts",
    "flag_report",
    "instruction_report",
    "item_families",
    "item_scores",
    "judge_report",
    "ordered_conditions",
    "paired_p_value",
    "played_conversations",
    "short_message",
    "summarise",
]
