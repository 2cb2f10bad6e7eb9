"""The Protocol extension point: how one conversation is played, turn by turn."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from turnscope.core import (
    Completion,
    GenerationParams,
    Item,
    Message,
    ModelIdentity,
    TurnRecord,
    Variant,
)


@dataclass(frozen=True)
class CallOutcome:
    """What the engine's model call gives back: an answer or an error, and what it took."""

    request_hash: str
    seed: int
    completion: Completion | None = None
    error: str | None = None
    retries: int = 0
    cached: bool = False


Complete = Callable[[Sequence[Message], int, int], Awaitable[CallOutcome]]
"""The engine's model call: (messages, seed, sample) -> outcome, with cache and retries."""


@dataclass(frozen=True)
class PlayContext:
    """Everything a protocol needs to play one conversation of a run."""

    variant: Variant
    sample: int
    run_seed: int
    complete: Complete
    model: ModelIdentity
    """The model under test (recorded on every turn)."""
    params: GenerationParams
    """Generation parameters of every request."""
    finished: dict[int, TurnRecord] = field(default_factory=dict)
    """Turns already answered in an earlier attempt of this run (resume): never asked again."""


class ConversationProtocol(Protocol):
    """Plays one item and yields a TurnRecord as soon as each turn is finished."""

    name: str

    def play(self, item: Item, ctx: PlayContext) -> AsyncIterator[TurnRecord]: ...


_PROTOCOLS: dict[str, ConversationProtocol] = {}


def register_protocol(protocol: ConversationProtocol) -> ConversationProtocol:
    """Make a protocol available by its name."""
    _PROTOCOLS[protocol.name] = protocol
    return protocol


def get_protocol(name: str) -> ConversationProtocol:
    """A registered protocol by name."""
    import turnscope.protocols.feedback
    import turnscope.protocols.scripted  # noqa: F401  (registers the built-in protocols)

    try:
        return _PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r} (known: {', '.join(_PROTOCOLS)})") from None


def check_protocols(items: Iterable[Item]) -> None:
    """Raise ValueError naming the first item whose protocol is not registered."""
    for item in items:
        try:
            get_protocol(item.protocol)
        except ValueError as exc:
            raise ValueError(f"item {item.id!r}: {exc}") from None
