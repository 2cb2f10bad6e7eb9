"""Sandbox test fixtures: the real bubblewrap provider, and sandboxes closed after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from helpers.sandbox import require_sandbox
from turnscope.sandbox import BubblewrapProvider, Sandbox, SandboxLimits

OpenSandbox = Callable[..., Awaitable[Sandbox]]


@pytest.fixture(scope="session")
def provider() -> BubblewrapProvider:
    return require_sandbox()


@pytest.fixture
async def open_sandbox(provider: BubblewrapProvider) -> AsyncIterator[OpenSandbox]:
    """Open sandboxes with SandboxLimits(**overrides); every one is closed after the test."""
    opened: list[Sandbox] = []

    async def open_one(**overrides: object) -> Sandbox:
        sandbox = await provider.open(SandboxLimits.model_validate(overrides))
        opened.append(sandbox)
        return sandbox

    yield open_one
    for sandbox in opened:
        await sandbox.close()
