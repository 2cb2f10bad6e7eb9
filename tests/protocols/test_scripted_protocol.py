from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from helpers.protocols import play_context
from turnscope.core import Completion, GenerationParams, Item, Message, TurnRecord, content_text
from turnscope.engine import ModelCaller, RetryPolicy
from turnscope.models import PermanentModelError
from turnscope.models.llamacpp import LlamaCppClient
from turnscope.protocols import CallOutcome, PlayContext, ScriptedProtocol, merge_turns
from turnscope.protocols.scripted import RESTATEMENT, without_echo
from turnscope.scorers.instructions import restated_instructions
from turnscope.suites import load_suite_file


class Recorder:
    """Wraps the real engine call and keeps every request's messages."""

    def __init__(self, caller: ModelCaller) -> None:
        self.caller = caller
        self.requests: list[tuple[Message, ...]] = []

    async def __call__(
        self,
        messages: Sequence[Message],
        seed: int,
        sample: int,
        *,
        params: GenerationParams | None = None,
    ) -> CallOutcome:
        self.requests.append(tuple(messages))
        return await self.caller.complete(messages, seed, sample, params=params)


def context(
    embedded: LlamaCppClient,
    variant: str,
    recorder: Recorder,
    finished: dict[int, TurnRecord] | None = None,
) -> PlayContext:
    return play_context(variant, embedded.identity, recorder, finished=finished)


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
    records = await play(item, context(embedded, "own", recorder))
    assert [r.turn for r in records] == [1, 2, 3]
    assert all(r.condition == "own" and r.response is not None for r in records)
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
    records = await play(item, context(embedded, "gold", recorder))
    assert len(records) == 3 and all(r.condition == "gold" for r in records)
    last = recorder.requests[-1]
    assert last[2].content == "OK" and last[4].content == "4"


async def test_single_turn_twin_merges_every_turn(
    embedded: LlamaCppClient, mini_suite: Path
) -> None:
    item = first_item(mini_suite)
    recorder = make_recorder(embedded)
    records = await play(item, context(embedded, "single", recorder))
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
    first = await play(item, context(embedded, "own", make_recorder(embedded)))
    recorder = make_recorder(embedded)
    resumed = await play(item, context(embedded, "own", recorder, {1: first[0]}))
    assert [r.turn for r in resumed] == [2, 3]
    assert len(recorder.requests) == 2
    assert recorder.requests[0][2].content == first[0].response


async def test_a_failed_turn_ends_the_conversation_with_an_error(
    embedded: LlamaCppClient, mini_suite: Path
) -> None:
    item = first_item(mini_suite)
    real = make_recorder(embedded)

    async def fail_second(
        messages: Sequence[Message],
        seed: int,
        sample: int,
        *,
        params: GenerationParams | None = None,
    ) -> CallOutcome:
        if sum(m.role == "user" for m in messages) == 2:
            return CallOutcome(
                request_hash="h", seed=seed, error=str(PermanentModelError("HTTP 400: bad request"))
            )
        return await real(messages, seed, sample)

    ctx = play_context("own", embedded.identity, fail_second)
    records = await play(item, ctx)
    assert [r.turn for r in records] == [1, 2]
    assert records[1].error == "HTTP 400: bad request"
    assert records[1].response is None and records[1].scores == ()


async def test_user_only_history_drops_every_earlier_answer(
    embedded: LlamaCppClient, mini_suite: Path
) -> None:
    item = first_item(mini_suite)
    recorder = make_recorder(embedded)
    records = await play(item, context(embedded, "user-only", recorder))
    assert [r.turn for r in records] == [1, 2, 3] and all(
        r.condition == "user-only" for r in records
    )
    last = recorder.requests[-1]
    assert [m.role for m in last] == ["system", "user", "user", "user"]
    assert [m.content for m in last[1:]] == [t.user for t in item.turns]
    history = ScriptedProtocol().history(item, "user-only", {r.turn: r for r in records}, 3)
    assert history == last


INSTRUCTED = Item.model_validate(
    {
        "id": "instructed",
        "turns": [
            {
                "user": "Write one sentence about rivers, without any comma.",
                "scorers": [{"type": "instructions", "add": [{"id": "punctuation:no_comma"}]}],
            },
            {"user": "Now one about lakes.", "scorers": [{"type": "instructions"}]},
        ],
    }
)


async def test_restated_appends_the_instructions_in_force_to_every_user_turn(
    embedded: LlamaCppClient,
) -> None:
    recorder = make_recorder(embedded)
    records = await play(INSTRUCTED, context(embedded, "restated", recorder))
    assert [r.turn for r in records] == [1, 2]
    sent = [m for m in recorder.requests[-1] if m.role == "user"]
    reminder = restated_instructions(INSTRUCTED, 2)
    assert reminder and "comma" in reminder
    assert sent[1].content == f"Now one about lakes.{RESTATEMENT.format(instructions=reminder)}"
    assert records[1].new_messages == (sent[1],)  # the record keeps what was really sent
    assert [m.role for m in recorder.requests[-1]] == ["user", "assistant", "user"]
    # Each turn is checked against the same instructions as under own.
    assert records[1].scores[0].checks[0].name == "punctuation:no_comma"


def test_restated_and_gold_are_skipped_where_they_cannot_apply(mini_suite: Path) -> None:
    protocol = ScriptedProtocol()
    recall = first_item(mini_suite)
    assert protocol.skip_reason(recall, "restated") is not None  # no instruction to restate
    assert protocol.skip_reason(INSTRUCTED, "restated") is None
    assert protocol.skip_reason(INSTRUCTED, "gold") is not None  # no references
    assert protocol.skip_reason(recall, "gold") is None


PET = Item.model_validate(
    {
        "id": "pet",
        "turns": [
            {"user": "My dog is called Biscuit. Say OK.", "reference": "OK"},
            {"user": "What is 2 plus 2?", "reference": "4"},
            {
                "user": "What is my dog called?",
                "reference": "Biscuit",
                "scorers": [{"type": "contains"}],
            },
        ],
    }
)


def test_an_answer_that_echoes_the_twins_prompt_does_not_pass_recall() -> None:
    prompt = content_text(merge_turns(PET))
    echo = f"Your message is: {prompt}"
    scored, removed = without_echo(echo, prompt)
    assert "Biscuit" not in scored and removed >= 20
    # An answer in the model's own words keeps every word, the fact included.
    honest = "Your dog is called Biscuit."
    assert without_echo(honest, prompt) == (honest, 0)


async def test_the_twin_is_scored_without_what_it_echoes(embedded: LlamaCppClient) -> None:
    prompt = content_text(merge_turns(PET))

    async def echoing(
        messages: Sequence[Message],
        seed: int,
        sample: int,
        *,
        params: GenerationParams | None = None,
    ) -> CallOutcome:
        return CallOutcome(
            request_hash="h", seed=seed, completion=Completion(text=f"Sure. {prompt}")
        )

    (record,) = await play(PET, play_context("single", embedded.identity, echoing))
    assert record.response == f"Sure. {prompt}"  # stored as the model gave it
    assert record.scores[0].value == 0.0  # the echoed fact does not count
    assert any(flag.startswith("echo-removed:") for flag in record.flags)
