"""The Sandbox and SandboxProvider protocols, their data contracts and the provider registry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from turnscope.sandbox.errors import SandboxUnavailable

LimitName = Literal["cpu_time", "wall_time", "memory", "output", "processes", "disk"]
"""A limit an execution can run into."""

DEFAULT_SANDBOX = "bubblewrap"


class SandboxLimits(BaseModel):
    """What code in one sandbox may use; time and output limits apply to each execution."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu_time_s: int = Field(default=10, ge=1)
    """CPU seconds one execution may use in each process (the kernel counts whole seconds)."""
    wall_time_s: float = Field(default=20.0, gt=0.0)
    """Seconds one execution may take before the interpreter is stopped and restarted."""
    memory_mb: int = Field(default=1024, ge=64)
    """Address space each process in the sandbox may map, MiB."""
    max_processes: int = Field(default=64, ge=1)
    """Processes and threads the sandbox may hold at once, the interpreter included."""
    max_output_bytes: int = Field(default=64 * 1024, ge=1)
    """Bytes of output one execution may return; the rest is dropped."""
    work_dir_mb: int = Field(default=256, ge=1)
    """Size of the writable work directory, MiB (a tmpfs: it is held in memory)."""


class ExecutionResult(BaseModel):
    """What one execution of a snippet gave back, as the tool protocol shows it to the model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    output: str = ""
    """stdout and stderr as one stream (tracebacks included), then the repr of a final
    expression as a notebook cell shows it; at most max_output_bytes of UTF-8."""
    error: str | None = None
    """Why the execution did not run to its end: the uncaught exception, the limit hit or the
    crash; None when it did."""
    limit: LimitName | None = None
    """The limit the execution ran into, if any."""
    restarted: bool = False
    """The interpreter was restarted during this call, so the state that earlier executions
    built (variables, imports, files in the work directory) is gone."""
    restart_reason: str | None = None
    """Why the interpreter was restarted: its crash during this execution, or one that
    happened while it was idle before it; None when it was not restarted."""
    duration_s: float = 0.0
    """Wall time of the execution, seconds (a restart after it not included)."""


class ReplayResult(BaseModel):
    """What re-executing a conversation's earlier snippets in order gave back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    results: tuple[ExecutionResult, ...]
    """One result per snippet, in the order they ran."""

    @property
    def failed(self) -> tuple[int, ...]:
        """Positions of the snippets that did not run to their end."""
        return tuple(i for i, result in enumerate(self.results) if result.error is not None)

    @property
    def state_lost(self) -> bool:
        """Whether the interpreter restarted during the replay, so the rebuilt state lacks
        what came before the restart."""
        return any(result.restarted for result in self.results)


@runtime_checkable
class Sandbox(Protocol):
    """One live sandbox for one conversation: an interpreter whose state persists from one
    run() to the next until close()."""

    @property
    def limits(self) -> SandboxLimits:
        """The limits this sandbox was opened with."""
        ...

    async def run(self, code: str) -> ExecutionResult:
        """Execute `code` in the conversation's interpreter. Whatever the code does comes
        back as a result; SandboxError only if the sandbox itself failed."""
        ...

    async def replay(self, codes: Sequence[str]) -> ReplayResult:
        """Execute earlier snippets in order to rebuild the state after a resume (no model
        call is repeated); call it on a freshly opened sandbox."""
        ...

    async def close(self) -> None:
        """Stop everything the sandbox started and discard its files; nothing of it outlives
        this call. Closing twice is harmless."""
        ...


@runtime_checkable
class SandboxProvider(Protocol):
    """A way to isolate code, opening one Sandbox per conversation."""

    @property
    def name(self) -> str:
        """The name the provider is registered under."""
        ...

    def check_available(self) -> None:
        """Raise SandboxUnavailable with one line (including what to install) if this
        provider cannot run here. Called before a run starts."""
        ...

    async def open(self, limits: SandboxLimits) -> Sandbox:
        """Start a fresh sandbox with an empty work directory and a new interpreter."""
        ...


ProviderFactory = Callable[[], SandboxProvider]
F = TypeVar("F", bound=ProviderFactory)

_PROVIDERS: dict[str, ProviderFactory] = {}
_ENTRY_POINT_GROUP = "turnscope.sandboxes"
_entry_points_loaded = False


def register_sandbox(name: str) -> Callable[[F], F]:
    """Decorator: make a provider class (or any zero-argument factory) available by name."""

    def decorate(factory: F) -> F:
        _PROVIDERS[name] = factory
        return factory

    return decorate


def _load_builtin_and_plugins() -> None:
    global _entry_points_loaded
    # Importing the module runs its @register_sandbox decorator.
    import turnscope.sandbox.bubblewrap  # noqa: F401

    if not _entry_points_loaded:
        _entry_points_loaded = True
        for ep in entry_points(group=_ENTRY_POINT_GROUP):
            ep.load()


def sandbox_names() -> list[str]:
    """Every registered provider name, built-in ones first."""
    _load_builtin_and_plugins()
    return list(_PROVIDERS)


def sandbox_provider(name: str = DEFAULT_SANDBOX) -> SandboxProvider:
    """The provider registered under `name`, built with its defaults."""
    _load_builtin_and_plugins()
    factory = _PROVIDERS.get(name)
    if factory is None:
        known = ", ".join(sorted(_PROVIDERS))
        raise SandboxUnavailable(f"unknown sandbox {name!r}: the known ones are {known}")
    return factory()
