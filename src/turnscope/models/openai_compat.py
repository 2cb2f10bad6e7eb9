"""Any OpenAI-compatible chat endpoint (vLLM, SGLang, llama.cpp server, Ollama, hosted APIs).

Streams every answer so that time to first token is measured, and sorts failures into
transient (the engine retries them) and permanent (recorded on the turn).
"""

from __future__ import annotations

import email.utils
import json
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import httpx

from turnscope.core import Completion, GenerationParams, Message, ModelIdentity
from turnscope.models.base import BackendOptions, register_backend
from turnscope.models.errors import ModelConfigError, PermanentModelError, TransientModelError

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
_TRANSIENT_STATUS = {408, 409, 425, 429}


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


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("message", error))[:300]
        return str(error)[:300]
    return str(body)[:300]


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
    ) -> None:
        self._model = model
        self._base_url = base_url.rstrip("/")
        self._identity = ModelIdentity(backend="openai", model=model, revision=self._base_url)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=self._base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
        )
        self._max_concurrency = max_concurrency

    @property
    def identity(self) -> ModelIdentity:
        return self._identity

    @property
    def max_concurrency(self) -> int | None:
        return self._max_concurrency

    async def preflight(self) -> None:
        """Fail fast, with one clear line, when the server cannot be reached at all or rejects
        the key. Other statuses pass: some servers have no /models route."""
        try:
            response = await self._http.get("/models", timeout=10.0)
        except httpx.TransportError as exc:
            raise ModelConfigError(
                f"cannot reach the model server at {self._base_url}: {type(exc).__name__}: {exc}"
            ) from exc
        if response.status_code in (401, 403):
            raise ModelConfigError(
                f"the server at {self._base_url} rejected the API key: HTTP "
                f"{response.status_code}: {_error_text(response)}"
            )

    def _payload(
        self, messages: Sequence[Message], params: GenerationParams, seed: int
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self._model,
            "messages": [m.model_dump(mode="json", exclude_none=True) for m in messages],
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": seed,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if params.stop:
            payload["stop"] = list(params.stop)
        return payload

    async def generate(
        self, messages: Sequence[Message], params: GenerationParams, *, seed: int
    ) -> Completion:
        started = time.perf_counter()
        try:
            async with self._http.stream(
                "POST", "/chat/completions", json=self._payload(messages, params, seed)
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _status_error(response)
                if response.headers.get("content-type", "").startswith("application/json"):
                    body = await response.aread()
                    return _from_json_body(body, started)
                return await _read_stream(response, started)
        except httpx.TimeoutException as exc:
            raise TransientModelError(f"timeout: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise TransientModelError(f"connection error: {type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        await self._http.aclose()


def _status_error(response: httpx.Response) -> Exception:
    status = response.status_code
    detail = f"HTTP {status}: {_error_text(response)}"
    if status in _TRANSIENT_STATUS or status >= 500:
        return TransientModelError(
            detail, retry_after_s=parse_retry_after(response.headers.get("retry-after"))
        )
    return PermanentModelError(detail)


def _from_json_body(body: bytes, started: float) -> Completion:
    try:
        data = json.loads(body)
        choice = data["choices"][0]
        text = choice["message"].get("content") or ""
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise TransientModelError(f"invalid JSON response: {body[:200]!r}") from exc
    usage = data.get("usage") or {}
    elapsed = time.perf_counter() - started
    return Completion(
        text=text,
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
        finish_reason=choice.get("finish_reason"),
        latency_s=elapsed,
    )


async def _read_stream(response: httpx.Response, started: float) -> Completion:
    pieces: list[str] = []
    ttft: float | None = None
    finish: str | None = None
    usage: dict[str, Any] = {}
    chunks = 0
    done = False
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            done = True
            break
        try:
            event = json.loads(data)
        except ValueError as exc:
            raise TransientModelError(f"invalid JSON in stream: {data[:200]!r}") from exc
        if not isinstance(event, dict):
            raise TransientModelError(f"unexpected stream event: {data[:200]!r}")
        if "error" in event:
            raise TransientModelError(f"error in stream: {str(event['error'])[:300]}")
        usage = event.get("usage") or usage
        for choice in event.get("choices") or []:
            delta = choice.get("delta") or {}
            piece = delta.get("content")
            if piece:
                if ttft is None:
                    ttft = time.perf_counter() - started
                pieces.append(piece)
                chunks += 1
            finish = choice.get("finish_reason") or finish
    # Every complete answer ends with a finish reason; a stream that closes (even with
    # [DONE]) without one was cut short, and a truncated answer must not be scored.
    if finish is None:
        where = "[DONE]" if done else "the connection closed"
        raise TransientModelError(
            f"stream ended ({where}) before a finish reason: answer incomplete (a llama.cpp "
            "server cuts running streams when a new request arrives unless started with "
            "--interrupt_requests False)"
        )
    return Completion(
        text="".join(pieces),
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens", chunks),
        finish_reason=finish,
        latency_s=time.perf_counter() - started,
        ttft_s=ttft,
    )


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
        return value
    value = os.environ.get(DEFAULT_KEY_ENV)
    if value:
        return value
    if (urlparse(base_url).hostname or "") in _LOOPBACK_HOSTS:
        return None
    raise ModelConfigError(
        f"no API key: set {DEFAULT_KEY_ENV}, or name the variable that holds it with --api-key-env"
    )


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
    try:
        parsed = urlparse(base_url)
        parsed.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as exc:
        raise ModelConfigError(f"invalid base URL {base_url!r}: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ModelConfigError(f"invalid base URL {base_url!r}: expected http(s)://HOST[:PORT]/v1")
    return model, base_url


@register_backend(
    "openai",
    summary="Any OpenAI-compatible /v1/chat/completions endpoint (vLLM, llama.cpp server, "
    "Ollama, SGLang, hosted APIs). Key from $OPENAI_API_KEY or --api-key-env.",
    examples=("openai:gpt-4o-mini", "openai:qwen2.5-7b@http://127.0.0.1:8000/v1"),
    status=lambda: "ready (httpx)",
)
def make_openai(rest: str, options: BackendOptions) -> OpenAICompatClient:
    model, base_url = parse_openai_spec(rest, options)
    key = resolve_api_key(options.api_key_env, base_url)
    limit = options.extra.get("max_concurrency")
    return OpenAICompatClient(
        model,
        base_url,
        api_key=key,
        timeout_s=options.timeout_s,
        max_concurrency=int(limit) if limit else None,
    )
