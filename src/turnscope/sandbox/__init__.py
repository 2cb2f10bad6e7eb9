"""Isolated execution of model-written Python: one stateful interpreter per conversation."""

from turnscope.sandbox.base import (
    DEFAULT_SANDBOX,
    ExecutionResult,
    LimitName,
    ProviderFactory,
    ReplayResult,
    Sandbox,
    SandboxLimits,
    SandboxProvider,
    register_sandbox,
    sandbox_names,
    sandbox_provider,
)
from turnscope.sandbox.bubblewrap import BubblewrapProvider, BubblewrapSandbox
from turnscope.sandbox.errors import SandboxError, SandboxUnavailable

__all__ = [
    "DEFAULT_SANDBOX",
    "BubblewrapProvider",
    "BubblewrapSandbox",
    "ExecutionResult",
    "LimitName",
    "ProviderFactory",
    "ReplayResult",
    "Sandbox",
    "SandboxError",
    "SandboxLimits",
    "SandboxProvider",
    "SandboxUnavailable",
    "register_sandbox",
    "sandbox_names",
    "sandbox_provider",
]
