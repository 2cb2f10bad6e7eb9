from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from turnscope.core import GenerationParams, Item, Message, TurnRecord, Variant, content_text
from turnscope.engine import ModelCaller, RetryPolicy
from turnscope.models import PermanentModelError
from turnscope.models.llamacpp import LlamaCppClient
from turnscope.protocols import CallOutcome, PlayContext, ScriptedProtocol, merge_turns
from turnscope.suites import load_suite_file


class Recorder:
    """Wraps the real engine call and keeps every request's messages."""

    def __init__(self, caller: ModelCaller) -> None:
        self.caller = caller
        self.requests: list[tuple[Message, ...]] = []

    async def __call__(self, messages: Sequence[Message], seed: int, sample: int) -> CallOutcome:
        self.requests.append(tuple(messages))
        return await self.caller.complete(messages, seed, sample)


def context(
    embedded: LlamaCppClient,
    variant: Variant,
    recorder: Recorder,
    finished: dict[int, TurnRecord] | None = None,
) -> PlayContext:
    return PlayContext(
        variant=variant,
        sample=0,
        run_seed=0,
        complete=recorder,
        model=embedded.identity,
        params=GenerationParams(max_tokens=8),
        finished=finished or {},
    )


def make_recorder(embedded: LlamaCppClient) -> Recorder:
    return Recorder(ModelCaller(embedded, GenerationParams(max_tokens=8), RetryPolicy(), None))


async def play(item: Item, ctx: PlayContext) -> list[TurnRecord]:
    return [record async for record in ScriptedProtocol().play(item, ctx)]


def first_item(mini_suite: Path) -> Item:
    return load_suite_file(mini_suite).suite.items[0]


async def test_own_history_carries_the_models_answers(
    embedded: LlamaCppClient, mini_suite: Path
) -> None:
    item = first_item(mini_suite)
    recorder = make_recorder(embedded)
    records = await play(item, context(embedded, Variant.OWN, recorder))
    assert [r.turn for r in records] == [1, 2, 3]
    assert all(r.variant is Variant.OWN and r.response is not None for r in records)
    last = recorder.requests[-1]
    assert [m.role for m in last] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert last[2].content == records[0].response
    assert last[4].content == records[1].response
    assert records[0].new_messages[0].role == "system"
    assert [m.role for m in records[1].new_messages] == ["user"]
    assert all(len(r.scores) == 1 for r in records)


async def test_gold_history_uses_references(embedded: LlamaCppClient, mini_suite: Path) -> None:
    item = first_item(mini_suite)
    recorder = make_recorder(embedded)
    records = await play(item, context(embedded, Variant.GOLD, recorder))
    assert len(records) == 3 and all(r.variant is Variant.GOLD for r in records)
    last = recorder.requests[-1]
    assert last[2].content == "OK" and last[4].content == "4"


async def test_single_turn_twin_merges_every_turn(
    embedded: LlamaCppClient, mini_suite: Path
) -> None:
    item = first_item(mini_suite)
    recorder = make_recorder(embedded)
    records = await play(item, context(embedded, Variant.SINGLE, recorder))
    assert len(records) == 1 and len(recorder.requests) == 1
    assert records[0].turn == 3  # scored on the final answer with the last turn's scorers
    prompt = content_text(recorder.requests[0][-1].content)
    assert prompt == content_text(merge_turns(item))
    for i, turn in enumerate(item.turns, start=1):
        assert f"Message {i}:\n{turn.user}" in prompt
    assert prompt.startswith("You are given 3 messages")


async def test_finished_turns_are_not_asked_again(
    embedded: LlamaCppClient, mini_suite: Path
) -> None:
    item = first_item(mini_suite)
    first = await play(item, context(embedded, Variant.OWN, make_recorder(embedded)))
    recorder = make_recorder(embedded)
    resumed = await play(item, context(embedded, Variant.OWN, recorder, {1: first[0]}))
    assert [r.turn for r in resumed] == [2, 3]
    assert len(recorder.requests) == 2
    assert recorder.requests[0][2].content == first[0].response


async def test_a_failed_turn_ends_the_conversation_with_an_error(
    embedded: LlamaCppClient, mini_suite: Path
) -> None:
    item = first_item(mini_suite)
    real = make_recorder(embedded)

    async def fail_second(messages: Sequence[Message], seed: int, sample: int) -> CallOutcome:
        if sum(m.role == "user" for m in messages) == 2:
            return CallOutcome(
                request_hash="h", seed=seed, error=str(PermanentModelError("HTTP 400: bad request"))
            )
        return await real(messages, seed, sample)

    ctx = PlayContext(
        variant=Variant.OWN,
        sample=0,
        run_seed=0,
        complete=fail_second,
        model=embedded.identity,
        params=GenerationParams(max_tokens=8),
    )
    records = await play(item, ctx)
    assert [r.turn for r in records] == [1, 2]
    assert records[1].error == "HTTP 400: bad request"
    assert records[1].response is None and records[1].scores == ()
