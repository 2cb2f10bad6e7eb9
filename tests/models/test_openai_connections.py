"""Connections and slots of the OpenAI-compatible backend, against the fake server (which
counts the TCP connections it accepts and can answer llama.cpp's /props).

Every response is read to its end, so one connection serves request after request; the pool
never holds more connections than the run's concurrency; and a server that says how many
parallel slots it has gets no more conversations at once than that, with a warning."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from helpers.cli import run_cli
from helpers.servers import FakeOpenAIServer
from helpers.suites import write_suite
from turnscope.core import GenerationParams, Message, RunConfig
from turnscope.models import BackendOptions, TransientModelError, create_client
from turnscope.models.openai_compat import OpenAICompatClient
from turnscope.run import client_for, create_run, execute_run
from turnscope.suites import load_suite_file

pytestmark = pytest.mark.timeout(60)

PARAMS = GenerationParams(max_tokens=8)


@pytest.fixture
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(chunk_delay_s=0.002) as server:
        yield server


def ask(text: str) -> list[Message]:
    return [Message(role="user", content=text)]


async def test_sequential_requests_share_one_connection(fake: FakeOpenAIServer) -> None:
    client = OpenAICompatClient("fake", fake.base_url, api_key=None, timeout_s=10, concurrency=4)
    try:
        await client.preflight()
        for number in range(20):
            completion = await client.generate(ask(f"question {number}"), PARAMS, seed=number)
            assert completion.text.startswith("Reply") and completion.finish_reason == "stop"
    finally:
        await client.aclose()
    assert len(fake.bodies) == 20
    assert fake.connections_opened == 1


async def test_concurrent_requests_use_at_most_the_concurrency(fake: FakeOpenAIServer) -> None:
    client = OpenAICompatClient("fake", fake.base_url, api_key=None, timeout_s=10, concurrency=3)
    try:
        answers = await asyncio.gather(
            *(client.generate(ask(f"q{n}"), PARAMS, seed=n) for n in range(24))
        )
    finally:
        await client.aclose()
    assert all(a.text.startswith("Reply") for a in answers)
    assert fake.connections_opened <= 3
    assert fake.most_connections_open <= 3


async def test_a_failed_stream_drops_its_connection_and_the_next_request_still_works(
    fake: FakeOpenAIServer,
) -> None:
    client = OpenAICompatClient("fake", fake.base_url, api_key=None, timeout_s=10, concurrency=2)
    try:
        with pytest.raises(TransientModelError, match="invalid JSON in stream"):
            await client.generate(ask("broken FAULT:badjson"), PARAMS, seed=0)
        for number in range(5):
            assert (await client.generate(ask(f"fine {number}"), PARAMS, seed=0)).text
    finally:
        await client.aclose()
    # The broken stream's connection is not reused (its body was not read to the end); the
    # five answers after it share one new connection.
    assert fake.connections_opened == 2


async def test_an_error_status_read_whole_keeps_its_connection(fake: FakeOpenAIServer) -> None:
    client = OpenAICompatClient("fake", fake.base_url, api_key=None, timeout_s=10, concurrency=2)
    try:
        with pytest.raises(TransientModelError, match="HTTP 429"):
            await client.generate(ask("busy FAULT:429x1"), PARAMS, seed=0)
        assert (await client.generate(ask("busy FAULT:429x1"), PARAMS, seed=0)).text
    finally:
        await client.aclose()
    assert fake.connections_opened == 1


async def test_a_run_reuses_connections_within_its_concurrency(
    fake: FakeOpenAIServer, tmp_path: Path
) -> None:
    items = [
        {"id": f"conv-{n}", "turns": [{"user": f"conv {n} turn {t}"} for t in range(1, 4)]}
        for n in range(10)
    ]
    suite = write_suite(tmp_path / "many.yaml", items)
    config = RunConfig(
        model=f"openai:fake@{fake.base_url}",
        suite=str(suite),
        params=PARAMS,
        concurrency=4,
        use_cache=False,
        created_at=datetime.now(UTC),
    )
    store = create_run(config, load_suite_file(suite).suite.items, tmp_path / "runs")
    client = client_for(config)
    try:
        await client.preflight()
        outcome = await execute_run(store, client)
    finally:
        await client.aclose()
        store.close()
    assert outcome.engine.turns_recorded == 30 and outcome.engine.turn_errors == 0
    assert fake.connections_opened <= 4


async def test_a_single_slot_server_gets_one_conversation_at_a_time_and_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with FakeOpenAIServer(slots=1) as server:
        client = create_client(
            f"openai:fake@{server.base_url}", BackendOptions(timeout_s=10, concurrency=8)
        )
        try:
            with caplog.at_level(logging.WARNING, logger="turnscope"):
                await client.preflight()
        finally:
            await client.aclose()
    assert client.max_concurrency == 1
    (warning,) = caplog.records
    assert "has 1 parallel slot(s) but the run asks for 8" in warning.getMessage()


async def test_slots_are_unknown_where_the_server_does_not_say(fake: FakeOpenAIServer) -> None:
    client = create_client(f"openai:fake@{fake.base_url}", BackendOptions(concurrency=8))
    try:
        await client.preflight()
    finally:
        await client.aclose()
    assert client.max_concurrency is None


def test_run_warns_in_one_line_when_concurrency_exceeds_the_slots(tmp_path: Path) -> None:
    suite = write_suite(
        tmp_path / "two.yaml",
        [{"id": f"i{n}", "turns": [{"user": f"hello {n}"}]} for n in range(2)],
    )
    with FakeOpenAIServer(slots=2) as server:
        spec = f"openai:fake@{server.base_url}"
        common = ("-s", str(suite), "--no-cache", "--runs-dir", str(tmp_path / "runs"))
        code, _, err = run_cli("run", "-m", spec, "-c", "6", *common)
        assert code == 0, err
        (line,) = [line for line in err.splitlines() if line.startswith("warning:")]
        assert "has 2 parallel slot(s) but the run asks for 6 conversations at once" in line
        assert "Playing 2 at a time" in line

        code, _, err = run_cli("run", "-m", spec, "-c", "2", *common)
        assert code == 0, err
        assert "warning:" not in err
