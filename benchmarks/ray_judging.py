"""What Ray judge actors cost: a judged run on Ray with its judge requests sent to judge actors,
against the same run judging in the driver (`--ray-judge-actors 0`).

Both play the same conversations on Ray actors against the instant OpenAI-compatible server
of benchmarks/harness.py, and every turn is judged by the fake judge of tests/helpers: a
fixed verdict at once, after `--verdict-words` words of rationale streamed one event a word
(0: the bare rating). Each server is a process of its own, not counted. Ray is started by this
script for itself (`ray.init(address="local")`, stopped at the end: no other cluster on the
machine is joined or stopped), and both runs go through `execute_run` in this process, the
driver. CPU is the driver's own (this process) plus every process below it, sampled from /proc
as benchmarks/ray_overhead.py does. The two kinds of run alternate, twice each.

What the actors take off the driver is reading the judge's stream (one event a word); what
they add is a Ray call per request and their own processes. Against an instant judge that is
the whole difference; against a real judge model it is a small share of a request.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _workload import conversations
from harness import CONCURRENCY, start_server
from ray_overhead import TreeCpu

from turnscope.core import GenerationParams, Item, JudgeSettings, RunConfig, ScorerSpec
from turnscope.distributed import RayOptions
from turnscope.run import client_for, create_run, execute_run, judge_clients_for

TURNS = 4
JUDGE = """
import sys, time
sys.path.insert(0, sys.argv[1])
from helpers.servers import FakeOpenAIServer
verdict = " ".join(["fine"] * int(sys.argv[2])) + "\\nRating: [[6]]"
with FakeOpenAIServer(reply=lambda m, a: verdict, chunk_delay_s=0.0) as s:
    print(s.base_url, flush=True)
    time.sleep(3600)
"""


def judged(items: list[Item]) -> list[Item]:
    """The items with a judge scorer on every turn."""
    judge = ScorerSpec.model_validate({"type": "judge", "use_reference": False})
    return [
        item.model_copy(
            update={
                "turns": tuple(
                    t.model_copy(update={"scorers": (*t.scorers, judge)}) for t in item.turns
                )
            }
        )
        for item in items
    ]


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def judged_run(config: RunConfig, items: list[Item], root: Path, ray: RayOptions) -> int:
    store = create_run(config, items, root)
    client = client_for(config)
    judges = judge_clients_for(config.judging, config.timeout_s)
    try:
        outcome = await execute_run(store, client, judge_clients=judges, items=items, ray=ray)
    finally:
        for model in (client, *judges):
            await model.aclose()
        store.close()
    assert outcome.judging is not None and outcome.judging.judge_errors == 0
    return outcome.judging.judgments_made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--verdict-words", type=int, default=150)
    args = parser.parse_args()
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import ray

    server, port = start_server()
    tests = str(Path(__file__).resolve().parents[1] / "tests")
    judge = subprocess.Popen(
        [sys.executable, "-c", JUDGE, tests, str(args.verdict_words)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert judge.stdout is not None
    judge_url = judge.stdout.readline().strip()
    items = judged(conversations(args.conversations, TURNS))
    config = RunConfig(
        model=f"openai:instant@http://127.0.0.1:{port}/v1",
        suite="ray-judging",
        params=GenerationParams(max_tokens=16),
        concurrency=CONCURRENCY,
        use_cache=False,
        created_at=datetime.now(UTC),
        judging=JudgeSettings(
            judges=(f"openai:judge@{judge_url}",),
            params=GenerationParams(max_tokens=16),
            concurrency=CONCURRENCY,
        ),
    )
    kinds = {"judged in the driver": RayOptions(judge_actors=0), "judge actors": RayOptions()}
    wall = dict.fromkeys(kinds, 0.0)
    cpu = dict.fromkeys(kinds, 0.0)
    driver = dict.fromkeys(kinds, 0.0)
    try:
        ray.init(
            address="local", include_dashboard=False, logging_level=logging.ERROR,
            log_to_driver=False, num_cpus=os.cpu_count(),
        )  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            for round_ in range(2):
                for label, options in kinds.items():
                    root = Path(tmp) / f"{label.replace(' ', '-')}-{round_}"
                    with TreeCpu({server.pid, judge.pid}) as tree:
                        started, mine = time.perf_counter(), own_cpu()
                        made = asyncio.run(judged_run(config, items, root, options))
                        wall[label] += time.perf_counter() - started
                        spent = own_cpu() - mine
                    driver[label] += spent
                    cpu[label] += spent + tree.seconds
                    assert made == args.conversations * TURNS, f"{label}: {made} judgments"
    finally:
        ray.shutdown()
        for process in (server, judge):
            process.terminate()
            process.wait(timeout=10)
    for label in kinds:
        print(
            f"{label}: {args.conversations} conversations x {TURNS} turns, each judged, "
            f"verdicts of {args.verdict_words} words, -c {CONCURRENCY}, 2 runs: "
            f"{wall[label]:.1f} s wall, {cpu[label]:.1f} s CPU "
            f"(driver {driver[label]:.1f} s)"
        )
    base, actors = kinds
    print(f"RESULT ray_judge_actors_wall_ratio={wall[actors] / wall[base]:.3f}")
    print(f"RESULT ray_judge_actors_cpu_ratio={cpu[actors] / cpu[base]:.3f}")
    print(f"RESULT ray_judge_actors_driver_cpu_ratio={driver[actors] / driver[base]:.3f}")


if __name__ == "__main__":
    main()
