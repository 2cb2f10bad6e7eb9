"""Start-up: `turnscope --version` answers before the command modules are imported, and
neither it nor `--help` imports the heavy libraries (scipy, matplotlib, ray) that only some
commands use."""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers.cli import run_cli
from turnscope import __version__

HEAVY = ("scipy", "matplotlib", "ray")


def imported_modules(*args: str) -> tuple[str, set[str]]:
    """Standard output of `turnscope ARGS` in a fresh interpreter, and every module it
    imported (from -X importtime)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "turnscope.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modules = {
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    return done.stdout, modules


def test_version_imports_no_command_module() -> None:
    out, modules = imported_modules("--version")
    assert out.strip() == f"turnscope {__version__}"
    assert "turnscope.cli.run" not in modules and "pydantic" not in modules
    code, stdout, _ = run_cli("--version")  # the Typer option says the same
    assert code == 0 and stdout.strip() == out.strip()


@pytest.mark.parametrize("args", [("--help",), ("run", "--help")])
def test_help_does_not_import_scipy_matplotlib_or_ray(args: tuple[str, ...]) -> None:
    out, modules = imported_modules(*args)
    assert "turnscope" in out and "turnscope.cli.run" in modules
    assert not [m for m in modules if m.split(".")[0] in HEAVY]
