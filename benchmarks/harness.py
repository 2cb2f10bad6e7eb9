"""The harness's own cost: `turnscope run` against an instant OpenAI-compatible server.

The server (benchmarks/_instant_server.py, a process of its own) answers every request at once
with a streamed answer of 30 chunks, so everything the run spends is turnscope's: the engine,
HTTP, parsing, scoring (one regex scorer per turn), the run store, the progress bar, the
summary and the HTML report. Each run is the real command in a child process, `--no-cache`,
10 turns per conversation, concurrency 32; its CPU time and peak RSS come from the kernel
(wait4) for that child alone.

Prints, for 200 and 2,000 conversations: CPU ms per turn (target <= 1.0 at 2,000) and TCP
connections per request (target <= 0.02); peak RSS of a 5,000-conversation run (50,000 turns,
target <= 350 MB); and the wall time of `turnscope --version` (median, target <= 0.3 s). As a
ratio measured in the same sitting, the CPU per turn of the harness over that of a bare httpx
loop making the same streamed requests (parsing every event, nothing else).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from _workload import conversations

from turnscope.store import RunStore
from turnscope.suites.builtin import write_jsonl

HERE = Path(__file__).resolve().parent
TURNS = 10
CONCURRENCY = 32


@dataclass(frozen=True)
class Played:
    conversations: int
    turns: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    connections: int
    requests: int

    @property
    def cpu_ms_per_turn(self) -> float:
        return 1000 * self.cpu_s / self.turns


def start_server() -> tuple[subprocess.Popen[str], int]:
    server = subprocess.Popen(
        [sys.executable, str(HERE / "_instant_server.py")], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    return server, int(server.stdout.readline())


def server_stats(port: int) -> dict[str, int]:
    with httpx.Client(trust_env=False) as http:
        stats: dict[str, int] = http.get(f"http://127.0.0.1:{port}/stats").json()
        return stats


def play(count: int, port: int, tmp: Path) -> Played:
    """`turnscope run` over `count` conversations of TURNS turns, measured by the kernel."""
    suite = tmp / f"harness-{count}.jsonl"
    write_jsonl(conversations(count, TURNS), suite)
    runs = tmp / f"runs-{count}"
    command = [
        sys.executable, "-m", "turnscope.cli", "run",
        "-m", f"openai:instant@http://127.0.0.1:{port}/v1", "-s", str(suite),
        "-c", str(CONCURRENCY), "--no-cache", "--max-tokens", "64", "--runs-dir", str(runs),
    ]  # fmt: skip
    before = server_stats(port)
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert child.stderr is not None
    errors = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if child.returncode != 0:
        sys.exit(f"turnscope run failed ({child.returncode}):\n{errors.decode()[-3000:]}")
    after = server_stats(port)
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")]
    store = RunStore.open(run_dir)
    recorded = store.turn_count()
    store.close()
    assert recorded == count * TURNS, f"{recorded} turns recorded, expected {count * TURNS}"
    return Played(
        conversations=count,
        turns=recorded,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        # ru_maxrss is in KiB on Linux.
        peak_rss_mb=usage.ru_maxrss / 1024,
        connections=after["connections"] - before["connections"],
        requests=after["requests"] - before["requests"],
    )


async def _bare_requests(port: int, requests: int) -> None:
    payload = {
        "model": "instant",
        "messages": [{"role": "user", "content": "hello"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/v1", limits=limits) as http:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one() -> None:
            async with gate, http.stream("POST", "/chat/completions", json=payload) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data:") and line[5:].strip() != "[DONE]":
                        json.loads(line[5:])

        await asyncio.gather(*(one() for _ in range(requests)))


def bare_client_ms_per_request(port: int, requests: int) -> float:
    """CPU ms per streamed request of a bare httpx loop in this process (the floor)."""
    started = time.process_time()
    asyncio.run(_bare_requests(port, requests))
    return 1000 * (time.process_time() - started) / requests


def startup_seconds(repeats: int) -> list[float]:
    walls = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "turnscope.cli", "--version"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        walls.append(time.perf_counter() - started)
    return walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--memory-conversations", type=int, default=5000)
    parser.add_argument("--startup-repeats", type=int, default=7)
    args = parser.parse_args()
    server, port = start_server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            played = [play(count, port, Path(tmp)) for count in args.sizes]
            bare = bare_client_ms_per_request(port, 2000)
            memory = play(args.memory_conversations, port, Path(tmp))
    finally:
        server.terminate()
        server.wait(timeout=10)
    startups = startup_seconds(args.startup_repeats)

    for p in (*played, memory):
        print(
            f"{p.conversations} conversations x {TURNS} turns, -c {CONCURRENCY}: "
            f"{p.wall_s:.1f} s wall, {p.cpu_s:.1f} s CPU ({p.cpu_ms_per_turn:.2f} ms/turn), "
            f"peak RSS {p.peak_rss_mb:.0f} MB, {p.connections} connections for "
            f"{p.requests} requests"
        )
    print(f"bare httpx streaming loop: {bare:.2f} ms CPU per request")
    print(f"turnscope --version: {', '.join(f'{s:.3f}' for s in startups)} s")
    for p in played:
        print(f"RESULT cpu_ms_per_turn_{p.conversations}={p.cpu_ms_per_turn:.3f}")
        print(f"RESULT connections_per_request_{p.conversations}={p.connections / p.requests:.4f}")
    largest = played[-1]
    print(f"RESULT cpu_ms_per_turn={largest.cpu_ms_per_turn:.3f}")
    print(f"RESULT connections_per_request={largest.connections / largest.requests:.4f}")
    print(f"RESULT cpu_vs_bare_client={largest.cpu_ms_per_turn / bare:.2f}")
    print(f"RESULT peak_rss_mb_50k_turns={memory.peak_rss_mb:.0f}")
    print(f"RESULT startup_s={statistics.median(startups):.3f}")


if __name__ == "__main__":
    main()
