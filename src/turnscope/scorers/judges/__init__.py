"""Judge kinds: the prompts an LLM judge gets, the strict verdict formats and their parsers,
position-swap resolution for pairwise comparisons, and jury aggregation and agreement.

Calling judge models (engine, cache, retries, store) is not done here: a caller builds
`judge_kind(name, params).messages(inp)`, asks a model, and parses its text with `.parse`."""

from turnscope.core import Verdict, Winner
from turnscope.scorers.judges._base import (
    JudgeInput,
    JudgeKind,
    JudgeKindFactory,
    JudgeParams,
    VerdictParseError,
    judge_kind,
    judge_kind_names,
    register_judge_kind,
    single_answer_kinds,
)
from turnscope.scorers.judges._jury import AggregationMethod, Agreement, aggregate, agreement
from turnscope.scorers.judges._kinds import ChecklistKind, GradeKind, PairwiseKind, RubricKind
from turnscope.scorers.judges._retry import (
    JUDGE_MAX_PARSE_ATTEMPTS,
    RAW_EXCERPT_CHARS,
    excerpt,
    parse_failure_text,
)
from turnscope.scorers.judges._swap import PairwiseResult, resolve_swap
from turnscope.scorers.judges._text import parse_verdict, render_history

__all__ = [
    "JUDGE_MAX_PARSE_ATTEMPTS",
    "RAW_EXCERPT_CHARS",
    "AggregationMethod",
    "Agreement",
    "ChecklistKind",
    "GradeKind",
    "JudgeInput",
    "JudgeKind",
    "JudgeKindFactory",
    "JudgeParams",
    "PairwiseKind",
    "PairwiseResult",
    "RubricKind",
    "Verdict",
    "VerdictParseError",
    "Winner",
    "aggregate",
    "agreement",
    "excerpt",
    "judge_kind",
    "judge_kind_names",
    "parse_failure_text",
    "parse_verdict",
    "register_judge_kind",
    "render_history",
    "resolve_swap",
    "single_answer_kinds",
]
