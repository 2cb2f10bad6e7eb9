from __future__ import annotations

import os
from pathlib import Path

import pytest

from turnscope.core import (
    GenerationParams,
    ImagePart,
    ImageURL,
    Message,
    TextPart,
    ToolCall,
    ToolFunctionCall,
    ToolSpec,
)
from turnscope.models import BackendOptions, ModelConfigError, PermanentModelError, create_client
from turnscope.models.llamacpp import LlamaCppClient, default_threads


async def test_generates_and_reports_costs(
    embedded: LlamaCppClient, small_params: GenerationParams
) -> None:
    completion = await embedded.generate(
        [Message(role="user", content="What is the capital of France?")], small_params, seed=1
    )
    assert completion.text.strip()
    assert 0 < (completion.completion_tokens or 0) <= small_params.max_tokens
    assert completion.prompt_tokens and completion.prompt_tokens > 5
    assert completion.ttft_s is not None and 0 < completion.ttft_s <= completion.latency_s
    assert completion.finish_reason in ("stop", "length")


async def test_second_turn_prefills_only_new_tokens(embedded: LlamaCppClient) -> None:
    params = GenerationParams(max_tokens=24)
    history = [
        Message(role="system", content="Be brief."),
        Message(role="user", content="Name three fruits."),
    ]
    first = await embedded.generate(history, params, seed=3)
    assert first.prefilled_tokens == first.prompt_tokens
    history += [
        Message(role="assistant", content=first.text),
        Message(role="user", content="Now name three vegetables."),
    ]
    second = await embedded.generate(history, params, seed=3)
    assert second.prompt_tokens is not None and second.prefilled_tokens is not None
    # Everything up to the end of the first answer is reused from the warm cache: what is
    # prefilled is the end-of-turn marker, the new user message and the assistant header.
    new_part = second.prompt_tokens - (first.prompt_tokens or 0) - (first.completion_tokens or 0)
    assert second.prefilled_tokens <= new_part + 1
    assert second.prefilled_tokens < second.prompt_tokens / 2


async def test_greedy_is_deterministic_and_seeded_sampling_repeats(
    embedded: LlamaCppClient,
) -> None:
    messages = [Message(role="user", content="Write a word that rhymes with cat.")]
    sampled = GenerationParams(max_tokens=10, temperature=1.0)
    a = await embedded.generate(messages, sampled, seed=11)
    b = await embedded.generate(messages, sampled, seed=11)
    assert a.text == b.text
    greedy = GenerationParams(max_tokens=10)
    assert (await embedded.generate(messages, greedy, seed=1)).text == (
        await embedded.generate(messages, greedy, seed=2)
    ).text


async def test_context_overflow_is_permanent(gguf_path: Path) -> None:
    client = LlamaCppClient(gguf_path, n_ctx=256, n_threads=2)
    try:
        with pytest.raises(PermanentModelError, match="context overflow"):
            await client.generate(
                [Message(role="user", content="word " * 400)],
                GenerationParams(max_tokens=4),
                seed=0,
            )
    finally:
        await client.aclose()


async def test_images_are_refused_clearly(embedded: LlamaCppClient) -> None:
    content = (
        TextPart(text="What is this?"),
        ImagePart(image_url=ImageURL(url="data:image/png;base64,AAAA")),
    )
    with pytest.raises(PermanentModelError, match="text only"):
        await embedded.generate(
            [Message(role="user", content=content)], GenerationParams(max_tokens=4), seed=0
        )


async def test_tools_and_tool_messages_are_refused_clearly(embedded: LlamaCppClient) -> None:
    ask = [Message(role="user", content="Weather in Paris?")]
    with pytest.raises(PermanentModelError, match="does not support tool calls"):
        await embedded.generate(ask, GenerationParams(tools=(ToolSpec(name="weather"),)), seed=0)
    call = ToolCall(id="c1", function=ToolFunctionCall(name="weather", arguments="{}"))
    history = [
        *ask,
        Message(role="assistant", content="", tool_calls=(call,)),
        Message(role="tool", content="sunny", tool_call_id="c1"),
    ]
    with pytest.raises(PermanentModelError, match="does not support tool calls"):
        await embedded.generate(history, GenerationParams(), seed=0)


async def test_stop_strings_cut_the_answer(embedded: LlamaCppClient) -> None:
    params = GenerationParams(max_tokens=40, stop=(" ",))
    completion = await embedded.generate(
        [Message(role="user", content="Write a long sentence about the sea.")], params, seed=0
    )
    assert " " not in completion.text
    assert completion.finish_reason == "stop"


def test_specs_and_identity(gguf_path: Path, tmp_path: Path) -> None:
    client = create_client("llamacpp")
    assert client.identity.backend == "llamacpp"
    assert client.identity.model == gguf_path.name
    assert client.identity.revision.startswith(f"{gguf_path.stat().st_size}:")
    assert client.max_concurrency == 1
    with pytest.raises(ModelConfigError, match="GGUF file not found"):
        create_client(f"llamacpp:{tmp_path / 'missing.gguf'}")
    with pytest.raises(ModelConfigError, match="unknown model spec 'nonsense:x'"):
        create_client("nonsense:x")
    with pytest.raises(ModelConfigError, match="not an option of the llamacpp backend"):
        create_client("llamacpp", BackendOptions(extra={"n_thread": 1}))


def test_thread_counts_come_from_options_or_half_the_cores() -> None:
    chosen = create_client("llamacpp", BackendOptions(extra={"n_threads": 1, "n_threads_batch": 2}))
    assert isinstance(chosen, LlamaCppClient)
    assert (chosen.n_threads, chosen.n_threads_batch) == (1, 2)
    default = create_client("llamacpp")
    assert isinstance(default, LlamaCppClient)
    half = max(1, len(os.sched_getaffinity(0)) // 2)
    assert (default.n_threads, default.n_threads_batch) == default_threads() == (half, half)
    for bad in (0, -1, "two", 1.5, True):
        with pytest.raises(ModelConfigError, match="expected a whole number of threads"):
            create_client("llamacpp", BackendOptions(extra={"n_threads_batch": bad}))


async def test_a_broken_gguf_fails_preflight(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf at all" * 100)
    client = LlamaCppClient(broken)
    with pytest.raises(ModelConfigError, match="cannot load GGUF"):
        await client.preflight()
