"""Several servers of one model as one client, with conversation affinity.

`-m openai:NAME@URL1,URL2,...` spreads conversations over several servers of the same model.
Every request of a conversation goes to the server that answered its earlier turns, so that
server's prefix cache (vLLM's automatic prefix caching, SGLang's RadixAttention, llama.cpp's
slots) already holds the history. A conversation is known by what each of its requests starts
with: the messages up to and including its first user message. A conversation the pool has not
seen goes to the server with the fewest requests in flight (of those equally busy, the first by
rendezvous hashing of that prefix), so a handful of conversations does not queue on one server
while another idles; its later requests, and conversations that open alike (one item's samples
and history conditions, which share the cached prefix), go where it went. A server taken out of
the pool moves only its own conversations, each to its next choice by rendezvous order, until
it is back.

A server whose requests fail transiently several times in a row is out of the pool for a
while; the engine's retry of the failed request then goes to the conversation's next server,
which prefills the whole history again (counted in `moved`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from turnscope.core import Completion, GenerationParams, Message, ModelIdentity, OutputConstraint
from turnscope.models.base import ModelClient
from turnscope.models.errors import ModelConfigError, TransientModelError

logger = logging.getLogger(__name__)

FAILURES_TO_EJECT = 2
"""Transient failures in a row after which a server leaves the pool for a while."""
EJECT_S = 30.0
"""How long a failing server stays out before it is tried again."""


@dataclass
class _Member:
    """One server of the pool and what the pool knows of its health."""

    label: str
    client: ModelClient
    failures_in_a_row: int = 0
    out_until: float = 0.0
    requests: int = 0
    errors: int = 0
    in_flight: int = 0
    """Requests sent to it and not answered yet."""
    slots: asyncio.Semaphore | None = field(default=None, repr=False)


def affinity_key(messages: Sequence[Message]) -> bytes:
    """What every request of one conversation starts with: the messages up to and including
    the first user message (the whole list when there is none)."""
    end = next((i for i, m in enumerate(messages) if m.role == "user"), len(messages) - 1)
    digest = hashlib.blake2b(digest_size=16)
    for message in messages[: end + 1]:
        digest.update(message.model_dump_json().encode())
        digest.update(b"\x00")
    return digest.digest()


class EndpointPool:
    """A ModelClient over several clients of one model: each conversation on one of them."""

    def __init__(self, members: Sequence[tuple[str, ModelClient]], identity: ModelIdentity) -> None:
        if len(members) < 2:
            raise ModelConfigError("an endpoint pool needs at least two servers")
        self._members = [_Member(label, client) for label, client in members]
        self._identity = identity
        self._placed: dict[bytes, int] = {}
        """The server each conversation (affinity key) was placed on."""
        self._homes: dict[bytes, int] = {}
        """The server that answered each conversation's last request."""
        self.moved = 0
        """Requests sent to another server than the one that answered the conversation's
        previous turn (each prefills its history again there)."""

    @property
    def identity(self) -> ModelIdentity:
        return self._identity

    @property
    def max_concurrency(self) -> int | None:
        """The sum of the servers' limits when each has one; None when any has none."""
        limits = [member.client.max_concurrency for member in self._members]
        if any(limit is None for limit in limits):
            return None
        return sum(limit for limit in limits if limit is not None)

    def enforces(self, constraint: OutputConstraint) -> bool:
        """Whether every server holds answers to `constraint` (any request may go to any)."""
        return all(member.client.enforces(constraint) for member in self._members)

    @property
    def labels(self) -> list[str]:
        """The servers, in the order they were given."""
        return [member.label for member in self._members]

    def counts(self) -> list[tuple[str, int, int]]:
        """(server, requests sent, transient errors) for each server."""
        return [(m.label, m.requests, m.errors) for m in self._members]

    async def preflight(self) -> None:
        """Every server must answer: a pool with a bad URL is refused before anything plays."""
        results = await asyncio.gather(
            *(member.client.preflight() for member in self._members), return_exceptions=True
        )
        for index, (member, result) in enumerate(zip(self._members, results, strict=True)):
            if isinstance(result, ModelConfigError):
                raise ModelConfigError(
                    f"server {index + 1} of {len(self._members)} in the pool: {result}"
                ) from result
            if isinstance(result, BaseException):
                raise result
            limit = member.client.max_concurrency
            member.slots = asyncio.Semaphore(limit) if limit else None

    def _choose(self, key: bytes) -> int:
        """The conversation's server: where it was placed when that is in the pool, else the
        first by rendezvous order that is (the first of all when every server is out, rather
        than none). A new conversation is placed on the least busy server in the pool, the
        rendezvous order breaking ties."""
        now = time.monotonic()
        order = sorted(
            range(len(self._members)),
            key=lambda i: hashlib.blake2b(key + i.to_bytes(2, "big"), digest_size=8).digest(),
            reverse=True,
        )
        placed = self._placed.get(key)
        if placed is None:
            ready = [i for i in order if self._members[i].out_until <= now] or order
            placed = min(ready, key=lambda i: self._members[i].in_flight)
            self._placed[key] = placed
        order = [placed, *(i for i in order if i != placed)]
        return next((i for i in order if self._members[i].out_until <= now), order[0])

    async def generate(
        self, messages: Sequence[Message], params: GenerationParams, *, seed: int
    ) -> Completion:
        key = affinity_key(messages)
        index = self._choose(key)
        previous = self._homes.get(key)
        if previous is not None and previous != index:
            self.moved += 1
        self._homes[key] = index
        member = self._members[index]
        member.requests += 1
        member.in_flight += 1
        try:
            if member.slots is None:
                completion = await member.client.generate(messages, params, seed=seed)
            else:
                async with member.slots:
                    completion = await member.client.generate(messages, params, seed=seed)
        except TransientModelError:
            self._failed(member)
            raise
        finally:
            member.in_flight -= 1
        member.failures_in_a_row = 0
        return completion.model_copy(update={"served_by": member.label})

    def _failed(self, member: _Member) -> None:
        member.errors += 1
        member.failures_in_a_row += 1
        if member.failures_in_a_row >= FAILURES_TO_EJECT and member.out_until <= time.monotonic():
            member.out_until = time.monotonic() + EJECT_S
            logger.warning(
                "server %s failed %d times in a row: out of the pool for %.0f s; its "
                "conversations continue on the others (their history is sent again)",
                member.label,
                member.failures_in_a_row,
                EJECT_S,
            )

    async def aclose(self) -> None:
        await asyncio.gather(*(member.client.aclose() for member in self._members))
