"""Protocols: how one conversation is played. Built in: scripted and feedback."""

from turnscope.protocols.base import (
    CallOutcome,
    Complete,
    ConversationProtocol,
    PlayContext,
    check_protocols,
    get_protocol,
    register_protocol,
)
from turnscope.protocols.feedback import FeedbackProtocol
from turnscope.protocols.scripted import ScriptedProtocol, build_record, merge_turns

__all__ = [
    "CallOutcome",
    "Complete",
    "ConversationProtocol",
    "FeedbackProtocol",
    "PlayContext",
    "ScriptedProtocol",
    "build_record",
    "check_protocols",
    "get_protocol",
    "merge_turns",
    "register_protocol",
]
