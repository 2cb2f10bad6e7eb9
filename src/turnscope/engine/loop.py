"""The event loop a run plays on: uvloop where it is installed, asyncio's own otherwise.

Against a fast server the event loop's own bookkeeping (waking tasks, callbacks, socket
reads and writes) is a large share of a turn; uvloop does the same work in C
(docs/design/harness-cost.md). TURNSCOPE_EVENT_LOOP=asyncio turns it off, e.g. to debug with
asyncio's debug mode or a profiler that reads asyncio's Python frames.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

LOOP_ENV = "TURNSCOPE_EVENT_LOOP"
"""Environment variable that chooses the event loop: `auto` (the default: uvloop when
installed), `uvloop` (required) or `asyncio`."""
LOOP_CHOICES = ("auto", "uvloop", "asyncio")

T = TypeVar("T")


class EventLoopError(RuntimeError):
    """The event loop asked for cannot be used (unknown name, or uvloop not installed)."""


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """What makes the run's event loop; None for asyncio's default."""
    choice = os.environ.get(LOOP_ENV, "").strip().lower() or "auto"
    if choice not in LOOP_CHOICES:
        expected = ", ".join(LOOP_CHOICES)
        raise EventLoopError(f"{LOOP_ENV}={choice[:40]!r}: expected one of {expected}")
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise EventLoopError(f"{LOOP_ENV}=uvloop but uvloop is not installed") from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to its end on a new event loop of the chosen kind, like asyncio.run."""
    try:
        factory = loop_factory()
    except EventLoopError:
        main.close()
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
