"""The provider: availability checks, the registry and entry points, the limits contract."""

from __future__ import annotations

import ast
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import turnscope.sandbox.base as sandbox_base
import turnscope.sandbox.bubblewrap as bubblewrap
from turnscope.sandbox import (
    DEFAULT_SANDBOX,
    BubblewrapProvider,
    ExecutionResult,
    Sandbox,
    SandboxLimits,
    SandboxProvider,
    SandboxUnavailable,
    register_sandbox,
    sandbox_names,
    sandbox_provider,
)


def test_missing_bwrap_is_one_line_with_the_install_command(tmp_path: Path) -> None:
    provider = BubblewrapProvider(search_path=str(tmp_path))
    with pytest.raises(SandboxUnavailable) as raised:
        provider.check_available()
    message = str(raised.value)
    assert "\n" not in message
    assert "bwrap" in message
    assert "apt-get install bubblewrap" in message


async def test_opening_without_bwrap_fails_the_same_way(tmp_path: Path) -> None:
    provider = BubblewrapProvider(search_path=str(tmp_path))
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        await provider.open(SandboxLimits())


def test_a_bwrap_that_cannot_make_namespaces_is_reported_in_one_line(tmp_path: Path) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to create a new namespace' >&2\n"
        "echo 'second line' >&2\nexit 1\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    setpriv = shutil.which("setpriv")
    if os.geteuid() == 0 and setpriv is not None:
        (tmp_path / "setpriv").symlink_to(setpriv)
    provider = BubblewrapProvider(search_path=str(tmp_path))
    with pytest.raises(SandboxUnavailable) as raised:
        provider.check_available()
    assert str(raised.value) == (
        "bubblewrap cannot start a sandbox here: bwrap: No permissions to create a new namespace"
    )


def test_the_registry_knows_bubblewrap() -> None:
    assert DEFAULT_SANDBOX == "bubblewrap"
    assert "bubblewrap" in sandbox_names()
    provider = sandbox_provider()
    assert isinstance(provider, BubblewrapProvider)
    assert isinstance(provider, SandboxProvider)
    assert provider.name == "bubblewrap"


def test_an_unknown_sandbox_is_one_line_naming_the_known_ones() -> None:
    with pytest.raises(SandboxUnavailable) as raised:
        sandbox_provider("docker")
    assert str(raised.value) == "unknown sandbox 'docker': the known ones are bubblewrap"


class _EchoSandbox:
    """A stand-in provider for the registry tests: it never runs anything."""

    name = "echo"

    def check_available(self) -> None:
        return None

    async def open(self, limits: SandboxLimits) -> Sandbox:
        raise NotImplementedError


def test_register_sandbox_adds_a_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_base, "_PROVIDERS", dict(sandbox_base._PROVIDERS))
    register_sandbox("echo")(_EchoSandbox)
    assert "echo" in sandbox_names()
    assert isinstance(sandbox_provider("echo"), _EchoSandbox)


def test_entry_points_are_loaded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_base, "_PROVIDERS", dict(sandbox_base._PROVIDERS))
    monkeypatch.setattr(sandbox_base, "_entry_points_loaded", False)
    loads: list[str] = []

    class _EntryPoint:
        def load(self) -> Any:
            loads.append("echo")
            return register_sandbox("echo")(_EchoSandbox)

    def fake_entry_points(*, group: str) -> list[_EntryPoint]:
        assert group == "turnscope.sandboxes"
        return [_EntryPoint()]

    monkeypatch.setattr(sandbox_base, "entry_points", fake_entry_points)
    assert isinstance(sandbox_provider("echo"), _EchoSandbox)
    assert "echo" in sandbox_names()
    assert loads == ["echo"]


def test_limits_have_the_documented_defaults_and_refuse_nonsense() -> None:
    limits = SandboxLimits()
    assert (
        limits.cpu_time_s,
        limits.wall_time_s,
        limits.memory_mb,
        limits.max_processes,
        limits.max_output_bytes,
        limits.work_dir_mb,
    ) == (10, 20.0, 1024, 64, 65536, 256)
    for bad in ({"cpu_time_s": 0}, {"wall_time_s": -1}, {"memory_mb": 8}, {"swap": 1}):
        with pytest.raises(ValidationError):
            SandboxLimits.model_validate(bad)
    with pytest.raises(ValidationError):
        ExecutionResult(output="", limit="gpu")  # type: ignore[arg-type]


async def test_an_open_sandbox_satisfies_the_protocol(provider: BubblewrapProvider) -> None:
    sandbox = await provider.open(SandboxLimits())
    try:
        assert isinstance(sandbox, Sandbox)
        assert sandbox.limits == SandboxLimits()
    finally:
        await sandbox.close()


async def test_the_user_namespace_mode_starts_and_isolates(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line a non-root user gets, run here whoever runs the suite. As root, that
    user namespace maps root to itself, so the process limit is the one thing it cannot show."""
    monkeypatch.setattr(bubblewrap.os, "geteuid", lambda: 1000)
    provider = BubblewrapProvider()
    provider.check_available()
    sandbox = await provider.open(SandboxLimits())
    try:
        result = await sandbox.run(
            "import os, socket\n"
            "socket.if_nameindex(), sorted(os.listdir('/etc')), os.getcwd(), "
            "len(open('/proc/self/uid_map').read().split())"
        )
        assert result.error is None, result.output
        assert ast.literal_eval(result.output) == (
            [(1, "lo")],
            [name for name in ("ld.so.cache", "localtime") if Path("/etc", name).exists()],
            "/sandbox",
            3,
        )
        # No user namespaces of its own inside: unshare(1) fails.
        nested = await sandbox.run(
            "import subprocess\nsubprocess.run(['unshare', '--user', 'true']).returncode"
        )
        assert nested.error is None
        assert nested.output != "0\n"
    finally:
        await sandbox.close()
