"""The scheduler: one asyncio task per conversation, turns in order inside it, many in flight.

Nothing here knows a conversation's shape: which conditions an item is played under, how many
turns it records and what it needs are asked of the item's protocol."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from turnscope.core import TARGET_ROLE, Condition, Item, RunConfig, TurnRecord
from turnscope.engine.calls import ModelCaller
from turnscope.protocols import (
    ConversationProtocol,
    PlayContext,
    RoleCaller,
    check_protocols,
    get_protocol,
)


class RecordSink(Protocol):
    """Where finished records go (the run store) and where earlier ones are found on resume."""

    def conversation_records(
        self, item_id: str, condition: Condition, sample: int
    ) -> list[TurnRecord]:
        """Every record of one conversation so far (all roles), in turn order."""
        ...

    def commit(self, record: TurnRecord) -> None:
        """Persist one finished record at once."""
        ...

    def commit_many(self, records: Sequence[TurnRecord]) -> None:
        """Persist several finished records at once, in one transaction."""
        ...


class _GroupCommit:
    """Commits the records that finish in the same pass of the event loop in one transaction
    (a transaction per record was a measurable share of a turn against a fast server).

    A conversation waits for its record's transaction before it goes on, so nothing is
    acknowledged (counted, shown, judged, or followed by the next turn's request) before it is
    on disk: a run killed before the transaction ends loses only records it never reported,
    and plays their turns again on resume, as when it is killed mid-request."""

    def __init__(self, sink: RecordSink) -> None:
        self._sink = sink
        self._waiting: list[tuple[TurnRecord, asyncio.Future[None]]] = []

    async def commit(self, record: TurnRecord) -> None:
        """Return once `record` is committed (raise what committing it raised)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._flush)
        self._waiting.append((record, done))
        await done

    def _flush(self) -> None:
        waiting, self._waiting = self._waiting, []
        try:
            self._sink.commit_many([record for record, _ in waiting])
        except Exception as exc:  # a full disk: every conversation in the batch stops on it
            for _, done in waiting:
                if not done.done():
                    done.set_exception(exc)
            return
        for _, done in waiting:
            if not done.done():
                done.set_result(None)


@dataclass(frozen=True)
class Conversation:
    """One conversation to play: an item under a condition, as sample number `sample`."""

    item: Item
    condition: Condition
    sample: int

    @property
    def protocol(self) -> ConversationProtocol:
        """The protocol that plays the item."""
        return get_protocol(self.item.protocol)

    @property
    def turn_count(self) -> int:
        """Target turns this conversation records when played in full."""
        return self.protocol.max_turns(self.item, self.condition)


@dataclass
class RunPlan:
    """What a run will play, and what it leaves out and why."""

    conversations: list[Conversation] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    """Reason -> (item, condition) pairs left out for it (counted once, not per sample)."""
    roles: tuple[str, ...] = ()
    """Serving roles the planned conversations need besides the target."""

    @property
    def total_turns(self) -> int:
        """Target turns the plan records when every conversation plays in full (one that
        ends early, a solved feedback task, records fewer)."""
        return sum(c.turn_count for c in self.conversations)


def plan_run(items: Sequence[Item], config: RunConfig) -> RunPlan:
    """Every (item, condition, sample) to play, in a deterministic order; ValueError naming the
    item if its protocol is unknown or rejects it (before anything is played)."""
    check_protocols(items)
    plan = RunPlan()
    roles: dict[str, None] = {}
    for condition in config.conditions:
        playable: list[Item] = []
        for item in items:
            protocol = get_protocol(item.protocol)
            if condition not in protocol.item_conditions(item):
                plan.skipped[f"{condition}: not played by the {protocol.name} protocol"] += 1
                continue
            reason = protocol.skip_reason(item, condition)
            if reason is not None:
                plan.skipped[f"{condition}: {reason}"] += 1
                continue
            roles.update(dict.fromkeys(protocol.condition_roles(item, condition)))
            playable.append(item)
        for sample in range(config.samples):
            plan.conversations.extend(Conversation(item, condition, sample) for item in playable)
    plan.roles = tuple(roles)
    return plan


def missing_roles(plan: RunPlan, available: Iterable[str]) -> list[str]:
    """Roles the plan needs that the run does not have."""
    have = set(available)
    return [role for role in plan.roles if role not in have]


@dataclass
class EngineResult:
    """Counts from one engine pass."""

    turns_recorded: int = 0
    """Target turns committed in this pass (answered or failed)."""
    turn_errors: int = 0
    """Of those, turns recorded with an error."""
    turns_already_done: int = 0
    """Target turns found answered in the store before this pass (resume)."""
    role_records: Counter[str] = field(default_factory=Counter)
    """Records of serving roles committed in this pass, by role."""
    role_errors: Counter[str] = field(default_factory=Counter)
    """Of those, records with an error, by role."""


def _answered_by_role(records: Iterable[TurnRecord]) -> dict[str, dict[int, TurnRecord]]:
    by_role: dict[str, dict[int, TurnRecord]] = {}
    for record in records:
        if record.response is not None:
            by_role.setdefault(record.role, {})[record.turn] = record
    return by_role


async def play_conversations(
    plan: RunPlan,
    config: RunConfig,
    callers: Mapping[str, ModelCaller],
    sink: RecordSink,
    on_record: Callable[[TurnRecord], None] | None = None,
    on_turns_left_out: Callable[[int], None] | None = None,
) -> EngineResult:
    """Play every conversation of the plan with its item's protocol; each finished record is
    committed (with those finishing beside it) before its conversation goes on. `callers`
    holds one caller per model role ("target" first). `on_turns_left_out(n)` is told, as each
    conversation ends, how many of its planned target turns it will not record (it ended
    early: solved, stopped by its user, or by an error), so a progress display reaches its total."""
    target = callers[TARGET_ROLE]
    backend_limit = target.client.max_concurrency
    limit = min(config.concurrency, backend_limit) if backend_limit else config.concurrency
    gate = asyncio.Semaphore(limit)
    result = EngineResult()
    committer = _GroupCommit(sink)
    roles = {
        name: RoleCaller(
            role=name,
            identity=caller.client.identity,
            params=caller.params,
            complete=caller.complete,
        )
        for name, caller in callers.items()
    }

    async def play_one(conversation: Conversation) -> None:
        item, condition, sample = conversation.item, conversation.condition, conversation.sample
        finished = _answered_by_role(sink.conversation_records(item.id, condition, sample))
        done = len(finished.get(TARGET_ROLE, {}))
        result.turns_already_done += done
        if done >= conversation.turn_count:
            return
        recorded = 0
        async with gate:
            ctx = PlayContext(
                condition=condition,
                sample=sample,
                run_seed=config.seed,
                roles=roles,
                finished=finished,
                history_answers=conversation.protocol.history_answers(condition),
            )
            async for record in conversation.protocol.play(item, ctx):
                await committer.commit(record)
                if record.role == TARGET_ROLE:
                    recorded += 1
                    result.turns_recorded += 1
                    result.turn_errors += record.error is not None
                else:
                    result.role_records[record.role] += 1
                    result.role_errors[record.role] += record.error is not None
                if on_record is not None:
                    on_record(record)
        left_out = conversation.turn_count - done - recorded
        if on_turns_left_out is not None and left_out > 0:
            on_turns_left_out(left_out)

    tasks = [asyncio.create_task(play_one(c)) for c in plan.conversations]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    return result
