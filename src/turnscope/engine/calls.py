"""One model call as the engine makes it: cache lookup, bounded retries with back-off, timeout."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from turnscope.core import (
    Completion,
    GenerationParams,
    Message,
    request_key,
    without_lone_surrogates,
)
from turnscope.engine.cache import ResponseCache
from turnscope.models import ModelClient, PermanentModelError, TransientModelError
from turnscope.protocols import CallOutcome


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with jitter, bounded by a time budget (and optionally a count).

    The budget is a duration because outages are: a server restarting for 20 s must not
    exhaust a handful of quick retries, and a long outage must not retry forever."""

    max_retries: int | None = None
    """Retries of one request at most; None: as many as the time budget allows."""
    retry_for_s: float = 120.0
    """Stop retrying once this long has passed since the request's first attempt."""
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    timeout_s: float = 120.0

    def gives_up(self, retries: int, elapsed_s: float, next_delay_s: float) -> bool:
        """Whether a request that failed `retries` + 1 times over `elapsed_s` stops here."""
        if self.max_retries is not None and retries >= self.max_retries:
            return True
        return elapsed_s + next_delay_s > self.retry_for_s

    def delay(self, attempt: int, retry_after_s: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number `attempt` (0-based)."""
        if retry_after_s is not None:
            return min(retry_after_s, self.max_delay_s)
        ceiling = min(self.max_delay_s, self.base_delay_s * (2.0**attempt))
        return ceiling * (0.5 + rng.random() / 2)


class ModelCaller:
    """Makes requests to one model for the protocols, counting retries and using the cache."""

    def __init__(
        self,
        client: ModelClient,
        params: GenerationParams,
        policy: RetryPolicy,
        cache: ResponseCache | None,
        *,
        seed: int = 0,
        namespace: str = "",
        concurrency: int | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.namespace = namespace
        """Cache namespace of the role this caller serves ("" for the model under test)."""
        # A serving role (a user simulator, a judge) has a request limit of its own; the model
        # under test's is the number of conversations in flight, which the runner enforces.
        self._gate: asyncio.Semaphore | None = None
        if concurrency is not None:
            backend = client.max_concurrency
            self._gate = asyncio.Semaphore(min(concurrency, backend) if backend else concurrency)
        self.params = params
        self.policy = policy
        self.cache = cache
        self._rng = random.Random(seed)
        self._sleep = sleep
        self.requests_sent = 0
        """Requests that reached the backend (cache hits excluded, retries included)."""
        self.cache_hits = 0
        """Answers from the cache, or shared with an identical request already in flight."""
        self._in_flight: dict[str, asyncio.Future[CallOutcome]] = {}

    async def complete(
        self,
        messages: Sequence[Message],
        seed: int,
        sample: int,
        *,
        params: GenerationParams | None = None,
    ) -> CallOutcome:
        """One answer to `messages`, from the cache or the model; `params` overrides the
        caller's own for this request (a judge's retry samples where its first try was greedy)."""
        params = params or self.params
        key = request_key(self.client.identity, messages, params, seed, sample, self.namespace)
        if self.cache is None:
            return await self._request(messages, params, seed, key)
        cached = self.cache.get(key)
        if cached is not None:
            self.cache_hits += 1
            return CallOutcome(request_hash=key, seed=seed, completion=cached, cached=True)
        # An identical request already on its way (two judged answers that happen to be the
        # same) is not sent twice: the second waits for the first one's answer.
        pending = self._in_flight.get(key)
        if pending is not None:
            await asyncio.wait([pending])
            if not pending.cancelled() and pending.result().completion is not None:
                self.cache_hits += 1
                return replace(pending.result(), cached=True, retries=0)
        future: asyncio.Future[CallOutcome] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            outcome = await self._request(messages, params, seed, key)
        except BaseException:
            future.cancel()
            raise
        finally:
            self._in_flight.pop(key, None)
        future.set_result(outcome)
        return outcome

    async def _request(
        self, messages: Sequence[Message], params: GenerationParams, seed: int, key: str
    ) -> CallOutcome:
        """Ask the model, retrying transient failures; store a success in the cache."""
        attempt = 0
        started = time.monotonic()
        while True:
            try:
                self.requests_sent += 1
                completion = await self._generate(messages, params, seed)
            except (TransientModelError, TimeoutError) as exc:
                retry_after = getattr(exc, "retry_after_s", None)
                delay = self.policy.delay(attempt, retry_after, self._rng)
                elapsed = time.monotonic() - started
                if self.policy.gives_up(attempt, elapsed, delay):
                    return CallOutcome(
                        request_hash=key,
                        seed=seed,
                        retries=attempt,
                        error=f"gave up after {attempt + 1} attempts in {elapsed:.0f} s: "
                        f"{_describe(exc)}",
                    )
                await self._sleep(delay)
                attempt += 1
                continue
            except PermanentModelError as exc:
                return CallOutcome(
                    request_hash=key, seed=seed, retries=attempt, error=_describe(exc)
                )
            except Exception as exc:  # a backend bug fails this turn, not the whole run
                return CallOutcome(
                    request_hash=key,
                    seed=seed,
                    retries=attempt,
                    error=f"{type(exc).__name__}: {_describe(exc)}",
                )
            # An answer must survive being stored (run store, cache) as UTF-8.
            completion = completion.storable()
            if self.cache is not None:
                self.cache.put(key, completion)
            return CallOutcome(request_hash=key, seed=seed, completion=completion, retries=attempt)

    async def _generate(
        self, messages: Sequence[Message], params: GenerationParams, seed: int
    ) -> Completion:
        """One backend request under the role's concurrency limit and the request timeout."""
        # asyncio.timeout rather than wait_for: on Python 3.11, wait_for wraps the request in
        # a task of its own, a measurable share of a turn's CPU against a fast server.
        if self._gate is None:
            async with asyncio.timeout(self.policy.timeout_s):
                return await self.client.generate(messages, params, seed=seed)
        async with self._gate, asyncio.timeout(self.policy.timeout_s):
            return await self.client.generate(messages, params, seed=seed)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout: no answer within the request timeout"
    return without_lone_surrogates(str(exc)) or type(exc).__name__
