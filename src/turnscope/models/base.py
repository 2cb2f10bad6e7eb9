"""The ModelClient protocol, backend options and the backend registry."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from turnscope.core import Completion, GenerationParams, Message, ModelIdentity, OutputConstraint
from turnscope.models.errors import ModelConfigError


@runtime_checkable
class ModelClient(Protocol):
    """Anything that answers a list of chat messages."""

    @property
    def identity(self) -> ModelIdentity:
        """What identifies the model (used for caching and reports)."""
        ...

    @property
    def max_concurrency(self) -> int | None:
        """Requests in flight this backend serves usefully at once; None for no limit.

        A stateful backend that keeps one conversation's cache warm answers 1, so the
        engine plays one conversation at a time on it instead of thrashing its cache."""
        ...

    async def preflight(self) -> None:
        """Check the model can be used at all (weights load, server answers); raise
        ModelConfigError with one clear line if not. Called once before a run."""
        ...

    def enforces(self, constraint: OutputConstraint) -> bool:
        """Whether `generate` holds its answer to `constraint` (`params.constraint`) while
        decoding. A backend that cannot says False and ignores the constraint; the caller
        then parses the free answer and retries as it would without one."""
        ...

    async def generate(
        self, messages: Sequence[Message], params: GenerationParams, *, seed: int
    ) -> Completion:
        """Answer `messages`; raise TransientModelError or PermanentModelError on failure."""
        ...

    async def aclose(self) -> None:
        """Release connections, threads and weights."""
        ...


@dataclass(frozen=True)
class BackendOptions:
    """What a backend factory receives besides the spec text."""

    api_key_env: str | None = None
    """Environment variable holding the API key, if the user named one."""
    timeout_s: float = 120.0
    """Per-request timeout, seconds."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Backend-specific options (n_ctx, n_threads, base_url ...)."""
    concurrency: int | None = None
    """Requests the run sends this model at once (HTTP backends size their connection pool
    to it); None when unknown."""


BackendFactory = Callable[[str, BackendOptions], ModelClient]


@dataclass(frozen=True)
class BackendInfo:
    """A registered backend: how to build it and how to explain it in `turnscope models`."""

    name: str
    factory: BackendFactory
    summary: str
    examples: tuple[str, ...]
    status: Callable[[], str]
    options: Mapping[str, str] | None = None
    """The -M keys it reads, each with what it sets; None (a plugin that does not say):
    every key is passed on unchecked."""


_BACKENDS: dict[str, BackendInfo] = {}
_ENTRY_POINT_GROUP = "turnscope.backends"
_entry_points_loaded = False


def register_backend(
    name: str,
    *,
    summary: str,
    examples: tuple[str, ...],
    status: Callable[[], str],
    options: Mapping[str, str] | None = None,
) -> Callable[[BackendFactory], BackendFactory]:
    """Decorator: make a factory available under `name` in model specs (`name:rest`).
    `options` are the -M keys it reads (a key it does not read is then refused: a typo must not
    be silently ignored)."""

    def decorate(factory: BackendFactory) -> BackendFactory:
        _BACKENDS[name] = BackendInfo(name, factory, summary, examples, status, options)
        return factory

    return decorate


def _load_builtin_and_plugins() -> None:
    global _entry_points_loaded
    # Importing the modules runs their @register_backend decorators.
    import turnscope.models.llamacpp
    import turnscope.models.openai_compat  # noqa: F401

    if not _entry_points_loaded:
        _entry_points_loaded = True
        for ep in entry_points(group=_ENTRY_POINT_GROUP):
            ep.load()


def backends() -> list[BackendInfo]:
    """Every registered backend, built-in ones first."""
    _load_builtin_and_plugins()
    return list(_BACKENDS.values())


def create_client(spec: str, options: BackendOptions | None = None) -> ModelClient:
    """Build a client from a model spec such as "llamacpp", "llamacpp:PATH.gguf" or
    "openai:MODEL@http://127.0.0.1:8080/v1"."""
    _load_builtin_and_plugins()
    name, _, rest = spec.strip().partition(":")
    info = _BACKENDS.get(name)
    if info is None:
        known = ", ".join(sorted(_BACKENDS))
        raise ModelConfigError(
            f"unknown model spec {spec!r}: backend {name!r} is not one of {known} "
            "(see `turnscope models`)"
        )
    options = options or BackendOptions()
    _check_option_keys(info, options)
    return info.factory(rest, options)


def _check_option_keys(info: BackendInfo, options: BackendOptions) -> None:
    """ModelConfigError naming the first -M key the backend does not read."""
    if info.options is None:
        return
    for key in options.extra:
        if key not in info.options:
            known = ", ".join(sorted(info.options)) or "none"
            raise ModelConfigError(
                f"-M {_shown_key(key)}: not an option of the {info.name} backend "
                f"(its options: {known}; see `turnscope models`)"
            )


def _shown_key(key: object) -> str:
    """An option key as typed, bounded (it comes from the command line)."""
    text = str(key)
    return repr(text[:60] + "…") if len(text) > 60 else repr(text)
