"""Tool calls through the OpenAI-compatible backend, against the fault-injecting fake server:
sent with the request, read back from whole and streamed answers, stored on the record, put
back into the next turn's history, and shown by `turnscope show`. A hostile server's tool calls
are bounded: too many or too long is a failed turn, a malformed one a transient error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import run_cli
from helpers.servers import FakeOpenAIServer
from turnscope.core import (
    GenerationParams,
    Message,
    ModelIdentity,
    RunConfig,
    ToolCall,
    ToolFunctionCall,
    ToolSpec,
    TurnRecord,
)
from turnscope.models import PermanentModelError, TransientModelError
from turnscope.models.openai_compat import (
    MAX_TOOL_ARGUMENT_CHARS,
    MAX_TOOL_CALLS,
    OpenAICompatClient,
)
from turnscope.run import client_for, create_run, execute_run
from turnscope.store import RunStore
from turnscope.suites import load_suite_file

pytestmark = pytest.mark.timeout(60)

WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather of a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)
CALLS = [
    {"id": "call_a1", "name": "get_weather", "arguments": '{"city": "Paris", "unit": "C"}'},
    {"id": "call_b2", "name": "get_weather", "arguments": '{"city": "Oslo"}'},
]
EXPECTED = tuple(
    ToolCall(id=c["id"], function=ToolFunctionCall(name=c["name"], arguments=c["arguments"]))
    for c in CALLS
)


def weather_calls(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Tool calls when the request offers tools and its last message asks for the weather."""
    last = body["messages"][-1]
    if body.get("tools") and last["role"] == "user" and "weather" in last["content"]:
        return CALLS
    return None


@pytest.fixture(params=[True, False], ids=["streamed", "whole"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(
        tool_calls=weather_calls, streaming=request.param, chunk_delay_s=0
    ) as server:
        yield server


async def test_tool_calls_round_trip_through_the_engine_store_and_show(
    fake: FakeOpenAIServer, tmp_path: Path
) -> None:
    suite = tmp_path / "tools.yaml"
    suite.write_text(
        "name: tools\nitems:\n"
        "  - id: weather\n"
        "    turns:\n"
        "      - user: What is the weather in Paris and Oslo?\n"
        "      - user: Thanks. Anything else?\n",
        encoding="utf-8",
    )
    items = load_suite_file(suite).suite.items
    config = RunConfig(
        model=f"openai:fake@{fake.base_url}",
        suite=str(suite),
        params=GenerationParams(max_tokens=16, tools=(WEATHER,)),
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
        store.close()
    assert outcome.engine.turns_recorded == 2 and outcome.engine.turn_errors == 0

    # The request offered the tool; the second turn's history carries the calls it made.
    first, second = fake.bodies
    assert first["tools"] == [WEATHER.openai()]
    answered = second["messages"][1]
    assert answered["role"] == "assistant" and answered["content"] == ""
    assert answered["tool_calls"] == [c.model_dump() for c in EXPECTED]

    reopened = RunStore.open(store.run_dir)
    try:
        one, two = reopened.records()
    finally:
        reopened.close()
    assert one.tool_calls == EXPECTED
    assert one.response == "" and one.finish_reason == "tool_calls" and one.error is None
    assert one.answer == Message(role="assistant", content="", tool_calls=EXPECTED)
    assert two.tool_calls is None and two.response and two.response.startswith("Reply")

    code, out, err = run_cli("show", str(store.run_dir), "--item", "weather")
    assert code == 0, err
    lines = out.splitlines()
    calls = [line for line in lines if line.startswith("tool call get_weather")]
    assert calls == [
        'tool call get_weather (id call_a1): {"city": "Paris", "unit": "C"}',
        'tool call get_weather (id call_b2): {"city": "Oslo"}',
    ]
    assert not any(line.startswith("assistant:") and "get_weather" in line for line in lines)


def test_show_prints_tool_results_apart_and_defuses_hostile_text(tmp_path: Path) -> None:
    """A stored tool-use turn (as a tool-use protocol records it): the assistant's call and the
    tool's result are printed as such, with markup and terminal escapes made harmless."""
    hostile = "\x1b]0;pwned\x07[bold red]loud[/bold red]\x1b[2J"
    call = ToolCall(id="c[1]", function=ToolFunctionCall(name="lookup", arguments=hostile))
    record = TurnRecord(
        item_id="tooly",
        turn=1,
        condition="own",
        request_hash="h",
        new_messages=(
            Message(role="user", content="Look it up."),
            Message(role="assistant", content="", tool_calls=(call,)),
            Message(role="tool", content=f"result {hostile}", tool_call_id="c[1]", name="lookup"),
        ),
        response=f"Done {hostile}",
        model=ModelIdentity(backend="openai", model="fake"),
        params=GenerationParams(),
        seed=1,
        finished_at=datetime.now(UTC),
    )
    items = load_suite_file(_one_item_suite(tmp_path, "tooly")).suite.items
    config = RunConfig(model="openai:fake", suite="s", created_at=datetime.now(UTC))
    store = create_run(config, items, tmp_path / "runs")
    store.commit(record)
    store.close()

    code, out, err = run_cli("show", str(store.run_dir), "--item", "tooly")
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out
    shown = "\\x1b]0;pwned\\x07[bold red]loud[/bold red]\\x1b[2J"
    assert f"tool call lookup (id c[1]): {shown}" in out
    assert f"tool result lookup (call c[1]): result {shown}" in out
    assert f"assistant: Done {shown}" in out
    assert "user: Look it up." in out


def _one_item_suite(tmp_path: Path, item_id: str) -> Path:
    suite = tmp_path / "one.yaml"
    suite.write_text(
        f"name: one\nitems:\n  - id: {item_id}\n    turns:\n      - user: Hi.\n",
        encoding="utf-8",
    )
    return suite


async def _ask_with(server: FakeOpenAIServer) -> Any:
    client = OpenAICompatClient("fake", server.base_url, api_key=None, timeout_s=10)
    try:
        return await client.generate(
            [Message(role="user", content="weather?")],
            GenerationParams(tools=(WEATHER,)),
            seed=0,
        )
    finally:
        await client.aclose()


def _serving(calls: list[dict[str, Any]], streaming: bool) -> FakeOpenAIServer:
    return FakeOpenAIServer(tool_calls=lambda body: calls, streaming=streaming)


@pytest.mark.parametrize("streaming", [True, False], ids=["streamed", "whole"])
async def test_too_many_or_too_long_tool_calls_fail_the_turn(streaming: bool) -> None:
    many = [
        {"id": f"c{i}", "name": "get_weather", "arguments": "{}"} for i in range(MAX_TOOL_CALLS + 1)
    ]
    with _serving(many, streaming) as server, pytest.raises(PermanentModelError, match="more than"):
        await _ask_with(server)
    long = [{"id": "c", "name": "f", "arguments": "x" * (MAX_TOOL_ARGUMENT_CHARS + 1)}]
    with _serving(long, streaming) as server, pytest.raises(PermanentModelError, match="longer"):
        await _ask_with(server)


@pytest.mark.parametrize(
    "entry",
    [
        {"index": "first", "function": {"name": "f", "arguments": "{}"}},
        {"index": 0, "function": "get_weather({})"},
        {"index": 0, "function": {"name": ["f"] * 500, "arguments": "{}"}},
        {"index": 0, "function": {"arguments": "{}"}},
    ],
    ids=["index-not-a-number", "function-not-an-object", "name-not-text", "no-name"],
)
async def test_a_malformed_tool_call_delta_is_transient_with_a_short_excerpt(
    entry: dict[str, Any],
) -> None:
    with (
        _serving([entry], streaming=True) as server,
        pytest.raises(TransientModelError, match="malformed") as caught,
    ):
        await _ask_with(server)
    assert len(str(caught.value)) < 300


async def test_a_streamed_call_without_an_id_gets_one_and_repeated_names_count_once() -> None:
    raw = [
        {"index": 0, "type": "function", "function": {"name": "get_weather", "arguments": "{"}},
        {"index": 0, "function": {"name": "get_weather", "arguments": '"city": "Rome"}'}},
    ]
    with _serving(raw, streaming=True) as server:
        completion = await _ask_with(server)
    (call,) = completion.tool_calls
    assert call.id == "call_0" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Rome"}
    assert completion.text == "" and completion.finish_reason == "tool_calls"
