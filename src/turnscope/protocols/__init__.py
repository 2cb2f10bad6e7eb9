"""Protocols: how one conversation is played. The scripted protocol ships built in."""

from turnscope.protocols.base import (
    CallOutcome,
    Complete,
    ConversationProtocol,
    PlayContext,
    get_protocol,
    register_protocol,
)
from turnscope.protocols.scripted import ScriptedProtocol, merge_turns

__all__ = [
    "CallOutcome",
    "Complete",
    "ConversationProtocol",
    "PlayContext",
    "ScriptedProtocol",
    "get_protocol",
    "merge_turns",
    "register_protocol",
]
