"""The engine: schedules conversations, makes model calls with retries and caching."""

from turnscope.engine.cache import ResponseCache
from turnscope.engine.calls import ModelCaller, RetryPolicy
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
    "ModelCaller",
    "RecordSink",
    "ResponseCache",
    "RetryPolicy",
    "RunPlan",
    "plan_run",
    "play_conversations",
]
