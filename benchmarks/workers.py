"""The embedded model in N processes: wall time of `--workers 1` against `--workers N`.

Plays the same conversations through the engine twice, once on the in-process client (what
`--workers 1` runs) and once on a pool of N worker processes, both with their default threads
(half the cores in one process; cores / N per worker), and prints the speed-up, the prefill
ratio of the workers run (prompt tokens the workers really evaluated / the minimum, which
prefills each token of a conversation once: a conversation that left its worker would raise
it) and whether both runs gave the same answers (greedy decoding).

Wall times start once the model is loaded (startup is printed apart). On a shared machine the
speed-up is noisy: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _workload import conversations
from prefix_reuse import minimum_prefill

from turnscope.core import GenerationParams, Item, RunConfig, TurnRecord
from turnscope.models import BackendOptions, ModelClient, create_client
from turnscope.run import create_run, execute_run


async def play(
    workers: int, items: list[Item], params: GenerationParams
) -> tuple[list[TurnRecord], float, float]:
    """(records, seconds to start, seconds to play) on `workers` processes."""
    options = BackendOptions(extra={"workers": workers} if workers > 1 else {})
    client: ModelClient = create_client("llamacpp", options)
    started = time.perf_counter()
    await client.preflight()
    startup = time.perf_counter() - started
    config = RunConfig(
        model="llamacpp",
        suite="bench",
        params=params,
        concurrency=max(workers, 1),
        use_cache=False,
        created_at=datetime.now(UTC),
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = create_run(config, items, Path(tmp))
            started = time.perf_counter()
            await execute_run(store, client)
            wall = time.perf_counter() - started
            records = list(store.records())
            store.close()
    finally:
        await client.aclose()
    return records, startup, wall


async def main_async(args: argparse.Namespace) -> None:
    items = conversations(args.conversations, args.turns, seed=1)
    params = GenerationParams(max_tokens=args.max_tokens)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    one, one_startup, one_wall = await play(1, items, params)
    many, many_startup, many_wall = await play(args.workers, items, params)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    prefilled = sum(r.prefilled_tokens or 0 for r in many)
    minimum = minimum_prefill(many)
    answers_one = {(r.item_id, r.turn): r.response for r in one}
    answers_many = {(r.item_id, r.turn): r.response for r in many}
    same = sum(answers_one[key] == answer for key, answer in answers_many.items())
    print(
        f"{args.conversations} conversations x {args.turns} turns, max_tokens "
        f"{args.max_tokens}: 1 process {one_wall:.1f}s (startup {one_startup:.1f}s); "
        f"{args.workers} workers {many_wall:.1f}s (startup {many_startup:.1f}s); workers "
        f"prefilled {prefilled} tokens, minimum {minimum}; same answers {same}/{len(answers_one)}"
    )
    print(f"RESULT workers={args.workers}")
    print(f"RESULT workers_speedup={one_wall / many_wall:.3f}")
    print(f"RESULT workers_prefill_ratio={prefilled / minimum:.3f}")
    print(f"RESULT workers_same_answers={same / len(answers_one):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--conversations", type=int, default=16)
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--max-tokens", type=int, default=24)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
