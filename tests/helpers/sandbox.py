"""The sandbox the tool tests need: skipped only where bubblewrap is not installed at all.

Where bwrap is installed (CI installs it) but cannot start a sandbox, the tests fail instead
of skipping: a sandbox that stopped working on a machine that has the tool is a regression to
see, not a reason to test less (a venv under /tmp once broke it that way, hidden by skips)."""

from __future__ import annotations

import shutil

import pytest

from turnscope.sandbox import BubblewrapProvider


def require_sandbox() -> BubblewrapProvider:
    """A checked bubblewrap provider; skips the test when bwrap is not installed."""
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (apt-get install bubblewrap)")
    provider = BubblewrapProvider()
    provider.check_available()
    return provider
