"""Driving the `turnscope` command in-process, and what a clean failure looks like."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from turnscope.cli import app


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run `turnscope ARGS...`: (exit code, standard output, standard error)."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def assert_clean_failure(
    code: int, stderr: str, fragment: str, *, single_line: bool = False
) -> None:
    """Exit code 2, no traceback, an `error: ` line first that (with what follows) names
    `fragment`; with `single_line`, that line is all there is and holds `fragment` itself."""
    assert code == 2, stderr
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("error: "), stderr
    if single_line:
        assert len(lines) == 1, stderr
        assert fragment in lines[0]
    else:
        assert fragment in " ".join(lines)


COMMAND_TIMEOUT_S = 180
"""No test command may hang: a subprocess that runs longer fails its test."""


def turnscope(
    *args: str, runs: Path, timeout: float = COMMAND_TIMEOUT_S, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`turnscope ARGS...` in a subprocess (a real process: its own event loop, signals,
    stdout encoding) with TURNSCOPE_RUNS_DIR set to `runs`."""
    return subprocess.run(
        [sys.executable, "-m", "turnscope.cli", *args],
        env={**os.environ, "TURNSCOPE_RUNS_DIR": str(runs), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_error_line(done: subprocess.CompletedProcess[str], fragment: str) -> None:
    """Exit code 2, no traceback, and exactly one line on stderr: `error: ...fragment...`."""
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and fragment in lines[0], lines[0]
