"""The feedback protocol: attempts at one task until it is solved or the budget is spent,
played against the real embedded model; a fault-injecting call only for the error case."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from helpers.protocols import play_context
from turnscope.core import GenerationParams, Item, Message, RunConfig, TurnRecord
from turnscope.engine import ModelCaller, RetryPolicy, plan_run
from turnscope.models.llamacpp import LlamaCppClient
from turnscope.protocols import CallOutcome, FeedbackProtocol, PlayContext, check_protocols
from turnscope.run import create_run, execute_run
from turnscope.suites.builtin import CORE, build

TASK = "What is 41 times 23? Reply with the number only."
HINTS = ("Wrong. Hint: it is odd.", "Wrong. Hint: it is between 900 and 950.")
RETRY = "Wrong. Try again."


def feedback_item(scorer: dict[str, Any], budget: int = 3, item_id: str = "fb") -> Item:
    return Item.model_validate(
        {
            "id": item_id,
            "system": "Answer briefly.",
            "protocol": "feedback",
            "feedback": {"budget": budget, "retry": RETRY, "hints": list(HINTS)},
            "turns": [{"user": TASK, "reference": "943", "scorers": [scorer]}],
        }
    )


NEVER = {"type": "numeric", "expected": 987654321}
ALWAYS = {"type": "regex", "pattern": r"[\s\S]"}


class Recorder:
    """The real engine call, keeping every request's messages; `fail_call` injects an error."""

    def __init__(self, embedded: LlamaCppClient, fail_call: int | None = None) -> None:
        self.caller = ModelCaller(embedded, GenerationParams(max_tokens=8), RetryPolicy(), None)
        self.requests: list[tuple[Message, ...]] = []
        self.fail_call = fail_call

    async def __call__(
        self,
        messages: Sequence[Message],
        seed: int,
        sample: int,
        *,
        params: GenerationParams | None = None,
    ) -> CallOutcome:
        self.requests.append(tuple(messages))
        if len(self.requests) == self.fail_call:
            return CallOutcome(request_hash="x", seed=seed, error="injected failure")
        return await self.caller.complete(messages, seed, sample)


def context(
    embedded: LlamaCppClient, recorder: Recorder, finished: dict[int, TurnRecord] | None = None
) -> PlayContext:
    return play_context("own", embedded.identity, recorder, finished=finished, protocol="feedback")


async def play(item: Item, ctx: PlayContext) -> list[TurnRecord]:
    return [record async for record in FeedbackProtocol().play(item, ctx)]


async def test_unsolved_task_uses_the_whole_budget_with_hints_then_retry(
    embedded: LlamaCppClient,
) -> None:
    item = feedback_item(NEVER, budget=4)
    recorder = Recorder(embedded)
    records = await play(item, context(embedded, recorder))
    assert [r.turn for r in records] == [1, 2, 3, 4]
    assert all(r.response is not None and r.score == 0.0 for r in records)
    assert [m.role for m in records[0].new_messages] == ["system", "user"]
    said = [r.new_messages[-1].content for r in records[1:]]
    assert said == [HINTS[0], HINTS[1], RETRY]  # hints first, then the bare retry
    last = recorder.requests[-1]
    assert [m.role for m in last] == ["system"] + ["user", "assistant"] * 3 + ["user"]
    assert [m.content for m in last if m.role == "assistant"] == [r.response for r in records[:3]]


async def test_a_solved_attempt_ends_the_conversation(embedded: LlamaCppClient) -> None:
    recorder = Recorder(embedded)
    records = await play(feedback_item(ALWAYS), context(embedded, recorder))
    assert [r.turn for r in records] == [1] and records[0].score == 1.0
    assert len(recorder.requests) == 1


async def test_resume_never_asks_a_finished_attempt_again(embedded: LlamaCppClient) -> None:
    item = feedback_item(NEVER)
    first = await play(item, context(embedded, Recorder(embedded)))
    recorder = Recorder(embedded)
    rest = await play(item, context(embedded, recorder, {1: first[0], 2: first[1]}))
    assert [r.turn for r in rest] == [3] and len(recorder.requests) == 1
    history = recorder.requests[0]
    assert [m.content for m in history if m.role == "assistant"] == [
        first[0].response,
        first[1].response,
    ]
    assert rest[0].response == first[2].response  # greedy: the same answer as before

    solved = await play(feedback_item(ALWAYS), context(embedded, Recorder(embedded)))
    recorder = Recorder(embedded)
    again = await play(feedback_item(ALWAYS), context(embedded, recorder, {1: solved[0]}))
    assert again == [] and recorder.requests == []


async def test_a_failed_attempt_is_recorded_as_an_error_and_retried_on_resume(
    embedded: LlamaCppClient,
) -> None:
    item = feedback_item(NEVER)
    records = await play(item, context(embedded, Recorder(embedded, fail_call=2)))
    assert [r.turn for r in records] == [1, 2]
    assert records[1].error == "injected failure" and records[1].scores == ()
    recorder = Recorder(embedded)
    rest = await play(item, context(embedded, recorder, {1: records[0]}))
    assert [r.turn for r in rest] == [2, 3] and all(r.error is None for r in rest)


async def test_engine_plays_feedback_items_in_own_only_and_counts_the_rest(
    embedded: LlamaCppClient, tmp_path: Path
) -> None:
    scripted = Item.model_validate(
        {"id": "plain", "turns": [{"user": "Say hi.", "reference": "hi", "scorers": [ALWAYS]}]}
    )
    items = [scripted, feedback_item(NEVER, budget=2), feedback_item(ALWAYS, item_id="easy")]
    config = RunConfig(
        model="llamacpp",
        suite="mixed",
        conditions=("own", "gold", "single"),
        params=GenerationParams(max_tokens=8),
        use_cache=False,
        created_at=datetime.now(UTC),
    )
    plan = plan_run(items, config)
    assert sum(plan.skipped.values()) == 4  # two feedback items x (gold, single)
    assert plan.skipped["gold: not played by the feedback protocol"] == 2
    store = create_run(config, items, tmp_path / "runs")
    outcome = await execute_run(store, embedded)
    got = sorted((r.item_id, r.condition, r.turn) for r in store.records())
    assert got == [
        ("easy", "own", 1),
        ("fb", "own", 1),
        ("fb", "own", 2),
        ("plain", "gold", 1),
        ("plain", "own", 1),
        ("plain", "single", 1),
    ]
    assert sum(store.meta("skipped").values()) == 4 and outcome.engine.turn_errors == 0
    store.close()


def test_core_plan_skips_feedback_items_outside_own() -> None:
    # The scripted and feedback items of core (its sharded items play other conditions).
    items = [item for item in build(CORE, 0).items if item.protocol != "simulated"]
    config = RunConfig(
        model="llamacpp",
        suite="core",
        conditions=("own", "gold", "single"),
        created_at=datetime.now(UTC),
    )
    feedback = sum(item.protocol == "feedback" for item in items)
    scripted = sum(item.protocol == "scripted" for item in items)
    # compute and hidden-rule items play none of these three conditions.
    others = len(items) - feedback - scripted
    plan = plan_run(items, config)
    assert sum(plan.skipped.values()) == 2 * feedback + 3 * others
    assert len(plan.conversations) == 3 * scripted + feedback


def test_feedback_items_are_validated_by_their_protocol() -> None:
    task = [{"user": TASK, "reference": "943", "scorers": [NEVER]}]

    def check(data: dict[str, Any]) -> None:
        check_protocols([Item.model_validate({"id": "a", "turns": task, **data})])

    with pytest.raises(ValueError, match=r"item 'a': field 'setup.budget': Field required"):
        check({"protocol": "feedback"})
    with pytest.raises(ValueError, match="field 'setup': protocol 'scripted' takes no setup"):
        check({"feedback": {"budget": 2}})
    with pytest.raises(ValueError, match="exactly one turn"):
        check({"protocol": "feedback", "setup": {"budget": 2}, "turns": task * 2})
    with pytest.raises(ValueError, match=r"setup\.budget"):
        check({"protocol": "feedback", "setup": {"budget": 0}})
    # `feedback:` is the older spelling of a feedback item's setup, still read.
    check({"protocol": "feedback", "feedback": {"budget": 2}})


def test_unknown_protocol_is_named() -> None:
    item = Item.model_validate({"id": "odd", "protocol": "telepathy", "turns": [{"user": "hi"}]})
    with pytest.raises(ValueError, match=r"item 'odd': unknown protocol 'telepathy' \(known: "):
        check_protocols([item])
    config = RunConfig(model="llamacpp", suite="odd", created_at=datetime.now(UTC))
    with pytest.raises(ValueError, match="unknown protocol 'telepathy'"):
        plan_run([item], config)
