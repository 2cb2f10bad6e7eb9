"""A ModelClient that answers from a script, for fault injection in the interactive protocols:
exact tool calls, malformed arguments, unknown tools and code that a real small model would
not write on demand. Never a stand-in for a model whose answers are what is measured."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from turnscope.core import (
    Completion,
    GenerationParams,
    Item,
    Message,
    ModelIdentity,
    RoleSettings,
    RunConfig,
    ToolCall,
    ToolFunctionCall,
    content_text,
)
from turnscope.models import ModelClient
from turnscope.run import RunOutcome, create_run, execute_run
from turnscope.store import STORE_FILE, RunStore

Answer = str | Completion


def task_of(messages: Sequence[Message]) -> str:
    """The task text of an interactive conversation's request (its first user message)."""
    first = next(m for m in messages if m.role == "user")
    return content_text(first.content).removeprefix("Task:\n")


def turn_of(messages: Sequence[Message]) -> int:
    """The turn a request asks for: one more than the assistant messages in it."""
    return sum(m.role == "assistant" for m in messages) + 1


def calls(*pairs: tuple[str, str]) -> Completion:
    """An answer that only calls tools: (name, raw arguments) each."""
    return Completion(
        text="",
        tool_calls=tuple(
            ToolCall(id=f"call-{i}", function=ToolFunctionCall(name=name, arguments=args))
            for i, (name, args) in enumerate(pairs)
        ),
    )


class ScriptedModel:
    """Answers turn t of the conversation whose task contains KEY with script[KEY][t - 1]."""

    def __init__(self, script: Mapping[str, Sequence[Answer]], name: str = "script") -> None:
        self.script = script
        self.requests: list[tuple[tuple[Message, ...], GenerationParams]] = []
        self._identity = ModelIdentity(backend="scripted", model=name)

    @property
    def identity(self) -> ModelIdentity:
        return self._identity

    @property
    def max_concurrency(self) -> int | None:
        return None

    async def preflight(self) -> None:
        return None

    async def generate(
        self, messages: Sequence[Message], params: GenerationParams, *, seed: int
    ) -> Completion:
        self.requests.append((tuple(messages), params))
        task = task_of(messages)
        key = next(k for k in self.script if k in task)
        answers = self.script[key]
        answer = answers[min(turn_of(messages), len(answers)) - 1]
        return Completion(text=answer) if isinstance(answer, str) else answer

    async def aclose(self) -> None:
        return None

    def requests_for(self, key: str) -> list[int]:
        """The turns asked for, in order, in conversations whose task contains `key`."""
        return [turn_of(m) for m, _ in self.requests if key in task_of(m)]


class FixedFeedback(ScriptedModel):
    """A feedback model that always writes `text` (a scripted coach)."""

    def __init__(self, text: Callable[[Sequence[Message]], str]) -> None:
        super().__init__({}, name="coach")
        self.text = text

    async def generate(
        self, messages: Sequence[Message], params: GenerationParams, *, seed: int
    ) -> Completion:
        self.requests.append((tuple(messages), params))
        return Completion(text=self.text(messages))


def new_run(
    tmp_path: Path,
    items: Sequence[Item],
    conditions: Sequence[str],
    *,
    feedback: bool = False,
) -> RunStore:
    """A run of `items` by the scripted model (no cache), with a feedback role if asked."""
    config = RunConfig(
        model="scripted",
        suite="scripted",
        conditions=tuple(conditions),
        params=GenerationParams(max_tokens=64),
        use_cache=False,
        created_at=datetime.now(UTC),
        roles={"feedback": RoleSettings(model="scripted")} if feedback else {},
    )
    return create_run(config, items, tmp_path / "runs")


async def play(
    store: RunStore, model: ModelClient, roles: Mapping[str, ModelClient] | None = None
) -> RunOutcome:
    return await execute_run(store, model, role_clients=roles)


def forget_turns_after(store: RunStore, turn: int) -> RunStore:
    """Delete every record after `turn`, as if the run had been killed there; reopened."""
    store.close()
    with sqlite3.connect(store.run_dir / STORE_FILE) as db:
        db.execute("DELETE FROM turns WHERE turn > ?", (turn,))
    return RunStore.open(store.run_dir)


def item(data: Mapping[str, Any]) -> Item:
    return Item.model_validate(data)
