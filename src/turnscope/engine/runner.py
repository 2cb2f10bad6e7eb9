"""The scheduler: one asyncio task per conversation, turns in order inside it, many in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from turnscope.core import Item, RunConfig, TurnRecord, Variant
from turnscope.engine.calls import ModelCaller
from turnscope.protocols import PlayContext, check_protocols, get_protocol


class RecordSink(Protocol):
    """Where finished turns go (the run store) and where earlier ones are found on resume."""

    def finished_turns(self, item_id: str, variant: Variant, sample: int) -> dict[int, TurnRecord]:
        """Turns of one conversation already recorded, by turn index."""
        ...

    def commit(self, record: TurnRecord) -> None:
        """Persist one finished turn at once."""
        ...


@dataclass(frozen=True)
class Conversation:
    """One conversation to play: an item under a variant, as sample number `sample`."""

    item: Item
    variant: Variant
    sample: int

    @property
    def turn_count(self) -> int:
        """Turns this conversation records when played in full (for a feedback item: its
        budget, the most attempts it can take)."""
        if self.item.feedback is not None:
            return self.item.feedback.budget
        return 1 if self.variant is Variant.SINGLE else len(self.item.turns)


@dataclass
class RunPlan:
    """What a run will play, and what it leaves out."""

    conversations: list[Conversation] = field(default_factory=list)
    skipped_without_reference: int = 0
    """Items left out of the gold-history variant because a turn has no reference."""
    skipped_feedback: int = 0
    """(feedback item, variant) pairs left out: the feedback protocol plays only own history."""

    @property
    def total_turns(self) -> int:
        """Turns the plan records when every conversation plays in full (a feedback
        conversation that is solved early records fewer)."""
        return sum(c.turn_count for c in self.conversations)


def plan_run(items: Sequence[Item], config: RunConfig) -> RunPlan:
    """Every (item, variant, sample) to play, in a deterministic order; ValueError naming the
    item if one names an unknown protocol (before anything is played or marked running)."""
    check_protocols(items)
    plan = RunPlan()
    for variant in config.variants:
        for sample in range(config.samples):
            for item in items:
                if item.protocol == "feedback" and variant is not Variant.OWN:
                    if sample == 0:
                        plan.skipped_feedback += 1
                    continue
                if variant is Variant.GOLD and not item.has_references:
                    if sample == 0:
                        plan.skipped_without_reference += 1
                    continue
                plan.conversations.append(Conversation(item, variant, sample))
    return plan


@dataclass
class EngineResult:
    """Counts from one engine pass."""

    turns_recorded: int = 0
    """Turns committed in this pass (answered or failed)."""
    turn_errors: int = 0
    """Of those, turns recorded with an error."""
    turns_already_done: int = 0
    """Turns found finished in the store before this pass (resume)."""


async def play_conversations(
    plan: RunPlan,
    config: RunConfig,
    caller: ModelCaller,
    sink: RecordSink,
    on_record: Callable[[TurnRecord], None] | None = None,
) -> EngineResult:
    """Play every conversation of the plan, each with its item's protocol; each finished turn
    is committed before the next."""
    backend_limit = caller.client.max_concurrency
    limit = min(config.concurrency, backend_limit) if backend_limit else config.concurrency
    gate = asyncio.Semaphore(limit)
    result = EngineResult()

    async def play_one(conversation: Conversation) -> None:
        finished = {
            turn: record
            for turn, record in sink.finished_turns(
                conversation.item.id, conversation.variant, conversation.sample
            ).items()
            if record.response is not None
        }
        result.turns_already_done += len(finished)
        if len(finished) >= conversation.turn_count:
            return
        protocol = get_protocol(conversation.item.protocol)
        async with gate:
            ctx = PlayContext(
                variant=conversation.variant,
                sample=conversation.sample,
                run_seed=config.seed,
                complete=caller.complete,
                model=caller.client.identity,
                params=config.params,
                finished=finished,
            )
            async for record in protocol.play(conversation.item, ctx):
                sink.commit(record)
                result.turns_recorded += 1
                result.turn_errors += record.error is not None
                if on_record is not None:
                    on_record(record)

    tasks = [asyncio.create_task(play_one(c)) for c in plan.conversations]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    return result
