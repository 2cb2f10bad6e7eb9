"""Any OpenAI-compatible chat endpoint (vLLM, SGLang, llama.cpp server, Ollama, hosted APIs).

Streams every answer so that time to first token is measured, and sorts failures into
transient (the engine retries them) and permanent (recorded on the turn). Answers may call
tools (`GenerationParams.tools`); tool calls are read from whole bodies and from streamed
deltas, bounded in number and size because the server's bytes are not trusted.

HTTP is aiohttp: the same streamed request costs several times less CPU than with httpx
(docs/design/harness-cost.md), and the client's own cost is most of what a turn costs against
a fast server. Every response is read to its end, so its connection goes back to the pool and
the next request reuses it instead of paying a new TCP (and TLS) handshake.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import aiohttp
from pydantic_core import from_json

from turnscope.core import (
    Completion,
    GenerationParams,
    Message,
    ModelIdentity,
    OutputConstraint,
    ToolCall,
    ToolFunctionCall,
    message_json,
    wire_message,
)
from turnscope.models.base import BackendOptions, register_backend
from turnscope.models.constraints import to_gbnf, to_regex
from turnscope.models.errors import ModelConfigError, PermanentModelError, TransientModelError
from turnscope.models.pool import EndpointPool

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
_TRANSIENT_STATUS = {408, 409, 425, 429}
MAX_TOOL_CALLS = 64
"""Tool calls one answer may make; more is recorded as a failed turn (a runaway or hostile
server), never cut silently."""
MAX_TOOL_ARGUMENT_CHARS = 65_536
"""Characters of one tool call's arguments."""
MAX_TOOL_FIELD_CHARS = 256
"""Characters of a tool call's id or function name."""
MAX_LINE_BYTES = 1 << 20
"""Longest line of a streamed answer (one event); a longer one is a broken response."""
MAX_BODY_BYTES = 8 << 20
"""Largest whole (non-streamed) answer or error body read."""
MAX_STREAM_BYTES = 64 << 20
"""Largest streamed answer read (some 300,000 tokens with their event framing): a server that
streams without end (ignoring max_tokens, or sending keep-alives or empty events forever) is
cut off there instead of holding the turn and growing memory until the run is killed."""
MAX_DRAIN_BYTES = 65_536
"""Bytes read after a stream's [DONE] to reach the end of the body (so the connection is
reused); a server that sends more is cut off and its connection dropped."""
MAX_PROPS_BYTES = 1 << 20
"""Bytes of the llama.cpp /props answer read when asking for the server's slots."""
STRUCTURED_MODES = ("auto", "llamacpp", "vllm", "sglang", "openai", "none")
"""How output constraints are sent (-M structured=MODE): llama.cpp's `grammar` (GBNF), vLLM's
`structured_outputs`, SGLang's `regex`/`json_schema`, OpenAI's `response_format` (JSON
schemas only), or not at all; `auto` is llamacpp for a server that answers llama.cpp's
/props, none otherwise (servers refuse or ignore fields they do not know)."""
logger = logging.getLogger(__name__)


_JSON = {"Content-Type": "application/json"}


def _env_proxy(url: str) -> str | None:
    """The proxy the environment names for `url`, None for none or a NO_PROXY host."""
    parsed = urlparse(url)
    if urllib.request.proxy_bypass(parsed.hostname or ""):
        return None
    return urllib.request.getproxies().get(parsed.scheme)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _error_text(body: bytes) -> str:
    try:
        data = _parsed_json(body)
    except ValueError:
        return body[:300].decode("utf-8", "replace")
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            return str(error.get("message", error))[:300]
        return str(error)[:300]
    return str(data)[:300]


async def _read_body(response: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The whole body, or None once it grows past `limit` bytes (the response is then closed:
    its connection cannot be reused)."""
    body = bytearray()
    async for data in response.content.iter_any():
        body += data
        if len(body) > limit:
            response.close()
            return None
    return bytes(body)


class OpenAICompatClient:
    """ModelClient for a /v1/chat/completions endpoint."""

    def __init__(
        self,
        model: str,
        base_url: str,
        *,
        api_key: str | None,
        timeout_s: float,
        max_concurrency: int | None = None,
        concurrency: int | None = None,
        structured: str = "auto",
    ) -> None:
        self._model = model
        self._base_url = base_url.rstrip("/")
        self._identity = ModelIdentity(backend="openai", model=model, revision=self._base_url)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # Like httpx's per-operation timeout: connecting, and every wait for more bytes.
        self._timeout = aiohttp.ClientTimeout(total=None, connect=timeout_s, sock_read=timeout_s)
        self._http: aiohttp.ClientSession | None = None
        # The environment's proxy for this server (HTTPS_PROXY, NO_PROXY ...), looked up once:
        # aiohttp's trust_env would read the environment again for every request.
        self._proxy = _env_proxy(self._base_url)
        self._max_concurrency = max_concurrency
        self._concurrency = concurrency
        self.server_slots: int | None = None
        """Parallel slots the server said it has (llama.cpp's /props), after preflight."""
        if structured not in STRUCTURED_MODES:
            raise ModelConfigError(
                f"-M structured={structured}: expected one of {', '.join(STRUCTURED_MODES)}"
            )
        self.structured = structured
        """How output constraints are sent (STRUCTURED_MODES); `auto` is resolved by
        preflight."""
        self._constraint_fields: dict[str, dict[str, Any]] = {}
        self._fields_written: dict[tuple[int, str], tuple[GenerationParams, str]] = {}

    @property
    def identity(self) -> ModelIdentity:
        return self._identity

    @property
    def base_url(self) -> str:
        """The server's API root, e.g. http://127.0.0.1:8080/v1."""
        return self._base_url

    @property
    def max_concurrency(self) -> int | None:
        """-M max_concurrency when given, else the server's slots when it said how many."""
        return self._max_concurrency or self.server_slots

    def _session(self) -> aiohttp.ClientSession:
        """The HTTP session, made on first use: it belongs to the event loop that runs it."""
        if self._http is None:
            # The engine never has more than `concurrency` requests in flight, so that many
            # connections serve a whole run (0: no limit, when the figure is unknown).
            connector = aiohttp.TCPConnector(limit=self._concurrency or 0, limit_per_host=0)
            self._http = aiohttp.ClientSession(
                connector=connector, headers=self._headers, timeout=self._timeout
            )
        return self._http

    async def preflight(self) -> None:
        """Fail fast, with one clear line, when the server cannot be reached at all or rejects
        the key. Other statuses pass: some servers have no /models route. Then ask how many
        parallel slots the server has, where it says (llama.cpp), and warn if the run would
        send more conversations at once than it has slots."""
        timeout = aiohttp.ClientTimeout(total=10.0)
        try:
            async with self._session().get(
                f"{self._base_url}/models", timeout=timeout, proxy=self._proxy
            ) as response:
                body = await _read_body(response, MAX_BODY_BYTES) or b""
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ModelConfigError(
                f"cannot reach the model server at {self._base_url}: {type(exc).__name__}: "
                f"{str(exc) or 'no answer within 10 s'}"
            ) from exc
        if response.status in (401, 403):
            raise ModelConfigError(
                f"the server at {self._base_url} rejected the API key: HTTP "
                f"{response.status}: {_error_text(body)}"
            )
        if response.status == 404 and await self._chat_route_missing():
            hint = (
                f"; did you mean {self._base_url}/v1?" if not self._base_url.endswith("/v1") else ""
            )
            raise ModelConfigError(
                f"the server at {self._base_url} has no OpenAI-compatible API there: "
                f"/models and /chat/completions answer HTTP 404{hint}"
            )
        self.server_slots = await self._ask_slots()
        if self.structured == "auto":
            self.structured = "llamacpp" if self.server_slots is not None else "none"
        wanted = self._max_concurrency or self._concurrency
        if self.server_slots is not None and wanted is not None and wanted > self.server_slots:
            limit = self._max_concurrency
            logger.warning(
                "the server at %s has %d parallel slot(s) but the run asks for %d %s: "
                "conversations beyond the slots evict each other's prompt cache and are "
                "prefilled again every turn. %s",
                self._base_url,
                self.server_slots,
                wanted,
                "(-M max_concurrency)" if limit else "conversations at once",
                "Lower -M max_concurrency."
                if limit
                else f"Playing {self.server_slots} at a time (-M max_concurrency=N overrides).",
            )

    async def _chat_route_missing(self) -> bool:
        """Whether a one-token chat request is answered 404 (a wrong base URL), for servers
        whose /models route is missing: some serve chat without it."""
        probe = {
            "model": self._model,
            "messages": [{"role": "user", "content": "Reply with one word."}],
            "max_tokens": 1,
            "stream": False,
        }
        try:
            async with self._session().post(
                f"{self._base_url}/chat/completions",
                json=probe,
                timeout=aiohttp.ClientTimeout(total=30.0),
                proxy=self._proxy,
            ) as response:
                await _read_body(response, MAX_BODY_BYTES)
                return response.status == 404
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def _ask_slots(self) -> int | None:
        """llama.cpp server's `total_slots` from GET /props beside /v1; None when the server
        does not say (other servers, or a llama.cpp server started without the endpoint)."""
        root = self._base_url.removesuffix("/v1")
        try:
            async with self._session().get(
                f"{root}/props", timeout=aiohttp.ClientTimeout(total=5.0), proxy=self._proxy
            ) as response:
                body = await _read_body(response, MAX_PROPS_BYTES)
                if response.status != 200 or body is None:
                    return None
        except (aiohttp.ClientError, TimeoutError):
            return None
        try:
            slots = json.loads(body).get("total_slots")
        except (ValueError, AttributeError):
            return None
        if isinstance(slots, int) and not isinstance(slots, bool) and 1 <= slots <= 1_000_000:
            return slots
        return None

    def enforces(self, constraint: OutputConstraint) -> bool:
        """Whether the request fields of this server's kind can carry the constraint."""
        return bool(self._fields_for(constraint))

    def _fields_for(self, constraint: OutputConstraint) -> dict[str, Any]:
        """The request fields that carry `constraint` to this kind of server ({}: none)."""
        key = constraint.model_dump_json()
        fields = self._constraint_fields.get(key)
        if fields is None:
            fields = self._constraint_fields[key] = _structured_fields(self.structured, constraint)
        return fields

    def _fields(self, params: GenerationParams) -> dict[str, Any]:
        """The request's fields other than the messages and the seed."""
        payload: dict[str, Any] = {
            "model": self._model,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if params.stop:
            payload["stop"] = list(params.stop)
        if params.tools:
            payload["tools"] = [tool.openai() for tool in params.tools]
        if params.constraint is not None:
            payload.update(self._fields_for(params.constraint))
        return payload

    def _fields_json(self, params: GenerationParams) -> str:
        """`_fields` as JSON object members (no braces), written once per parameters object:
        a role sends the same frozen GenerationParams with every request."""
        key = (id(params), self.structured)
        entry = self._fields_written.get(key)
        if entry is not None and entry[0] is params:
            return entry[1]
        text = json.dumps(self._fields(params))[1:-1]
        if len(self._fields_written) >= 64:  # parameters made per request: keep it bounded
            self._fields_written.clear()
        self._fields_written[key] = (params, text)
        return text

    def _payload(self, messages: Sequence[Message], params: GenerationParams, seed: int) -> bytes:
        # The history is spliced in as each message's cached JSON (the request hash wrote it
        # already), and the other fields as JSON written once per parameters object: encoding
        # them again every turn was a measurable share of a turn against a fast server.
        history = ",".join(message_json(m) for m in messages)
        fields = self._fields_json(params)
        try:
            return f'{{"messages":[{history}],{fields},"seed":{int(seed)}}}'.encode()
        except UnicodeEncodeError:
            # A lone surrogate cannot be UTF-8: the standard encoder escapes it instead.
            payload = self._fields(params)
            payload["seed"] = seed
            payload["messages"] = [wire_message(m) for m in messages]
            return json.dumps(payload).encode()

    async def generate(
        self, messages: Sequence[Message], params: GenerationParams, *, seed: int
    ) -> Completion:
        started = time.perf_counter()
        body = self._payload(messages, params, seed)
        try:
            async with self._session().post(
                f"{self._base_url}/chat/completions",
                data=body,
                headers=_JSON,
                proxy=self._proxy,
            ) as response:
                try:
                    return await _read_answer(response, started)
                except BaseException:
                    # A half-read body (a broken stream, a cancelled request) cannot be
                    # reused: drop its connection rather than hand it back to the pool. An
                    # error status whose body was read whole keeps its connection.
                    if not response.content.at_eof():
                        response.close()
                    raise
        except TimeoutError as exc:
            raise TransientModelError(f"timeout: {type(exc).__name__}") from exc
        except aiohttp.ClientError as exc:
            raise TransientModelError(f"connection error: {type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None


def _structured_fields(mode: str, constraint: OutputConstraint) -> dict[str, Any]:
    """The request fields that carry `constraint` in `mode` ({} where that kind of server has
    none for it: the answer is then left free and parsed as usual)."""
    schema = constraint.json_schema
    if mode == "llamacpp":
        grammar = to_gbnf(constraint)
        return {"grammar": grammar} if grammar is not None else {}
    if mode == "vllm":
        if schema is not None:
            return {"structured_outputs": {"json": schema}}
        if constraint.choices is not None and not constraint.preamble:
            return {"structured_outputs": {"choice": list(constraint.choices)}}
        return {"structured_outputs": {"regex": to_regex(constraint)}}
    if mode == "sglang":
        if schema is not None:
            return {"json_schema": json.dumps(schema)}
        return {"regex": to_regex(constraint)}
    if mode == "openai" and schema is not None:
        return {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": True},
            }
        }
    return {}


async def _read_answer(response: aiohttp.ClientResponse, started: float) -> Completion:
    if response.status >= 400:
        raise _status_error(response, await _read_body(response, MAX_BODY_BYTES) or b"")
    if response.content_type == "application/json":
        body = await _read_body(response, MAX_BODY_BYTES)
        if body is None:
            raise TransientModelError(f"response body larger than {MAX_BODY_BYTES} bytes")
        return _from_json_body(body, started)
    return await _read_stream(response, started)


def _status_error(response: aiohttp.ClientResponse, body: bytes) -> Exception:
    status = response.status
    detail = f"HTTP {status}: {_error_text(body)}"
    if status in _TRANSIENT_STATUS or status >= 500:
        return TransientModelError(
            detail, retry_after_s=parse_retry_after(response.headers.get("retry-after"))
        )
    return PermanentModelError(detail)


def _excerpt(value: Any) -> str:
    """A short, printable excerpt of something a server sent, for an error message."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return repr(text[:120])


def _bounded_text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise TransientModelError(f"malformed tool call: {what} is not text: {_excerpt(value)}")
    if len(value) > limit:
        raise PermanentModelError(f"tool call {what} longer than {limit} characters")
    return value


def _whole_tool_calls(raw: Any) -> tuple[ToolCall, ...] | None:
    """The `tool_calls` of a non-streamed message, checked and bounded."""
    if raw is None or raw == []:
        return None
    if not isinstance(raw, list):
        raise TransientModelError(f"malformed tool_calls: {_excerpt(raw)}")
    if len(raw) > MAX_TOOL_CALLS:
        raise PermanentModelError(f"the answer makes more than {MAX_TOOL_CALLS} tool calls")
    calls = []
    for index, entry in enumerate(raw):
        function = entry.get("function") if isinstance(entry, dict) else None
        if not isinstance(function, dict):
            raise TransientModelError(f"malformed tool call: {_excerpt(entry)}")
        arguments = function.get("arguments", "")
        if isinstance(arguments, dict):  # some servers send the object itself
            arguments = json.dumps(arguments)
        parts = _CallParts(
            id=_bounded_text(entry.get("id") or "", "id", MAX_TOOL_FIELD_CHARS),
            name=_bounded_text(function.get("name"), "name", MAX_TOOL_FIELD_CHARS),
        )
        parts.add_arguments(_bounded_text(arguments, "arguments", MAX_TOOL_ARGUMENT_CHARS))
        calls.append(parts.call(index))
    return tuple(calls)


@dataclass
class _CallParts:
    """One tool call being put together from streamed fragments."""

    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)
    size: int = 0

    def add_arguments(self, fragment: str) -> None:
        self.size += len(fragment)
        if self.size > MAX_TOOL_ARGUMENT_CHARS:
            raise PermanentModelError(
                f"tool call arguments longer than {MAX_TOOL_ARGUMENT_CHARS} characters"
            )
        self.arguments.append(fragment)

    def call(self, index: int) -> ToolCall:
        if not self.name:
            raise TransientModelError(f"malformed tool call {index}: no function name")
        # A server that gives no id (some local ones) still needs one the tool message can
        # answer; the position is unique within the answer.
        return ToolCall(
            id=self.id or f"call_{index}",
            function=ToolFunctionCall(name=self.name, arguments="".join(self.arguments)),
        )


def _joined(current: str, fragment: Any, what: str) -> str:
    """A streamed id or name with `fragment` added; some servers repeat the whole value on
    every delta, which is kept once."""
    if fragment is None or fragment == "" or fragment == current:
        return current
    text = _bounded_text(fragment, what, MAX_TOOL_FIELD_CHARS)
    return _bounded_text(current + text, what, MAX_TOOL_FIELD_CHARS)


def _add_tool_deltas(calls: dict[int, _CallParts], deltas: Any) -> None:
    """Fold one delta's `tool_calls` fragments into `calls` (keyed by their index)."""
    if not isinstance(deltas, list):
        raise TransientModelError(f"malformed tool_calls delta: {_excerpt(deltas)}")
    for position, entry in enumerate(deltas):
        if not isinstance(entry, dict):
            raise TransientModelError(f"malformed tool_calls delta: {_excerpt(entry)}")
        index = entry.get("index", position)
        function = entry.get("function") or {}
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise TransientModelError(f"malformed tool call index: {_excerpt(entry)}")
        if not isinstance(function, dict):
            raise TransientModelError(f"malformed tool_calls delta: {_excerpt(entry)}")
        parts = calls.get(index)
        if parts is None:
            if len(calls) >= MAX_TOOL_CALLS:
                raise PermanentModelError(f"the answer makes more than {MAX_TOOL_CALLS} tool calls")
            parts = calls[index] = _CallParts()
        parts.id = _joined(parts.id, entry.get("id"), "id")
        parts.name = _joined(parts.name, function.get("name"), "name")
        arguments = function.get("arguments")
        if arguments:
            parts.add_arguments(_bounded_text(arguments, "arguments", MAX_TOOL_ARGUMENT_CHARS))


def _from_json_body(body: bytes, started: float) -> Completion:
    try:
        data = _parsed_json(body)
        choice = data["choices"][0]
        message = choice["message"]
        text = message.get("content") or ""
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise TransientModelError(f"invalid JSON response: {body[:200]!r}") from exc
    if not isinstance(text, str):
        raise TransientModelError(f"invalid JSON response: content is not text: {_excerpt(text)}")
    usage = _usage(data.get("usage"))
    elapsed = time.perf_counter() - started
    return Completion(
        text=text,
        tool_calls=_whole_tool_calls(message.get("tool_calls")),
        prompt_tokens=_tokens(usage.get("prompt_tokens")),
        completion_tokens=_tokens(usage.get("completion_tokens")),
        finish_reason=_finish_reason(choice.get("finish_reason")),
        latency_s=elapsed,
    )


def _usage(value: Any) -> dict[str, Any]:
    """A response's `usage`, or nothing when it is absent or not an object."""
    return value if isinstance(value, dict) else {}


def _tokens(value: Any) -> int | None:
    """A token count the server reported; None unless it is a count (usage is informative: a
    server that writes nonsense there does not lose the answer)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _finish_reason(value: Any) -> str | None:
    """The finish reason a server sent, checked: text of at most MAX_TOOL_FIELD_CHARS."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TransientModelError(f"malformed finish_reason: {_excerpt(value)}")
    if len(value) > MAX_TOOL_FIELD_CHARS:
        raise PermanentModelError(f"finish_reason longer than {MAX_TOOL_FIELD_CHARS} characters")
    return value


def _parsed_json(data: bytes) -> Any:
    """A response body or stream event. pydantic's parser refuses a lone surrogate escape such
    as \\ud800, which JSON allows and a server can send inside a token; the standard parser
    reads it, so the answer is kept (and sanitised when stored) instead of being retried until
    the run fails."""
    try:
        return from_json(data)
    except ValueError:
        pass
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _snippet(data: bytes) -> str:
    """The start of a line a server sent, printable, for an error message."""
    return repr(data[:200].decode("utf-8", "replace"))


class _StreamedAnswer:
    """An answer put together from the lines of a server-sent event stream."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.pieces: list[str] = []
        self.calls: dict[int, _CallParts] = {}
        self.ttft: float | None = None
        self.finish: str | None = None
        self.usage: dict[str, Any] = {}
        self.chunks = 0
        self.done = False
        """Whether the stream said data: [DONE]."""
        self.events = False
        """Whether the stream held any `data:` line at all."""

    def feed(self, lines: list[bytes]) -> None:
        """Take complete lines of the stream, in order, up to data: [DONE] (lines other than
        event data are ignored)."""
        events: list[bytes] = []
        for line in lines:
            if line.startswith(b"data:"):
                self.events = True
                data = line[5:].strip()
                if data == b"[DONE]":
                    self._take_all(events)
                    self.done = True
                    return
                events.append(data)
        self._take_all(events)

    def _take_all(self, events: list[bytes]) -> None:
        """Parse and take the events of one read. A fast server's whole answer often arrives
        in one read: its thirty-odd events are parsed in one call, as one JSON array (a
        third less CPU than a call per event). Where that fails, or finds another number of
        values than there are events (a line that is not one JSON value), each is parsed on
        its own, so a broken line is refused with its own message. Only a crafted stream could
        join into exactly as many values as it has lines without each line being one; its
        values are events the server could have sent as well-formed lines."""
        if len(events) > 1:
            try:
                parsed = from_json(b"[" + b",".join(events) + b"]")
            except ValueError:
                parsed = None
            if isinstance(parsed, list) and len(parsed) == len(events):
                for data, event in zip(events, parsed, strict=True):
                    self._take(data, event)
                return
        for data in events:
            try:
                # pydantic's JSON parser: about three times faster than json.loads on events
                # this small.
                event = _parsed_json(data)
            except ValueError as exc:
                raise TransientModelError(f"invalid JSON in stream: {_snippet(data)}") from exc
            self._take(data, event)

    def _take(self, data: bytes, event: Any) -> None:
        """Take one parsed event (`data`: its line, quoted in errors)."""
        if not isinstance(event, dict):
            raise TransientModelError(f"unexpected stream event: {_snippet(data)}")
        if "error" in event:
            raise TransientModelError(f"error in stream: {str(event['error'])[:300]}")
        self.usage = _usage(event.get("usage")) or self.usage
        try:
            for choice in event.get("choices") or ():
                delta = choice.get("delta") or {}
                piece = delta.get("content")
                tool_deltas = delta.get("tool_calls")
                if piece or tool_deltas:
                    if self.ttft is None:
                        self.ttft = time.perf_counter() - self.started
                    if piece:
                        if not isinstance(piece, str):
                            raise TypeError("content is not text")
                        self.pieces.append(piece)
                        self.chunks += 1
                    if tool_deltas:
                        _add_tool_deltas(self.calls, tool_deltas)
                self.finish = _finish_reason(choice.get("finish_reason")) or self.finish
        except (AttributeError, TypeError) as exc:
            raise TransientModelError(f"malformed stream event: {_snippet(data)}") from exc

    def completion(self) -> Completion:
        # Every complete answer ends with a finish reason; a stream that closes (even with
        # [DONE]) without one was cut short, and a truncated answer must not be scored.
        if self.finish is None:
            where = "[DONE]" if self.done else "the connection closed"
            raise TransientModelError(
                f"stream ended ({where}) before a finish reason: answer incomplete (a llama.cpp "
                "server cuts running streams when a new request arrives unless started with "
                "--interrupt_requests False)"
            )
        calls = self.calls
        return Completion(
            text="".join(self.pieces),
            tool_calls=tuple(calls[i].call(i) for i in sorted(calls)) if calls else None,
            prompt_tokens=_tokens(self.usage.get("prompt_tokens")),
            completion_tokens=_tokens(self.usage.get("completion_tokens", self.chunks)),
            finish_reason=self.finish,
            latency_s=time.perf_counter() - self.started,
            ttft_s=self.ttft,
        )


async def _read_stream(response: aiohttp.ClientResponse, started: float) -> Completion:
    """Read a streamed answer to the end of the body. Lines are split here from whatever the
    socket delivered, not read one at a time: a fast server's whole answer often arrives in a
    single read."""
    answer = _StreamedAnswer(started)
    pending = bytearray()  # the start of a line whose end has not arrived yet
    after_done = 0
    read = 0
    async for data in response.content.iter_any():
        read += len(data)
        if read > MAX_STREAM_BYTES:
            raise PermanentModelError(f"streamed answer longer than {MAX_STREAM_BYTES} bytes")
        if answer.done:
            # Read past [DONE] to the end of the body (usually nothing but the closing
            # chunk), so the connection returns to the pool; not forever, though.
            after_done += len(data)
            if after_done > MAX_DRAIN_BYTES:
                raise TransientModelError("the server kept sending after [DONE]")
            continue
        lines = data.split(b"\n")
        if pending:
            lines[0] = bytes(pending) + lines[0]
            pending.clear()
        pending += lines.pop()
        if len(pending) > MAX_LINE_BYTES:
            raise TransientModelError(f"stream line longer than {MAX_LINE_BYTES} bytes")
        answer.feed(lines)
    if not answer.done:
        answer.feed([bytes(pending)])
    if not answer.events:
        # An HTML page, a proxy's error text: no hint about cut streams would help.
        raise TransientModelError(
            f"the answer ({response.content_type or 'no content type'}) held no server-sent "
            "event: not an OpenAI-compatible chat completions stream"
        )
    return answer.completion()


def resolve_api_key(key_env: str | None, base_url: str) -> str | None:
    """The API key from the environment; required unless the server is on this machine.

    A variable the user named explicitly must exist; the default variable may be absent
    for a loopback server, which usually needs no key."""
    if key_env is not None:
        value = os.environ.get(key_env)
        if not value:
            raise ModelConfigError(
                f"environment variable {key_env} (named by --api-key-env) is not set"
            )
        return _header_safe(value, key_env)
    value = os.environ.get(DEFAULT_KEY_ENV)
    if value:
        return _header_safe(value, DEFAULT_KEY_ENV)
    if (urlparse(base_url).hostname or "") in _LOOPBACK_HOSTS:
        return None
    raise ModelConfigError(
        f"no API key: set {DEFAULT_KEY_ENV}, or name the variable that holds it with --api-key-env"
    )


def _header_safe(key: str, variable: str) -> str:
    """The API key without the spaces and line ends around it (a key file read with its final
    newline); one with a control character inside cannot go into a header: ModelConfigError
    naming the variable, never the key."""
    key = key.strip()
    if not key or any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
        raise ModelConfigError(
            f"environment variable {variable} does not hold an API key: it is blank or has a "
            "control character (a line break?) inside"
        )
    return key


def parse_openai_spec(rest: str, options: BackendOptions) -> tuple[str, str]:
    """Split "MODEL@BASE_URL" into model and base URL (default: options or OPENAI_BASE_URL)."""
    model, sep, base_url = rest.partition("@")
    if not model:
        raise ModelConfigError(
            "openai spec needs a model name: openai:MODEL or openai:MODEL@http://HOST:PORT/v1"
        )
    if not sep:
        base_url = str(
            options.extra.get("base_url") or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        )
    for url in base_url.split(","):
        _check_url(url)
    return model, base_url


def _check_url(base_url: str) -> None:
    try:
        parsed = urlparse(base_url)
        parsed.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as exc:
        raise ModelConfigError(f"invalid base URL {base_url!r}: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ModelConfigError(f"invalid base URL {base_url!r}: expected http(s)://HOST[:PORT]/v1")


@register_backend(
    "openai",
    summary="Any OpenAI-compatible /v1/chat/completions endpoint (vLLM, llama.cpp server, "
    "Ollama, SGLang, hosted APIs), tool calls included; NAME@URL1,URL2 pools servers of one "
    "model, each conversation on one of them. Key from $OPENAI_API_KEY or --api-key-env. Judge "
    "verdicts constrained with -M structured=llamacpp (grammar), vllm (structured_outputs), "
    "sglang (regex), openai (response_format, JSON schemas only); auto: llamacpp when the "
    "server answers /props, else parsed and retried.",
    examples=(
        "openai:gpt-4o-mini",
        "openai:qwen2.5-7b@http://127.0.0.1:8000/v1",
        "openai:qwen2.5-7b@http://gpu1:8000/v1,http://gpu2:8000/v1",
    ),
    status=lambda: "ready (aiohttp)",
    options={
        "base_url": "the server when the spec names none",
        "max_concurrency": "requests at once to each server",
        "structured": "how judge verdicts are constrained: auto, llamacpp, vllm, sglang, "
        "openai, none",
    },
)
def make_openai(rest: str, options: BackendOptions) -> OpenAICompatClient | EndpointPool:
    model, base_urls = parse_openai_spec(rest, options)
    limit = options.extra.get("max_concurrency")
    if limit is not None and (not str(limit).isdigit() or int(limit) < 1):
        raise ModelConfigError(
            f"-M max_concurrency={limit}: expected a whole number of requests, 1 or more"
        )
    clients = [
        OpenAICompatClient(
            model,
            base_url,
            api_key=resolve_api_key(options.api_key_env, base_url),
            timeout_s=options.timeout_s,
            max_concurrency=int(limit) if limit else None,
            concurrency=options.concurrency,
            structured=str(options.extra.get("structured", "auto")),
        )
        for base_url in base_urls.split(",")
    ]
    if len(clients) == 1:
        return clients[0]
    if len(set(base_urls.split(","))) < len(clients):
        raise ModelConfigError(f"the same server is listed twice in the pool {base_urls!r}")
    # One identity for the pool, its first server's: the cache keys of a pool are those of
    # that server alone, so answers cached by either are reused by the other.
    return EndpointPool([(c.base_url, c) for c in clients], clients[0].identity)
