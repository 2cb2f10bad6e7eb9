"""Endpoint pools: `-m openai:NAME@URL1,URL2,URL3` through the command, against three real
HTTP servers that log what they receive. New conversations go to the least busy server and
every conversation stays on one server; a server
that dies mid-run hands its conversations to the others and the run still records each turn
exactly once; a bad URL in the list is one error line before anything is played."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import assert_one_error_line, turnscope
from helpers.servers import FakeOpenAIServer
from helpers.suites import write_suite
from turnscope.core import GenerationParams, Message
from turnscope.models import create_client
from turnscope.models.pool import EndpointPool, affinity_key
from turnscope.store import RunStore

pytestmark = pytest.mark.timeout(300)

ITEMS = 9
TURNS = 3


def suite(path: Path) -> Path:
    items: list[dict[str, Any]] = [
        {
            "id": f"conv-{i}",
            "turns": [{"user": f"Conversation {i}, message {t}."} for t in range(TURNS)],
        }
        for i in range(ITEMS)
    ]
    return write_suite(path, items)


def opening(messages: list[dict[str, Any]]) -> str:
    """Which conversation a request belongs to: its first user message."""
    return next(str(m["content"]) for m in messages if m["role"] == "user")


def servers_by_conversation(servers: list[FakeOpenAIServer]) -> dict[str, set[int]]:
    seen: dict[str, set[int]] = defaultdict(set)
    for index, server in enumerate(servers):
        for exchange in server.exchanges:
            seen[opening(exchange.messages)].add(index)
    return seen


def pool_spec(servers: list[FakeOpenAIServer]) -> str:
    return "openai:fake@" + ",".join(server.base_url for server in servers)


def the_store(runs: Path) -> RunStore:
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return RunStore.open(run_dir)


def assert_each_turn_once(runs: Path) -> None:
    store = the_store(runs)
    try:
        records = list(store.records(role="target"))
    finally:
        store.close()
    keys = [(r.item_id, r.condition, r.sample, r.turn) for r in records]
    assert len(keys) == len(set(keys)) == ITEMS * TURNS
    assert all(r.error is None for r in records)


def test_every_conversation_stays_on_one_server_and_the_pool_is_used(tmp_path: Path) -> None:
    servers = [FakeOpenAIServer().start() for _ in range(3)]
    try:
        done = turnscope(
            "run", "-s", str(suite(tmp_path / "s.yaml")), "-v", "own", "-c", "4",
            "-m", pool_spec(servers), runs=tmp_path / "runs",
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        seen = servers_by_conversation(servers)
    finally:
        for server in servers:
            server.close()
    assert len(seen) == ITEMS
    assert all(len(on) == 1 for on in seen.values()), seen
    assert len({next(iter(on)) for on in seen.values()}) >= 2  # spread, not all on one
    assert_each_turn_once(tmp_path / "runs")
    # Each record names the server that answered it, as the requests the servers saw do.
    store = the_store(tmp_path / "runs")
    try:
        served = {(r.item_id, r.served_by) for r in store.records()}
        replicas = store.meta("replicas")
    finally:
        store.close()
    urls = {server.base_url for server in servers}
    assert len(served) == ITEMS and {url for _, url in served} <= urls
    assert replicas["kind"] == "servers" and set(replicas["by_replica"]) == urls


def test_a_server_that_dies_mid_run_hands_its_conversations_on(tmp_path: Path) -> None:
    slow = {"chunk_delay_s": 0.03, "reply": lambda messages, attempt: "word " * 12}
    servers = [FakeOpenAIServer(**slow).start() for _ in range(3)]  # type: ignore[arg-type]
    runs = tmp_path / "runs"
    command = [
        sys.executable, "-m", "turnscope.cli", "run", "-s", str(suite(tmp_path / "s.yaml")),
        "-v", "own", "-c", "3", "-m", pool_spec(servers), "--runs-dir", str(runs),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim: int | None = None
    try:
        deadline = time.monotonic() + 120
        while victim is None and time.monotonic() < deadline and process.poll() is None:
            victim = next((i for i, s in enumerate(servers) if len(s.exchanges) >= 2), None)
            time.sleep(0.01)
        assert victim is not None, "no server got two requests"
        servers[victim].close()
        out, err = process.communicate(timeout=240)
        seen = servers_by_conversation(servers)
    finally:
        process.kill()
        for index, server in enumerate(servers):
            if index != victim:
                server.close()
    assert process.returncode == 0, out + err
    assert "out of the pool" in err
    (servers_line,) = [line for line in err.splitlines() if line.startswith("servers: ")]
    assert f"{servers[victim].base_url} " in servers_line and "moved to another server: " in err
    assert not servers_line.endswith("moved to another server: 0")
    moved = [c for c, on in seen.items() if victim in on and len(on) > 1]
    assert moved, seen  # the dead server's conversations went on elsewhere
    assert_each_turn_once(runs)


def test_a_bad_url_in_the_pool_is_one_error_line(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        done = turnscope(
            "run", "-m", f"openai:fake@{server.base_url},http://[::1", runs=tmp_path / "runs"
        )
        assert_one_error_line(done, "invalid base URL")
        dead = "http://127.0.0.1:9/v1"
        done = turnscope("run", "-m", f"openai:fake@{server.base_url},{dead}", runs=tmp_path / "r")
        assert_one_error_line(done, "server 2 of 2 in the pool")


def test_the_affinity_key_is_the_opening_of_the_conversation() -> None:
    system = Message(role="system", content="Be brief.")
    first = Message(role="user", content="Hello")
    later = [
        system,
        first,
        Message(role="assistant", content="Hi"),
        Message(role="user", content="?"),
    ]
    assert affinity_key([system, first]) == affinity_key(later)
    assert affinity_key([system, Message(role="user", content="Other")]) != affinity_key(later)


async def test_new_conversations_go_to_the_least_busy_server() -> None:
    # Answers take a while (12 chunks), so every first request is in flight when the next
    # conversation is placed.
    slow = {"chunk_delay_s": 0.01, "reply": lambda messages, attempt: "word " * 12}
    servers = [FakeOpenAIServer(**slow).start() for _ in range(2)]  # type: ignore[arg-type]
    pool = create_client(pool_spec(servers))
    assert isinstance(pool, EndpointPool)
    params = GenerationParams(max_tokens=16)
    openings = [[Message(role="user", content=f"Conversation {i}.")] for i in range(4)]
    try:
        await pool.preflight()
        firsts = await asyncio.gather(*(pool.generate(o, params, seed=1) for o in openings))
        # Four new conversations at once: two on each server, whatever their hashes say.
        assert sorted(Counter(c.served_by for c in firsts).values()) == [2, 2]
        # Their later turns, and a conversation opening as one of them, stay where they began.
        later = [
            [*o, Message(role="assistant", content=c.text), Message(role="user", content="More.")]
            for o, c in zip(openings, firsts, strict=True)
        ]
        seconds = await asyncio.gather(*(pool.generate(m, params, seed=1) for m in later))
        assert [c.served_by for c in seconds] == [c.served_by for c in firsts]
        again = await pool.generate(openings[3], params, seed=2)
        assert again.served_by == firsts[3].served_by and pool.moved == 0
    finally:
        await pool.aclose()
        for server in servers:
            server.close()
