"""Protocols: how one conversation is played, and everything that depends on its shape.
Built in: scripted (own, gold, single, user-only, restated) and feedback."""

from turnscope.protocols.base import (
    SCORING_TIME_LIMIT_S,
    CallOutcome,
    Complete,
    ConditionGap,
    ConversationProtocol,
    HistoryAnswers,
    PlayContext,
    ProtocolBase,
    RoleCaller,
    check_conditions,
    check_protocols,
    get_protocol,
    known_conditions,
    make_record,
    protocols,
    register_protocol,
    score_answer,
    system_messages,
)
from turnscope.protocols.feedback import FeedbackProtocol, FeedbackSpec
from turnscope.protocols.scripted import ScriptedProtocol, merge_turns, restate

__all__ = [
    "SCORING_TIME_LIMIT_S",
    "CallOutcome",
    "Complete",
    "ConditionGap",
    "ConversationProtocol",
    "FeedbackProtocol",
    "FeedbackSpec",
    "HistoryAnswers",
    "PlayContext",
    "ProtocolBase",
    "RoleCaller",
    "ScriptedProtocol",
    "check_conditions",
    "check_protocols",
    "get_protocol",
    "known_conditions",
    "make_record",
    "merge_turns",
    "protocols",
    "register_protocol",
    "restate",
    "score_answer",
    "system_messages",
]
