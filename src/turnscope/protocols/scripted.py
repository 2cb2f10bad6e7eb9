"""The scripted protocol: fixed user turns, answered from own history, gold history, or as
one merged single-turn prompt (the single-turn twin)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from turnscope.core import (
    Content,
    ContentPart,
    Item,
    Message,
    Score,
    TextPart,
    TurnRecord,
    Variant,
    derive_seed,
)
from turnscope.protocols.base import CallOutcome, PlayContext, register_protocol
from turnscope.scorers import TurnView, score_turn

SINGLE_TURN_PREAMBLE = (
    "You are given {n} messages that a user sent one after another. Read all of them, "
    "then reply only to the last one, keeping everything said in the earlier ones in mind."
)
SINGLE_TURN_HEADER = "Message {i}:"


def merge_turns(item: Item) -> Content:
    """The single-turn twin's prompt: every user turn, numbered, under one preamble.

    Template (documented in docs/suite-format.md):
        <preamble naming n>\n\nMessage 1:\n<turn 1>\n\nMessage 2:\n<turn 2> ...
    Image parts are kept in place, so a multimodal item stays multimodal."""
    n = len(item.turns)
    if n == 1:
        return item.turns[0].user
    parts: list[ContentPart] = [TextPart(text=SINGLE_TURN_PREAMBLE.format(n=n))]
    for i, turn in enumerate(item.turns, start=1):
        header = f"\n\n{SINGLE_TURN_HEADER.format(i=i)}\n"
        if isinstance(turn.user, str):
            parts.append(TextPart(text=header + turn.user))
        else:
            parts.append(TextPart(text=header))
            parts.extend(turn.user)
    if all(isinstance(p, TextPart) for p in parts):
        return "".join(p.text for p in parts if isinstance(p, TextPart))
    return tuple(parts)


def build_record(
    item: Item,
    turn: int,
    ctx: PlayContext,
    new: tuple[Message, ...],
    history: tuple[Message, ...],
    outcome: CallOutcome,
    *,
    scored_turn: int | None = None,
) -> TurnRecord:
    """The record of one answered (or failed) request, scored with the scorers of item turn
    `scored_turn` (default `turn`; the feedback protocol scores every attempt as turn 1)."""
    completion = outcome.completion
    scores: tuple[Score, ...] = ()
    if completion is not None:
        judged = scored_turn or turn
        view = TurnView(
            item=item, turn=judged, response=completion.text, history=history, variant=ctx.variant
        )
        scores = score_turn(view, item.turns[judged - 1].scorers)
    return TurnRecord.model_validate(
        {
            "item_id": item.id,
            "turn": turn,
            "variant": ctx.variant,
            "sample": ctx.sample,
            "request_hash": outcome.request_hash,
            "new_messages": new,
            "response": completion.text if completion else None,
            "prompt_tokens": completion.prompt_tokens if completion else None,
            "completion_tokens": completion.completion_tokens if completion else None,
            "prefilled_tokens": completion.prefilled_tokens if completion else None,
            "finish_reason": completion.finish_reason if completion else None,
            "latency_s": completion.latency_s if completion and not outcome.cached else 0.0,
            "ttft_s": completion.ttft_s if completion and not outcome.cached else None,
            "retries": outcome.retries,
            "cached": outcome.cached,
            "error": outcome.error,
            "model": ctx.model,
            "params": ctx.params,
            "seed": outcome.seed,
            "scores": scores,
            "finished_at": datetime.now(UTC),
        }
    )


class ScriptedProtocol:
    """User turns are fixed; the variant decides what the assistant history holds."""

    name = "scripted"

    async def play(self, item: Item, ctx: PlayContext) -> AsyncIterator[TurnRecord]:
        system = (Message(role="system", content=item.system),) if item.system else ()
        if ctx.variant is Variant.SINGLE:
            last = len(item.turns)
            if last in ctx.finished:
                return
            merged = (*system, Message(role="user", content=merge_turns(item)))
            outcome = await ctx.complete(merged, self._seed(item, ctx, last), ctx.sample)
            yield build_record(item, last, ctx, merged, merged, outcome)
            return
        history: tuple[Message, ...] = system
        for index, turn in enumerate(item.turns, start=1):
            user = Message(role="user", content=turn.user)
            request = (*history, user)
            done = ctx.finished.get(index)
            if done is not None and done.response is not None:
                answer = done.response
            else:
                new = (*system, user) if index == 1 else (user,)
                outcome = await ctx.complete(request, self._seed(item, ctx, index), ctx.sample)
                record = build_record(item, index, ctx, new, request, outcome)
                yield record
                if record.response is None:
                    return  # the rest of this conversation cannot be played without an answer
                answer = record.response
            if ctx.variant is Variant.GOLD:
                assert turn.reference is not None  # the engine only plays gold with references
                answer = turn.reference
            history = (*request, Message(role="assistant", content=answer))

    @staticmethod
    def _seed(item: Item, ctx: PlayContext, turn: int) -> int:
        return derive_seed(ctx.run_seed, item.id, ctx.variant.value, ctx.sample, turn)


register_protocol(ScriptedProtocol())
