"""What the record flags say about a run: tool calls and their errors, sandbox limits hit,
tests of a hidden rule, feedback that gave the answer away. Flags describe what happened
around an answer without changing it (turnscope.protocols.interactive lists the ones the
interactive protocols set); this tallies every flag of every role per condition."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from turnscope.core import Condition


class ConversationRow(Protocol):
    """What names the conversation a row belongs to."""

    @property
    def item_id(self) -> str: ...
    @property
    def condition(self) -> Condition: ...
    @property
    def sample(self) -> int: ...


class FlaggedRecord(ConversationRow, Protocol):
    """The fields of a record the tally reads (a TurnRecord, or the store's light rows)."""

    @property
    def flags(self) -> tuple[str, ...]: ...


class FlagTally(BaseModel):
    """How often one flag was set under one condition."""

    model_config = ConfigDict(frozen=True)

    occurrences: int
    """Times it was set (a turn that ran three snippets sets "tool:python" three times)."""
    conversations: int
    """Played conversations with it at least once."""
    per_conversation: float
    """Occurrences over every played conversation of the condition (tests used per rule)."""


class FlagReport(BaseModel):
    """Flags per condition, for the conditions whose conversations set any."""

    model_config = ConfigDict(frozen=True)

    conversations: dict[Condition, int]
    """Played conversations per condition (the denominator of per_conversation)."""
    by_condition: dict[Condition, dict[str, FlagTally]]
    """Condition -> flag -> its tally, flags in name order."""

    @property
    def flags(self) -> list[str]:
        """Every flag set under some condition, in name order."""
        return sorted({flag for tallies in self.by_condition.values() for flag in tallies})


def flag_kind(flag: str) -> str:
    """What a flag is tallied under: a flag that ends in a measure (`echo-removed:37`, the
    characters removed) counts as its kind (`echo-removed`); one whose suffix names a kind
    (`tool:invalid`) stays as it is."""
    kind, colon, value = flag.rpartition(":")
    return kind if colon and value.isdigit() else flag


def flag_report(
    records: Iterable[FlaggedRecord], conversations: Mapping[Condition, int]
) -> FlagReport | None:
    """The tally of every flag of `records` (all roles), by kind (`flag_kind`);
    `conversations` counts the played conversations per condition. None when no record
    carries a flag."""
    occurrences: dict[Condition, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    seen: dict[Condition, dict[str, set[tuple[str, int]]]] = defaultdict(lambda: defaultdict(set))
    for record in records:
        for flag in map(flag_kind, record.flags):
            occurrences[record.condition][flag] += 1
            seen[record.condition][flag].add((record.item_id, record.sample))
    if not occurrences:
        return None
    by_condition = {
        condition: {
            flag: FlagTally(
                occurrences=count,
                conversations=len(seen[condition][flag]),
                per_conversation=count / max(1, conversations.get(condition, 0)),
            )
            for flag, count in sorted(flags.items())
        }
        for condition, flags in occurrences.items()
    }
    return FlagReport(
        conversations={c: conversations.get(c, 0) for c in by_condition},
        by_condition=by_condition,
    )


def played_conversations(rows: Iterable[ConversationRow]) -> dict[Condition, int]:
    """Played conversations per condition, from any per-turn rows."""
    found: dict[Condition, set[tuple[str, int]]] = defaultdict(set)
    for row in rows:
        found[row.condition].add((row.item_id, row.sample))
    return {condition: len(keys) for condition, keys in found.items()}
