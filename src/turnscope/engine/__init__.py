"""The engine: schedules conversations, makes model calls with retries and caching."""

from turnscope.engine.cache import ResponseCache
from turnscope.engine.calls import ModelCaller, RetryPolicy
from turnscope.engine.judging import (
    Judge,
    JudgeAttempt,
    JudgePass,
    JudgePassResult,
    Judgment,
    PairJudgment,
    judge_pair,
)
from turnscope.engine.runner import (
    Conversation,
    EngineResult,
    RecordSink,
    RunPlan,
    plan_run,
    play_conversations,
)

__all__ = [
    "Conversation",
    "EngineResult",
    "Judge",
    "JudgeAttempt",
    "JudgePass",
    "JudgePassResult",
    "Judgment",
    "ModelCaller",
    "PairJudgment",
    "RecordSink",
    "ResponseCache",
    "RetryPolicy",
    "RunPlan",
    "judge_pair",
    "plan_run",
    "play_conversations",
]
