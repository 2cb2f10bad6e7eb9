"""What the bubblewrap sandbox costs: one execution in a warm sandbox, a start, and throughput.

- exec: a trivial snippet run again and again in one warm per-conversation sandbox (the
  round trip a tool call adds on top of the code's own time); median and p95;
- start: opening a sandbox (bwrap, namespaces, the interpreter up and ready), median; the
  sandbox is closed outside the timed part;
- parallel: 8 sandboxes, each running trivial snippets one after another as a conversation
  would, all 8 at once; executions per second over all of them.

Prints RESULT sandbox_exec_median_ms, sandbox_exec_p95_ms, sandbox_start_ms and
sandbox_execs_per_second_8_parallel.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from turnscope.sandbox import BubblewrapProvider, Sandbox, SandboxLimits

SNIPPET = "x = x + 1 if 'x' in globals() else 0\nx"


async def exec_times(provider: BubblewrapProvider, count: int) -> list[float]:
    sandbox = await provider.open(SandboxLimits())
    try:
        for _ in range(20):
            await sandbox.run(SNIPPET)
        times = []
        for _ in range(count):
            started = time.perf_counter()
            result = await sandbox.run(SNIPPET)
            times.append(time.perf_counter() - started)
            assert result.error is None, result.error
        return times
    finally:
        await sandbox.close()


async def start_times(provider: BubblewrapProvider, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        sandbox = await provider.open(SandboxLimits())
        times.append(time.perf_counter() - started)
        await sandbox.close()
    return times


async def parallel_rate(provider: BubblewrapProvider, sandboxes: int, each: int) -> float:
    opened = await asyncio.gather(*(provider.open(SandboxLimits()) for _ in range(sandboxes)))

    async def conversation(sandbox: Sandbox) -> None:
        for _ in range(each):
            result = await sandbox.run(SNIPPET)
            assert result.error is None, result.error

    try:
        started = time.perf_counter()
        await asyncio.gather(*(conversation(sandbox) for sandbox in opened))
        wall = time.perf_counter() - started
    finally:
        await asyncio.gather(*(sandbox.close() for sandbox in opened))
    return sandboxes * each / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=500)
    parser.add_argument("--starts", type=int, default=30)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--per-conversation", type=int, default=300)
    args = parser.parse_args()
    provider = BubblewrapProvider()
    provider.check_available()

    execs = asyncio.run(exec_times(provider, args.executions))
    starts = asyncio.run(start_times(provider, args.starts))
    rate = asyncio.run(parallel_rate(provider, args.parallel, args.per_conversation))

    exec_ms = [t * 1000 for t in execs]
    start_ms = [t * 1000 for t in starts]
    print(
        f"exec: {len(exec_ms)} runs, median {statistics.median(exec_ms):.2f} ms, "
        f"min {min(exec_ms):.2f} ms, max {max(exec_ms):.2f} ms"
    )
    print(
        f"start: {len(start_ms)} opens, median {statistics.median(start_ms):.1f} ms, "
        f"min {min(start_ms):.1f} ms, max {max(start_ms):.1f} ms"
    )
    print(f"parallel: {args.parallel} sandboxes x {args.per_conversation} executions")
    print(f"RESULT sandbox_exec_median_ms={statistics.median(exec_ms):.3f}")
    print(f"RESULT sandbox_exec_p95_ms={statistics.quantiles(exec_ms, n=20)[18]:.3f}")
    print(f"RESULT sandbox_start_ms={statistics.median(start_ms):.1f}")
    print(f"RESULT sandbox_execs_per_second_{args.parallel}_parallel={rate:.0f}")


if __name__ == "__main__":
    main()
