"""`turnscope run` on tool items where the sandbox cannot run: one line before anything is
played (no run directory); a feedback condition without its role, and a hidden rule that is
not a rule, are refused the same way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from helpers.cli import assert_clean_failure, run_cli, turnscope
from helpers.sandbox import require_sandbox
from helpers.servers import FakeOpenAIServer
from turnscope.cli.run import suite_conditions
from turnscope.core import content_text
from turnscope.store import RunStore
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


def test_a_server_that_issues_faulty_tool_calls_is_answered_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    """Through the command and a real HTTP server: malformed arguments, an unknown tool, a
    hostile name and fifty calls in a row are each answered with a tool message and recorded;
    the conversation then ends on its solution and the run exits 0."""
    require_sandbox()

    def tool_calls(body: dict[str, Any]) -> list[dict[str, Any]] | None:
        answered = [m for m in body["messages"] if m["role"] == "tool"]
        if not answered:
            return [
                {"id": "a", "name": "python", "arguments": json.dumps({"code": "v = 6 * 7"})},
                {"id": "b", "name": "python", "arguments": '{"code": "print(1)"'},
                {"id": "c", "name": "search_web", "arguments": "{}"},
                {"id": "d", "name": "\x1b]0;x\x07" + "p" * 100, "arguments": "{}"},
            ]
        if len(answered) == 4:
            code = [json.dumps({"code": f"n{i} = {i}"}) for i in range(50)]
            return [{"id": f"m{i}", "name": "python", "arguments": c} for i, c in enumerate(code)]
        return None

    item = {**TOOL_ITEM, "setup": {"budget": 4, "interface": "api"}}
    suite = tmp_path / "tools.jsonl"
    suite.write_text(json.dumps(item) + "\n", encoding="utf-8")
    runs = tmp_path / "runs"
    with FakeOpenAIServer(
        tool_calls=tool_calls, reply=lambda messages, attempt: "<solution>943</solution>"
    ) as server:
        done = turnscope(
            "run", "-s", str(suite), "-v", "tools", "-m", f"openai:fake@{server.base_url}",
            runs=runs,
        )  # fmt: skip
        requests = len(server.bodies)
    assert done.returncode == 0, done.stdout + done.stderr
    assert requests == 3
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")]
    store = RunStore.open(run_dir)
    try:
        records = [r for r in store.records(role="target") if r.item_id == "calc"]
    finally:
        store.close()
    assert [r.turn for r in records] == [1, 2, 3] and records[-1].score == 1.0
    # A turn's record holds what the user side sent: the answers to the previous turn's calls.
    first, second = records[1], records[2]
    replies = [m for m in first.new_messages if m.role == "tool"]
    assert [m.tool_call_id for m in replies] == ["a", "b", "c", "d"]
    assert "not valid JSON" in content_text(replies[1].content)
    assert "no tool named 'search_web'" in content_text(replies[2].content)
    assert "\x1b" not in content_text(replies[3].content)
    assert first.flags.count("tool:bad-arguments") == 1
    assert first.flags.count("tool:unknown") == 2
    assert len([m for m in second.new_messages if m.role == "tool"]) == 50
    assert "tool:over-limit" in second.flags
