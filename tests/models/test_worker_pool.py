"""The embedded worker pool on its own: placement, warm caches, failures, bad weights."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from turnscope.core import GenerationParams, Message
from turnscope.models import ModelConfigError, PermanentModelError
from turnscope.models.llamacpp import embedded_identity
from turnscope.models.workers import WorkerPool

pytestmark = pytest.mark.timeout(180)

PARAMS = GenerationParams(max_tokens=8)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pool(gguf_path: Path) -> AsyncIterator[WorkerPool]:
    workers = WorkerPool(gguf_path, embedded_identity(gguf_path), workers=2, n_ctx=1024)
    await workers.preflight()
    yield workers
    await workers.aclose()


def user(text: str) -> Message:
    return Message(role="user", content=text)


@pytest.mark.asyncio(loop_scope="module")
async def test_conversations_that_open_alike_play_on_two_workers_and_stay(
    pool: WorkerPool,
) -> None:
    opening = [Message(role="system", content="Be brief."), user("Name a colour.")]
    # Two samples of one item: the same first request, at once.
    first = await asyncio.gather(
        pool.generate(opening, PARAMS, seed=1), pool.generate(opening, PARAMS, seed=2)
    )
    assert {c.served_by for c in first} == {"worker-1", "worker-2"}
    second = await asyncio.gather(
        *(
            pool.generate(
                [*opening, Message(role="assistant", content=c.text), user("Another.")],
                PARAMS,
                seed=3,
            )
            for c in first
        )
    )
    # Each continues on a worker holding its history (greedy: both workers hold the same
    # one, and the second request takes the idle one), and prefills only the new turn.
    assert {c.served_by for c in second} == {"worker-1", "worker-2"}
    for answer in second:
        assert answer.prefilled_tokens is not None and answer.prompt_tokens is not None
        assert answer.prefilled_tokens < answer.prompt_tokens / 2
    assert pool.moved == 0

    # Two new conversations take both workers; the first one's next turn then finds no worker
    # holding its history: it is played anyway, prefilled in full, and counted.
    await asyncio.gather(*(pool.generate([user(t)], PARAMS, seed=0) for t in ("Hi.", "Yo.")))
    history = [*opening, Message(role="assistant", content=first[0].text), user("Another.")]
    history += [Message(role="assistant", content=second[0].text), user("And a third.")]
    third = await pool.generate(history, PARAMS, seed=4)
    assert third.text and pool.moved == 1


@pytest.mark.asyncio(loop_scope="module")
async def test_an_answer_given_up_on_is_not_taken_for_the_next(pool: WorkerPool) -> None:
    long = GenerationParams(max_tokens=64)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await pool.generate([user("Write a long story about a fox.")], long, seed=0)
    # Every worker is asked once more; each answer is to its own request, whose prompt is
    # longer than the abandoned one's.
    asked = [user("Say hello to the river and to the mountain, politely and briefly.")]
    answers = await asyncio.gather(*(pool.generate(asked, PARAMS, seed=s) for s in (5, 6)))
    alone = await pool.generate(asked, PARAMS, seed=5)
    assert {a.prompt_tokens for a in answers} == {alone.prompt_tokens}


@pytest.mark.asyncio(loop_scope="module")
async def test_a_request_the_model_refuses_fails_and_the_worker_stays(pool: WorkerPool) -> None:
    tool = Message(role="tool", content="42", tool_call_id="call-1")
    with pytest.raises(PermanentModelError, match="tool calls"):
        await pool.generate([user("Compute."), tool], PARAMS, seed=0)
    answer = await pool.generate([user("Hello.")], PARAMS, seed=0)
    assert answer.text and pool.restarts == 0


@pytest.mark.asyncio
async def test_weights_that_do_not_load_are_one_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf file at all")
    workers = WorkerPool(bad, embedded_identity(bad), workers=2, n_ctx=256)
    try:
        with pytest.raises(ModelConfigError, match="cannot load GGUF") as caught:
            await workers.preflight()
        assert "\n" not in str(caught.value)
    finally:
        await workers.aclose()
    assert workers.pids() == []
