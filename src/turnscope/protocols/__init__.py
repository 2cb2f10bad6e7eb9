"""Protocols: how one conversation is played, and everything that depends on its shape.
Built in: scripted (own, gold, single, user-only, restated), feedback (own), simulated
(sharded, full, concat; user messages from a registered user simulator), tools (tools,
no-tools, tools-feedback) and environment (env)."""

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
from turnscope.protocols.environment import EnvironmentProtocol, EnvironmentSetup
from turnscope.protocols.feedback import FeedbackProtocol, FeedbackSpec
from turnscope.protocols.interactive import InteractiveProtocol, InteractiveSetup, leaks_reference
from turnscope.protocols.rules import Rule, RuleError, parse_rule
from turnscope.protocols.scripted import ScriptedProtocol, merge_turns, restate
from turnscope.protocols.simulated import Shard, SimulatedProtocol, SimulatedSpec
from turnscope.protocols.simulators import (
    FINDING_PREFIX,
    SPOILING,
    SPOILT,
    Audit,
    SimulatorView,
    UserSimulator,
    audit_message,
    get_simulator,
    register_simulator,
    simulator_names,
)
from turnscope.protocols.tools import ToolsProtocol, ToolsSetup

__all__ = [
    "FINDING_PREFIX",
    "SCORING_TIME_LIMIT_S",
    "SPOILING",
    "SPOILT",
    "Audit",
    "CallOutcome",
    "Complete",
    "ConditionGap",
    "ConversationProtocol",
    "EnvironmentProtocol",
    "EnvironmentSetup",
    "FeedbackProtocol",
    "FeedbackSpec",
    "HistoryAnswers",
    "InteractiveProtocol",
    "InteractiveSetup",
    "PlayContext",
    "ProtocolBase",
    "RoleCaller",
    "Rule",
    "RuleError",
    "ScriptedProtocol",
    "Shard",
    "SimulatedProtocol",
    "SimulatedSpec",
    "SimulatorView",
    "ToolsProtocol",
    "ToolsSetup",
    "UserSimulator",
    "audit_message",
    "check_conditions",
    "check_protocols",
    "get_protocol",
    "get_simulator",
    "known_conditions",
    "leaks_reference",
    "make_record",
    "merge_turns",
    "parse_rule",
    "protocols",
    "register_protocol",
    "register_simulator",
    "restate",
    "score_answer",
    "simulator_names",
    "system_messages",
]
