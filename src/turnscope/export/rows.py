"""What an export reads from a run, one turn or one conversation at a time.

Records are streamed from the store in its order (item, condition, sample, turn), so a
conversation's records arrive together and only one conversation is held at a time. What
depends on a conversation's shape (key turns, the conversation score) is asked of the item's
protocol, exactly as the analyses ask it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from turnscope.core import TARGET_ROLE, Condition, Item, Judgment, TurnRecord, content_text
from turnscope.export.optional import ExportError
from turnscope.protocols import SPOILT, ConversationProtocol, get_protocol
from turnscope.store import RunStore


@dataclass(frozen=True)
class TurnExport:
    """One stored record with what an export adds to it."""

    record: TurnRecord
    """The record as stored (any role)."""
    item: Item
    """The item it belongs to."""
    key_turn: bool
    """Whether its score makes up the conversation score: one of the protocol's key turns,
    or, when the protocol names none, any scored target turn. Never a serving role's."""
    judgments: tuple[tuple[int, Judgment], ...]
    """The target turn's judgments as (scorer spec position, judgment), by spec then judge."""

    @property
    def user_text(self) -> str | None:
        """The last user message the record added to the conversation, if any."""
        user = next((m for m in reversed(self.record.new_messages) if m.role == "user"), None)
        return content_text(user.content) if user else None


@dataclass(frozen=True)
class ConversationExport:
    """One played conversation: its records of every role and its score."""

    item: Item
    """The item played."""
    condition: Condition
    """The condition it was played under."""
    sample: int
    """Sample index."""
    turns: tuple[TurnExport, ...]
    """Its records, in store order (serving roles before the target within a turn)."""
    key_turns: tuple[int, ...] | None
    """The protocol's key turns (None: every scored turn)."""
    score: float | None
    """The protocol's conversation score; None when it cannot be known (a key turn failed)."""

    @property
    def targets(self) -> list[TurnRecord]:
        """The target's records, in turn order."""
        return [t.record for t in self.turns if t.record.role == TARGET_ROLE]

    @property
    def flags(self) -> tuple[str, ...]:
        """Every flag of every record, once each, sorted."""
        return tuple(sorted({f for t in self.turns for f in t.record.flags}))

    @property
    def spoilt(self) -> bool:
        """Whether a record spoilt it (the analyses leave such a conversation out)."""
        return SPOILT in self.flags


def protocol_of(item: Item) -> ConversationProtocol:
    """The item's protocol; ExportError when it is not installed here (a plugin's item)."""
    try:
        return get_protocol(item.protocol)
    except ValueError as exc:
        raise ExportError(f"item {item.id!r}: {exc}; install the plugin that plays it") from None


def _judgments(store: RunStore, record: TurnRecord) -> tuple[tuple[int, Judgment], ...]:
    if record.role != TARGET_ROLE:
        return ()
    found = store.judgments(record.item_id, record.condition, record.sample, record.turn)
    return tuple((spec, found[spec, judge]) for spec, judge in sorted(found))


def iter_turns(store: RunStore) -> Iterator[TurnExport]:
    """Every record of every role, in store order, with its item, key-turn flag and
    judgments. The store gives an item's records together, so one item is held at a time."""
    item: Item | None = None
    keys: dict[Condition, tuple[int, ...] | None] = {}
    for record in store.records(role=None):
        if item is None or item.id != record.item_id:
            # records() joins the items table: every record's item is there.
            item = store.item(record.item_id)
            assert item is not None
            keys = {}
        if record.condition not in keys:
            keys[record.condition] = protocol_of(item).key_turns(item, record.condition)
        chosen = keys[record.condition]
        is_target = record.role == TARGET_ROLE
        key_turn = is_target and (
            record.turn in chosen if chosen is not None else record.score is not None
        )
        yield TurnExport(record, item, key_turn, _judgments(store, record))


def iter_conversations(store: RunStore) -> Iterator[ConversationExport]:
    """Every played conversation, in store order, one at a time."""
    group: list[TurnExport] = []
    for turn in iter_turns(store):
        if group and _where(group[0]) != _where(turn):
            yield _conversation(group)
            group = []
        group.append(turn)
    if group:
        yield _conversation(group)


def _where(turn: TurnExport) -> tuple[str, Condition, int]:
    return turn.record.item_id, turn.record.condition, turn.record.sample


def _conversation(group: list[TurnExport]) -> ConversationExport:
    first = group[0]
    item, condition = first.item, first.record.condition
    protocol = protocol_of(item)
    values = {t.record.turn: t.record.score for t in group if t.record.role == TARGET_ROLE}
    return ConversationExport(
        item=item,
        condition=condition,
        sample=first.record.sample,
        turns=tuple(group),
        key_turns=protocol.key_turns(item, condition),
        score=protocol.conversation_score(item, condition, values) if values else None,
    )


def judgment_json(spec: int, judgment: Judgment) -> dict[str, Any]:
    """A judgment as a JSON-able row: its spec position, verdict value and label, and the
    whole stored judgment (every attempt's raw text included)."""
    verdict = judgment.verdict
    return {
        "spec": spec,
        "judge": judgment.judge,
        "kind": judgment.kind,
        "value": verdict.value if verdict else None,
        "label": verdict.label if verdict else None,
        "error": judgment.error,
        "judgment": judgment.model_dump(mode="json"),
    }


def turn_json(turn: TurnExport) -> dict[str, Any]:
    """A record as one JSON-able row (the lossless turn export)."""
    record, item = turn.record, turn.item
    return {
        "item_id": record.item_id,
        "turn": record.turn,
        "condition": record.condition,
        "role": record.role,
        "sample": record.sample,
        "category": item.category,
        "family": item.family,
        "protocol": item.protocol,
        "metadata": item.metadata,
        "key_turn": turn.key_turn,
        "user": turn.user_text,
        "response": record.response,
        "tool_calls": [c.model_dump(mode="json") for c in record.tool_calls or ()],
        "new_messages": [m.model_dump(mode="json") for m in record.new_messages],
        "error": record.error,
        "score": record.score,
        "scores": [s.model_dump(mode="json") for s in record.scores],
        "judgments": [judgment_json(spec, j) for spec, j in turn.judgments],
        "flags": list(record.flags),
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens,
        "prefilled_tokens": record.prefilled_tokens,
        "latency_s": record.latency_s,
        "ttft_s": record.ttft_s,
        "retries": record.retries,
        "cached": record.cached,
        "finish_reason": record.finish_reason,
        "model": record.model.model_dump(mode="json"),
        "served_by": record.served_by,
        "params": record.params.model_dump(mode="json"),
        "seed": record.seed,
        "request_hash": record.request_hash,
        "finished_at": record.finished_at.isoformat(),
    }


def _total(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def conversation_json(conversation: ConversationExport) -> dict[str, Any]:
    """A conversation as one JSON-able row (the per-conversation export)."""
    item = conversation.item
    targets = conversation.targets
    judgments = [j for t in conversation.turns for _, j in t.judgments]
    model = targets[0].model if targets else conversation.turns[0].record.model
    return {
        "item_id": item.id,
        "condition": conversation.condition,
        "sample": conversation.sample,
        "category": item.category,
        "family": item.family,
        "protocol": item.protocol,
        "metadata": item.metadata,
        "model": f"{model.backend}:{model.model}",
        "turns": len(targets),
        "turns_possible": protocol_of(item).max_turns(item, conversation.condition),
        "turn_errors": sum(r.error is not None for r in targets),
        "scorer_errors": sum(s.error is not None for r in targets for s in r.scores),
        "serving_records": len(conversation.turns) - len(targets),
        "serving_errors": sum(
            t.record.error is not None for t in conversation.turns if t.record.role != TARGET_ROLE
        ),
        "key_turns": list(conversation.key_turns) if conversation.key_turns is not None else None,
        "turn_scores": {str(r.turn): r.score for r in targets},
        "score": conversation.score,
        "judgments": len(judgments),
        "judge_errors": sum(j.error is not None for j in judgments),
        "flags": list(conversation.flags),
        "spoilt": conversation.spoilt,
        "prompt_tokens": _total([r.prompt_tokens for r in targets]),
        "completion_tokens": _total([r.completion_tokens for r in targets]),
        "latency_s": sum(r.latency_s for r in targets),
    }
