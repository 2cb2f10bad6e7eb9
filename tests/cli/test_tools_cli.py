"""`turnscope run` on tool items where the sandbox cannot run: one line before anything is
played (no run directory); a feedback condition without its role, and a hidden rule that is
not a rule, are refused the same way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers.cli import assert_clean_failure, run_cli
from turnscope.cli.run import suite_conditions
from turnscope.suites import resolve_suite

TOOL_ITEM = {
    "id": "calc",
    "protocol": "tools",
    "setup": {"budget": 2},
    "turns": [{"user": "What is 41 * 23?", "reference": "943", "scorers": [{"type": "numeric"}]}],
}


def without_bwrap(*args: str, runs: Path) -> subprocess.CompletedProcess[str]:
    """`turnscope ARGS` with a PATH on which bubblewrap cannot be found."""
    env = {**os.environ, "PATH": str(runs.parent / "empty-bin"), "TURNSCOPE_RUNS_DIR": str(runs)}
    return subprocess.run(
        [sys.executable, "-m", "turnscope.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_missing_bubblewrap_is_one_line_before_anything_is_played(tmp_path: Path) -> None:
    suite = tmp_path / "tools.jsonl"
    suite.write_text(json.dumps(TOOL_ITEM) + "\n", encoding="utf-8")
    runs = tmp_path / "runs"
    done = without_bwrap("run", "-s", str(suite), "-v", "tools", runs=runs)
    assert_clean_failure(
        done.returncode, done.stderr, "bubblewrap is not installed", single_line=True
    )
    assert "item 'calc' under 'tools'" in done.stderr
    assert "apt-get install bubblewrap" in done.stderr
    assert not runs.exists() or not any(p for p in runs.iterdir() if not p.name.startswith("."))


def test_a_feedback_condition_without_its_role_is_refused(tmp_path: Path) -> None:
    suite = tmp_path / "tools.jsonl"
    suite.write_text(json.dumps(TOOL_ITEM) + "\n", encoding="utf-8")
    code, _, err = run_cli(
        "run", "-s", str(suite), "-v", "tools-feedback", "--runs-dir", str(tmp_path)
    )
    assert_clean_failure(code, err, "needs a model in the 'feedback' role", single_line=True)
    assert "--role feedback=SPEC" in err


def test_an_unreadable_hidden_rule_is_a_load_error(tmp_path: Path) -> None:
    item = {
        "id": "rule",
        "protocol": "environment",
        "setup": {"rule": "__import__('os').system('id')", "held_out": [[1, 2, 3]]},
        "turns": [{"user": "Find the rule."}],
    }
    suite = tmp_path / "rule.jsonl"
    suite.write_text(json.dumps(item) + "\n", encoding="utf-8")
    code, _, err = run_cli("run", "-s", str(suite), "--runs-dir", str(tmp_path))
    assert_clean_failure(code, err, "rule.jsonl:1: item 'rule'", single_line=True)
    assert "not a rule" in err


def test_suite_default_conditions_keep_those_the_items_to_play_can_use() -> None:
    core = resolve_suite("core")
    scripted_only = [item for item in core.suite.items if item.protocol == "scripted"][:6]
    assert suite_conditions(core.conditions, scripted_only) == ["own", "gold", "single"]
    assert suite_conditions(core.conditions, core.suite.items) == list(core.conditions or ())
    # Nothing playable: the defaults stay, and the condition check says why.
    assert suite_conditions(("env",), scripted_only) == ["env"]
    assert suite_conditions(None, scripted_only) == ["own"]
