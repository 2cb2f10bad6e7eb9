"""The engine: schedules conversations, makes model calls with retries and caching."""

from turnscope.engine.cache import ResponseCache
from turnscope.engine.calls import ModelCaller, RetryPolicy
from turnscope.engine.judging import (
    Judge,
    JudgePass,
    JudgePassResult,
    judge_pair,
    needs_judging,
)
from turnscope.engine.loop import EventLoopError, run_loop
from turnscope.engine.runner import (
    Conversation,
    EngineResult,
    RecordSink,
    RunPlan,
    missing_roles,
    plan_run,
    play_conversations,
)

__all__ = [
    "Conversation",
    "EngineResult",
    "EventLoopError",
    "Judge",
    "JudgePass",
    "JudgePassResult",
    "ModelCaller",
    "RecordSink",
    "ResponseCache",
    "RetryPolicy",
    "RunPlan",
    "judge_pair",
    "missing_roles",
    "needs_judging",
    "plan_run",
    "play_conversations",
    "run_loop",
]
