"""The OpenAI-compatible backend against a real server: `python -m llama_cpp.server` on
127.0.0.1 with the embedded model's GGUF, started by the test session.

A recording proxy in front of the server shows the requests exactly as sent, so the tests can
check what the model was asked (its own history, the reference history) and not only what
came back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers.cli import assert_one_error_line, turnscope
from helpers.servers import LlamaServer, RecordingProxy
from helpers.suites import request_turn, write_suite
from turnscope.core import GenerationParams, Message, ModelIdentity, RunConfig
from turnscope.models import BackendOptions, create_client
from turnscope.models.openai_compat import OpenAICompatClient
from turnscope.run import client_for, create_run, execute_run
from turnscope.store import RunStore
from turnscope.suites import load_suite_file

pytestmark = pytest.mark.timeout(240)

MAX_TOKENS = 8

ITEMS: list[dict[str, Any]] = [
    {
        "id": "http-pet",
        "system": "You are a helpful assistant. Answer in one short sentence.",
        "turns": [
            {
                "user": "My dog is called Rex. Say hello to him.",
                "reference": "Hello, Rex! (reference answer)",
                "scorers": [{"type": "contains", "value": "Rex"}],
            },
            {"user": "What is 3 plus 4?", "reference": "7", "scorers": [{"type": "numeric"}]},
            {
                "user": "What is my dog's name?",
                "reference": "Rex",
                "scorers": [{"type": "contains"}],
            },
        ],
    },
    {
        "id": "http-capital",
        "turns": [
            {
                "user": "What is the capital of France?",
                "reference": "Paris",
                "scorers": [{"type": "contains"}],
            },
            {
                "user": "And the capital of Italy?",
                "reference": "Rome",
                "scorers": [{"type": "contains"}],
            },
            {
                "user": "Which of the two did I ask about first?",
                "reference": "France",
                "scorers": [{"type": "contains"}],
            },
        ],
    },
    {
        "id": "http-colour",
        "turns": [
            {
                "user": "Name a colour of a ripe banana.",
                "reference": "Yellow",
                "scorers": [{"type": "contains"}],
            },
            {
                "user": "Name a colour of grass.",
                "reference": "Green",
                "scorers": [{"type": "contains"}],
            },
            {
                "user": "Repeat the first colour you named.",
                "reference": "Yellow",
                "scorers": [{"type": "contains"}],
            },
        ],
    },
]


@pytest.fixture
def proxy(llama_server: LlamaServer, tmp_path: Path) -> Iterator[RecordingProxy]:
    with RecordingProxy(llama_server.port, tmp_path / "requests.jsonl") as recording:
        yield recording


def expected_messages(item: dict[str, Any], turn: int, answers: list[str]) -> list[dict[str, str]]:
    """The full request of `turn`: system, then each earlier user turn and its answer."""
    messages = [{"role": "system", "content": item["system"]}] if "system" in item else []
    for number, spec in enumerate(item["turns"][:turn], start=1):
        messages.append({"role": "user", "content": spec["user"]})
        if number < turn:
            messages.append({"role": "assistant", "content": answers[number - 1]})
    return messages


async def test_streams_an_answer_with_ttft_tokens_and_identity(
    llama_server: LlamaServer, proxy: RecordingProxy
) -> None:
    client = create_client(llama_server.spec(proxy.base_url), BackendOptions(timeout_s=120))
    assert isinstance(client, OpenAICompatClient)
    assert client.identity == ModelIdentity(
        backend="openai", model=llama_server.model, revision=proxy.base_url
    )
    messages = [
        Message(role="system", content="Answer briefly."),
        Message(role="user", content="Tell me about the sea in a few words."),
    ]
    params = GenerationParams(max_tokens=MAX_TOKENS)
    try:
        await client.preflight()
        completion = await client.generate(messages, params, seed=7)
    finally:
        await client.aclose()

    assert completion.text.strip()
    assert completion.finish_reason in ("stop", "length")
    assert completion.completion_tokens is not None
    assert 1 <= completion.completion_tokens <= MAX_TOKENS
    assert completion.ttft_s is not None and 0 < completion.ttft_s <= completion.latency_s
    if completion.completion_tokens > 1:
        assert completion.ttft_s < completion.latency_s  # tokens arrived one by one

    (request,) = proxy.requests()
    assert request["body"]["stream"] is True
    assert request["body"]["messages"] == [m.model_dump(exclude_none=True) for m in messages]
    assert request["body"]["max_tokens"] == MAX_TOKENS

    # The streamed answer, put back together, is the server's own non-streamed answer.
    with httpx.Client(trust_env=False, timeout=120) as http:
        whole = http.post(
            f"{llama_server.base_url}/chat/completions",
            json={**request["body"], "stream": False, "stream_options": None},
        ).json()
    assert completion.text == whole["choices"][0]["message"]["content"]
    assert completion.finish_reason == whole["choices"][0]["finish_reason"]
    assert completion.completion_tokens == whole["usage"]["completion_tokens"]


async def test_run_end_to_end_answers_every_turn_from_its_own_history(
    llama_server: LlamaServer, proxy: RecordingProxy, tmp_path: Path
) -> None:
    suite = write_suite(tmp_path / "http.yaml", ITEMS)
    items = load_suite_file(suite).suite.items
    config = RunConfig(
        model=llama_server.spec(proxy.base_url),
        suite=str(suite),
        params=GenerationParams(max_tokens=MAX_TOKENS),
        concurrency=2,
        timeout_s=120,
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

    turns = sum(len(item["turns"]) for item in ITEMS)
    assert outcome.plan.total_turns == turns
    assert outcome.engine.turns_recorded == turns and outcome.engine.turn_errors == 0
    assert store.meta("status") == "finished"
    reopened = RunStore.open(store.run_dir)
    records = list(reopened.records())
    reopened.close()
    assert len(records) == turns

    answers: dict[str, list[str]] = {}
    for item in ITEMS:
        mine = [r for r in records if r.item_id == item["id"]]
        assert [r.turn for r in mine] == list(range(1, len(item["turns"]) + 1))
        finished = [r.finished_at for r in mine]
        assert finished == sorted(finished)  # turns of one conversation are played in order
        for record in mine:
            assert record.error is None and record.response is not None
            assert record.response.strip()
            assert record.ttft_s is not None and record.latency_s > 0
            assert record.ttft_s <= record.latency_s
            assert record.completion_tokens is not None
            assert 1 <= record.completion_tokens <= MAX_TOKENS
            assert record.finish_reason in ("stop", "length")
            assert record.retries == 0 and not record.cached
            assert record.model == client.identity
            assert record.scores and all(s.error is None for s in record.scores)
        answers[item["id"]] = [r.response or "" for r in mine]

    # What the server was asked: each turn once, with the model's own earlier answers.
    requests = proxy.requests()
    assert len(requests) == turns == outcome.requests_sent
    by_first_user = {item["turns"][0]["user"]: item for item in ITEMS}
    seen = set()
    for request in requests:
        first_user, turn = request_turn(request["body"]["messages"])
        item = by_first_user[first_user]
        seen.add((item["id"], turn))
        assert request["body"]["messages"] == expected_messages(item, turn, answers[item["id"]])
    assert len(seen) == turns


def test_cli_plays_own_gold_and_single_variants_over_http(
    llama_server: LlamaServer, proxy: RecordingProxy, tmp_path: Path
) -> None:
    items = [{**item, "turns": item["turns"][:2]} for item in ITEMS[:2]]
    suite = write_suite(tmp_path / "cli-http.yaml", items)
    runs = tmp_path / "runs"
    command = [
        sys.executable, "-m", "turnscope.cli", "run", "-m", llama_server.spec(proxy.base_url),
        "-s", str(suite), "-v", "own", "-v", "gold", "-v", "single",
        "--max-tokens", str(MAX_TOKENS), "-c", "2", "--no-cache", "--runs-dir", str(runs),
    ]  # fmt: skip
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
        env={**os.environ, "TURNSCOPE_RUNS_DIR": str(runs)},
    )
    assert done.returncode == 0, done.stderr
    assert "score by turn index, per turn" in done.stdout
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")]

    store = RunStore.open(run_dir)
    records = list(store.records())
    store.close()
    own_and_gold = 2 * sum(len(item["turns"]) for item in items)
    assert len(records) == own_and_gold + len(items)
    assert {r.condition for r in records} == {"own", "gold", "single"}
    assert all(r.response is not None and r.error is None and r.ttft_s is not None for r in records)
    assert len(proxy.requests()) == len(records)

    # Gold history carries the references, own history the model's answers.
    gold_second = [
        r["body"]["messages"]
        for r in proxy.requests()
        if request_turn(r["body"]["messages"])[1] == 2
        and any(
            m["role"] == "assistant" and m["content"] == items[0]["turns"][0]["reference"]
            for m in r["body"]["messages"]
        )
    ]
    assert len(gold_second) == 1
    own_first = next(
        r for r in records if r.item_id == items[0]["id"] and r.turn == 1 and r.condition == "own"
    )
    own_second = [
        r["body"]["messages"]
        for r in proxy.requests()
        if request_turn(r["body"]["messages"])[1] == 2
        and {"role": "assistant", "content": own_first.response} in r["body"]["messages"]
    ]
    assert len(own_second) == 1
    single = [r for r in records if r.condition == "single"]
    assert sorted(r.turn for r in single) == [2, 2]


def test_a_base_url_without_v1_is_one_error_line_and_no_run(
    llama_server: LlamaServer, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    root = llama_server.base_url.removesuffix("/v1")
    done = turnscope("run", "-m", f"openai:smollm2@{root}", "-s", "starter", runs=runs)
    assert_one_error_line(done, f"did you mean {root}/v1?")
    assert not runs.exists() or not any(p for p in runs.iterdir() if not p.name.startswith("."))


def test_request_body_carries_the_history_in_the_wire_format() -> None:
    """The body splices in each message's cached JSON: it must parse to exactly the messages in
    the OpenAI format beside the other fields, and a message the UTF-8 encoder cannot write (a
    lone surrogate from a suite file) still makes a valid body, escaped."""
    client = OpenAICompatClient("m", "http://127.0.0.1:9/v1", api_key=None, timeout_s=5.0)
    messages = [
        Message(role="system", content='Be brief, naïve \u2603 "quoted"\n\u2028.'),
        Message(role="user", content="Hi"),
        Message(role="assistant", content="Hello."),
    ]
    params = GenerationParams(max_tokens=8, stop=("END",))
    for _ in range(2):  # the second time, every message comes from the cache
        body = json.loads(client._payload(messages, params, 7))
        assert body["messages"] == [m.model_dump(mode="json", exclude_none=True) for m in messages]
        assert {k: body[k] for k in ("model", "max_tokens", "seed", "stop", "stream")} == {
            "model": "m",
            "max_tokens": 8,
            "seed": 7,
            "stop": ["END"],
            "stream": True,
        }
    lone = [Message(role="user", content="a \ud800 b")]
    raw = client._payload(lone, params, 7)
    assert b"\\ud800" in raw
    assert json.loads(raw)["messages"] == [{"role": "user", "content": "a \ud800 b"}]
