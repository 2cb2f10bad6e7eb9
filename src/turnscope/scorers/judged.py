"""The `judge` turn scorer spec: its parameters are checked when a suite loads; the run's judge
pass (turnscope.engine.judging) scores it, since a judge is a model call."""

from __future__ import annotations

from turnscope.scorers.base import register_deferred_scorer
from turnscope.scorers.judges import JudgeParams

JUDGE_SCORER = "judge"

register_deferred_scorer(
    JUDGE_SCORER,
    JudgeParams,
    summary="an LLM judge (--judge SPEC) grades the answer: kind grade, checklist or rubric",
)
