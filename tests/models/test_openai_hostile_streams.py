"""Hostile server answers to the OpenAI-compatible backend, from a raw server that writes
exactly the bytes of each case: a stream without end, a usage block or finish reason of the
wrong type, an event nested past the JSON parser's recursion limit. Each is one bounded model
error (or, for usage, which is only informative, the answer without the nonsense), never a
hang, unbounded memory or an exception from outside the backend's error types. Also API keys
that cannot go into a header."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from helpers.servers import ThreadedServer, read_request
from turnscope.core import GenerationParams, Message
from turnscope.models import (
    ModelConfigError,
    PermanentModelError,
    TransientModelError,
    openai_compat,
)
from turnscope.models.openai_compat import OpenAICompatClient, resolve_api_key

pytestmark = pytest.mark.timeout(60)

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
DONE = b"data: [DONE]\n\n"
Writer = Callable[[asyncio.StreamWriter], Awaitable[None]]


def event(payload: Any) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def delta(text: str, finish: Any = None) -> bytes:
    return event({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]})


def endless(chunk: bytes) -> Writer:
    async def write(writer: asyncio.StreamWriter) -> None:
        writer.write(HEAD)
        while True:
            writer.write(chunk * 64)
            await writer.drain()

    return write


def once(body: bytes, head: bytes = HEAD) -> Writer:
    async def write(writer: asyncio.StreamWriter) -> None:
        writer.write(head + body)
        await writer.drain()

    return write


class RawServer(ThreadedServer):
    """Answers every request with the bytes its case (the request path's first part) writes."""

    def __init__(self, cases: dict[str, Writer]) -> None:
        super().__init__()
        self.cases = cases

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        if request is not None:
            await self.cases[request.path.split("/")[1]](writer)


CASES: dict[str, Writer] = {
    "tokens": endless(delta("a" * 64)),
    "empty-events": endless(event({"choices": [{"index": 0, "delta": {}}]})),
    "keep-alives": endless(b": keep-alive\n"),
    "usage-types": once(
        delta("hi", "stop") + event({"choices": [], "usage": {"prompt_tokens": "x"}}) + DONE
    ),
    "usage-list": once(delta("hi", "stop") + event({"choices": [], "usage": [1]}) + DONE),
    "finish-object": once(delta("hi", {"x": 1}) + DONE),
    "finish-huge": once(delta("hi", "x" * 100_000) + DONE),
    "deep-event": once(b"data: " + b"[" * 100_000 + b"]" * 100_000 + b"\n\n"),
    "html-page": once(
        b"<html><body>Sign in to continue</body></html>",
        b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n",
    ),
    "deep-error": once(
        b"[" * 100_000 + b"]" * 100_000,
        b"HTTP/1.1 500 Oops\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n",
    ),
}


@pytest.fixture(scope="module")
def server() -> Iterator[RawServer]:
    with RawServer(CASES) as raw:
        yield raw


async def answer(server: RawServer, case: str) -> Any:
    client = OpenAICompatClient(
        "m", f"http://127.0.0.1:{server.port}/{case}/v1", api_key=None, timeout_s=10
    )
    try:
        messages = [Message(role="user", content="hi")]
        return await client.generate(messages, GenerationParams(max_tokens=8), seed=0)
    finally:
        await client.aclose()


@pytest.mark.parametrize("case", ["tokens", "empty-events", "keep-alives"])
async def test_a_stream_without_end_is_cut_at_the_bound(
    server: RawServer, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(openai_compat, "MAX_STREAM_BYTES", 1 << 20)
    with pytest.raises(PermanentModelError, match="streamed answer longer than 1048576 bytes"):
        await asyncio.wait_for(answer(server, case), 30)


@pytest.mark.parametrize("case", ["usage-types", "usage-list"])
async def test_a_usage_block_of_the_wrong_type_keeps_the_answer(
    server: RawServer, case: str
) -> None:
    completion = await answer(server, case)
    assert completion.text == "hi" and completion.finish_reason == "stop"
    assert completion.prompt_tokens is None


@pytest.mark.parametrize(
    ("case", "error", "message"),
    [
        ("finish-object", TransientModelError, "malformed finish_reason: '{\"x\": 1}'"),
        ("finish-huge", PermanentModelError, "finish_reason longer than 256 characters"),
        ("deep-event", TransientModelError, "invalid JSON in stream: '[[[["),
        ("deep-error", TransientModelError, "HTTP 500: [[[["),
        # a login page said "answer incomplete (a llama.cpp server cuts running streams ...)"
        ("html-page", TransientModelError, "the answer (text/html) held no server-sent event"),
    ],
)
async def test_malformed_answers_are_bounded_model_errors(
    server: RawServer, case: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        await answer(server, case)
    assert str(raised.value).startswith(message) and len(str(raised.value)) < 400


@pytest.mark.parametrize("key", ["sk-abc\ndef", "sk-\x1b[31m", "  \n"])
def test_an_api_key_that_cannot_go_into_a_header_is_a_config_error(
    key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # aiohttp refused it mid-run with a "header injection" ValueError and a traceback
    monkeypatch.setenv("HOSTILE_KEY", key)
    with pytest.raises(ModelConfigError, match="HOSTILE_KEY does not hold an API key") as raised:
        resolve_api_key("HOSTILE_KEY", "http://127.0.0.1:9/v1")
    assert key.strip() == "" or key not in str(raised.value)


def test_an_api_key_read_with_its_final_newline_is_used_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOSTILE_KEY", "sk-abc\n")
    assert resolve_api_key("HOSTILE_KEY", "http://127.0.0.1:9/v1") == "sk-abc"
