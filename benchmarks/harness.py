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
loop making the same streamed requests (parsing every event, nothing else). With
`--against OTHER/src`, the largest size is also played twice by this code and that one side by
side (same load on a shared machine), and their CPU ratio is printed.
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
from dataclasses import dataclass, replace
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


def _start(
    count: int, port: int, tmp: Path, src: Path | None
) -> tuple[subprocess.Popen[bytes], Path]:
    """Start `turnscope run` over `count` conversations (with the code in `src` when given)."""
    tag = "own" if src is None else "against"
    suite = tmp / f"harness-{count}.jsonl"
    if not suite.exists():
        write_jsonl(conversations(count, TURNS), suite)
    runs = Path(tempfile.mkdtemp(prefix=f"runs-{count}-{tag}-", dir=tmp))
    command = [
        sys.executable, "-m", "turnscope.cli", "run",
        "-m", f"openai:instant@http://127.0.0.1:{port}/v1", "-s", str(suite),
        "-c", str(CONCURRENCY), "--no-cache", "--max-tokens", "64", "--runs-dir", str(runs),
    ]  # fmt: skip
    env = None if src is None else {**os.environ, "PYTHONPATH": str(src)}
    with (runs / "stderr.txt").open("wb") as errors:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, env=env)
    return child, runs


def _finish(child: subprocess.Popen[bytes], runs: Path, count: int, started: float) -> Played:
    """Wait for a run started by _start; its CPU time and peak RSS from the kernel."""
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if child.returncode != 0:
        errors = (runs / "stderr.txt").read_text()
        sys.exit(f"turnscope run failed ({child.returncode}):\n{errors[-3000:]}")
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
        connections=0,
        requests=0,
    )


def play(count: int, port: int, tmp: Path) -> Played:
    """`turnscope run` over `count` conversations of TURNS turns, measured by the kernel."""
    before = server_stats(port)
    started = time.perf_counter()
    child, runs = _start(count, port, tmp, None)
    played = _finish(child, runs, count, started)
    after = server_stats(port)
    return replace(
        played,
        connections=after["connections"] - before["connections"],
        requests=after["requests"] - before["requests"],
    )


def play_against(count: int, port: int, tmp: Path, src: Path) -> tuple[Played, Played]:
    """The same run with this code and with the code in `src`, both at once: on a shared
    machine whose load changes from minute to minute, runs side by side see the same load."""
    started = time.perf_counter()
    ours, our_runs = _start(count, port, tmp, None)
    theirs, their_runs = _start(count, port, tmp, src)
    return (
        _finish(ours, our_runs, count, started),
        _finish(theirs, their_runs, count, started),
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
    parser.add_argument(
        "--against",
        type=Path,
        metavar="SRC",
        help="another checkout's src/ directory (e.g. main's): the largest size is also run "
        "with this code and with that one side by side, and their CPU ratio printed",
    )
    args = parser.parse_args()
    server, port = start_server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            played = [play(count, port, Path(tmp)) for count in args.sizes]
            pairs = (
                [play_against(args.sizes[-1], port, Path(tmp), args.against) for _ in range(2)]
                if args.against
                else []
            )
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
    for ours, theirs in pairs:
        print(
            f"side by side, {ours.conversations} conversations: this code "
            f"{ours.cpu_ms_per_turn:.3f} ms/turn, {args.against}: {theirs.cpu_ms_per_turn:.3f}"
        )
    if pairs:
        ratio = sum(o.cpu_s for o, _ in pairs) / sum(t.cpu_s for _, t in pairs)
        print(f"RESULT cpu_vs_against={ratio:.2f}")


if __name__ == "__main__":
    main()
