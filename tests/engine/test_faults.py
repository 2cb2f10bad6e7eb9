"""Fault injection: a fake OpenAI-compatible server fails chosen requests on purpose.

Each conversation of the suite meets one fault (a marker in a user message picks it), so every
failure mode is exercised once and deterministically in a single run: the run must finish,
retry what is transient (honouring Retry-After), record the rest as turn errors with their
message and no score, go on with the other conversations, and lose no answered turn."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from helpers.servers import FakeExchange, FakeOpenAIServer
from helpers.suites import request_turn, write_suite
from turnscope.core import GenerationParams, Message, RunConfig, TurnRecord
from turnscope.engine import ModelCaller, RetryPolicy
from turnscope.models.openai_compat import OpenAICompatClient
from turnscope.run import client_for, create_run, execute_run
from turnscope.suites import load_suite_file

pytestmark = pytest.mark.timeout(60)

MAX_RETRIES = 2
TURNS = 3
RETRY_AFTER_S = 1.0


@dataclass(frozen=True)
class Case:
    """One conversation: which fault its turn `at` meets, and what the record must show."""

    fault: str | None
    at: int
    retries: int
    error: str | None

    @property
    def recorded_turns(self) -> int:
        """A failed turn ends its conversation: later turns need its answer."""
        return self.at if self.error else TURNS


CASES = {
    "plain": Case(None, 2, 0, None),
    "rate-limited": Case("429x1", 2, 1, None),
    "server-error": Case("500x2", 2, 2, None),
    "hang": Case("hangx1", 2, 1, None),
    "stall": Case("stallx1", 2, 1, None),
    "broken-json": Case("badjsonx1", 2, 1, None),
    "cut": Case("cutx1", 2, 1, None),
    "truncated": Case("truncx1", 2, 1, None),
    "exhausted-500": Case(
        "500x9", 2, MAX_RETRIES, r"gave up after 3 attempts in \d+ s: HTTP 500: internal error"
    ),
    "exhausted-hang": Case("hangx9", 2, MAX_RETRIES, r"gave up after 3 attempts in \d+ s: timeout"),
    "bad-request": Case("400", 2, 0, r"HTTP 400: bad request \(fake\)"),
    "unauthorised": Case("401", 1, 0, r"HTTP 401: invalid API key \(fake\)"),
}


def suite_items(cases: dict[str, Case]) -> list[dict[str, Any]]:
    items = []
    for item_id, case in cases.items():
        turns = []
        for number in range(1, TURNS + 1):
            text = f"{item_id}: message {number}."
            if number == case.at and case.fault:
                text += f" FAULT:{case.fault}"
            turns.append({"user": text, "scorers": [{"type": "contains", "value": "Reply"}]})
        items.append({"id": item_id, "turns": turns})
    return items


@pytest.fixture
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(retry_after=str(int(RETRY_AFTER_S))) as server:
        yield server


def exchanges_of(fake: FakeOpenAIServer, first_user: str, turn: int) -> list[FakeExchange]:
    return [e for e in fake.exchanges if request_turn(e.messages) == (first_user, turn)]


async def test_faulty_server_run_retries_records_errors_and_loses_no_turn(
    tmp_path: Path, fake: FakeOpenAIServer
) -> None:
    suite = write_suite(tmp_path / "faults.yaml", suite_items(CASES))
    items = load_suite_file(suite).suite.items
    config = RunConfig(
        model=f"openai:fake@{fake.base_url}",
        suite=str(suite),
        params=GenerationParams(max_tokens=16),
        concurrency=len(items),
        max_retries=MAX_RETRIES,
        timeout_s=1.0,
        use_cache=False,
        created_at=datetime.now(UTC),
    )
    store = create_run(config, items, tmp_path / "runs")
    client = client_for(config)
    try:
        await client.preflight()
        outcome = await execute_run(store, client)
    finally:
        await client.aclose()

    records = list(store.records())
    by_turn: dict[tuple[str, int], TurnRecord] = {(r.item_id, r.turn): r for r in records}
    assert len(by_turn) == len(records)
    assert set(by_turn) == {
        (item_id, turn)
        for item_id, case in CASES.items()
        for turn in range(1, case.recorded_turns + 1)
    }
    # Failed turns make the run incomplete: --resume would ask them again.
    assert store.meta("status") == "incomplete"
    expected_errors = sum(case.error is not None for case in CASES.values())
    assert outcome.engine.turns_recorded == len(records)
    assert outcome.engine.turn_errors == expected_errors
    assert store.turn_count() - store.answered_count() == expected_errors

    for item_id, case in CASES.items():
        record = by_turn[(item_id, case.at)]
        assert record.retries == case.retries, (item_id, record)
        if case.error is None:
            assert record.error is None, (item_id, record.error)
        else:
            assert record.error is not None and re.match(case.error, record.error), record.error
            assert record.response is None
            assert record.scores == () and record.score is None  # an error is never a score
    for record in records:
        if record.error is None:
            assert record.response is not None and record.response.startswith("Reply")
            assert record.score == 1.0
            assert record.finish_reason == "stop"
            assert record.ttft_s is not None and 0 < record.ttft_s <= record.latency_s

    # What the server saw: one attempt per recorded try, none for turns never recorded.
    first_user = {item.id: str(item.turns[0].user) for item in items}
    exchanges = fake.exchanges
    assert outcome.requests_sent == len(exchanges)
    attempts = Counter(request_turn(e.messages) for e in exchanges)
    assert attempts == Counter({(first_user[r.item_id], r.turn): r.retries + 1 for r in records})
    for item_id, case in CASES.items():
        if case.fault is not None:
            seen = [e.outcome for e in exchanges_of(fake, first_user[item_id], case.at)]
            kind = case.fault.split("x")[0]
            assert seen == [kind] * case.retries + ([kind] if case.error else ["ok"])

    # No answered turn is lost or doubled: every answer served is stored exactly once.
    served = Counter(e.answer for e in exchanges if e.outcome == "ok")
    stored = Counter(r.response for r in records if r.response is not None)
    assert stored == served
    assert set(stored.values()) == {1}

    # Own history: every request carries the conversation's earlier stored answers.
    item_of = {text: item_id for item_id, text in first_user.items()}
    for exchange in exchanges:
        text, turn = request_turn(exchange.messages)
        history = [m["content"] for m in exchange.messages if m["role"] == "assistant"]
        assert history == [by_turn[(item_of[text], n)].response for n in range(1, turn)]

    # Retry-After was honoured: the retry came no sooner than the server asked.
    limited = exchanges_of(fake, first_user["rate-limited"], 2)
    assert limited[1].received_at - limited[0].received_at >= RETRY_AFTER_S - 0.05
    # A hang was given up at the timeout, then retried.
    hung = exchanges_of(fake, first_user["hang"], 2)
    assert hung[1].received_at - hung[0].received_at >= config.timeout_s - 0.05


async def test_retry_after_longer_than_the_cap_waits_only_the_cap() -> None:
    cap_s = 0.2
    with FakeOpenAIServer(retry_after="30") as fake:
        client = OpenAICompatClient("fake", fake.base_url, api_key=None, timeout_s=5.0)
        policy = RetryPolicy(max_retries=1, max_delay_s=cap_s, timeout_s=5.0)
        caller = ModelCaller(client, GenerationParams(max_tokens=8), policy, None)
        try:
            outcome = await caller.complete(
                [Message(role="user", content="capped FAULT:429x1")], seed=1, sample=0
            )
        finally:
            await client.aclose()
        first, second = fake.exchanges
    assert outcome.error is None and outcome.retries == 1
    assert outcome.completion is not None and outcome.completion.text == second.answer
    assert (first.outcome, second.outcome) == ("429", "ok")
    # The server asked for 30 s; the policy's cap bounds the wait.
    assert cap_s - 0.05 <= second.received_at - first.received_at < 10


def test_a_rejected_api_key_stops_the_run_before_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from turnscope.cli import app

    monkeypatch.setenv("WRONG_KEY", "not-the-key")
    runs = tmp_path / "runs"
    with FakeOpenAIServer(api_key="the-key") as fake:
        result = CliRunner().invoke(
            app,
            [
                "run",
                "-m",
                f"openai:fake@{fake.base_url}",
                "--api-key-env",
                "WRONG_KEY",
                "--runs-dir",
                str(runs),
            ],
        )
        assert fake.exchanges == []  # no chat request was made
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "rejected the API key: HTTP 401: invalid API key" in result.stderr
    assert not runs.exists()
