"""The feedback protocol: one verifiable task, attempted until solved or the budget runs out.

Attempt t is asked as turn t and recorded as TurnRecord.turn == t. After a wrong attempt the
user says only that it is wrong (FeedbackSpec.retry) or gives the next hint; the conversation
stops at the first attempt scored 1.0, or after `budget` attempts. Every attempt is judged by
the scorers of the item's one turn (the task). Only the own-history variant applies: the
engine leaves feedback items out of gold and single and counts them."""

from __future__ import annotations

from collections.abc import AsyncIterator

from turnscope.core import Item, Message, TurnRecord, derive_seed
from turnscope.protocols.base import PlayContext, register_protocol
from turnscope.protocols.scripted import build_record


def solved(record: TurnRecord) -> bool:
    """Whether an attempt ends the conversation: it scored 1.0."""
    return record.score == 1.0


class FeedbackProtocol:
    """Ask the task, then answer every wrong attempt with the retry message or a hint."""

    name = "feedback"

    async def play(self, item: Item, ctx: PlayContext) -> AsyncIterator[TurnRecord]:
        spec = item.feedback
        if spec is None:
            raise ValueError(f"item {item.id!r}: the feedback protocol needs a 'feedback' spec")
        system = (Message(role="system", content=item.system),) if item.system else ()
        user = Message(role="user", content=item.turns[0].user)
        history: tuple[Message, ...] = system
        for attempt in range(1, spec.budget + 1):
            request = (*history, user)
            record = ctx.finished.get(attempt)
            if record is None or record.response is None:
                new = (*system, user) if attempt == 1 else (user,)
                seed = derive_seed(ctx.run_seed, item.id, ctx.variant.value, ctx.sample, attempt)
                outcome = await ctx.complete(request, seed, ctx.sample)
                record = build_record(item, attempt, ctx, new, request, outcome, scored_turn=1)
                yield record
                if record.response is None:
                    return  # no answer to give feedback on: the attempt is recorded as an error
            if solved(record):
                return
            assert record.response is not None
            history = (*request, Message(role="assistant", content=record.response))
            user = Message(role="user", content=spec.message_after(attempt))


register_protocol(FeedbackProtocol())
