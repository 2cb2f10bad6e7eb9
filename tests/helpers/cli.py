"""Driving the `turnscope` command in-process, and what a clean failure looks like."""

from __future__ import annotations

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
