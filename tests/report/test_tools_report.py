"""How a run of the interactive protocols is reported: the flag tally (tool calls, tool
errors, sandbox limits, feedback leaks) in the terminal summary and the HTML report, and
transcripts that show code, tool calls, observations and feedback apart, with hostile text
escaped everywhere it is shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers.sandbox import require_sandbox
from helpers.scripted import FixedFeedback, ScriptedModel, calls, item, new_run, play
from turnscope.analysis import flag_report, played_conversations
from turnscope.cli import app
from turnscope.cli.run import left_out_lines
from turnscope.report.html import write_run_report

HOSTILE = "<script>alert(1)</script>[bold red]boom[/bold red]"


@pytest.fixture(scope="module", autouse=True)
def _sandbox() -> None:
    require_sandbox()


def task(key: str, **setup: object) -> object:
    return item(
        {
            "id": key,
            "protocol": "tools",
            "setup": {"budget": 3, **setup},
            "turns": [
                {
                    "user": f"{key}: what is 41 times 23?",
                    "reference": "943",
                    "scorers": [{"type": "numeric"}],
                }
            ],
        }
    )


async def played(tmp_path: Path):  # type: ignore[no-untyped-def]
    model = ScriptedModel(
        {
            "slow": [
                "<execute>import time\nwhile True: pass</execute>",
                f"<execute>print({HOSTILE!r})\n1/0</execute>",
                "<solution>943</solution>",
            ],
            "api": [
                calls(("python", json.dumps({"code": "print(6 * 7)"})), ("nope", "{}")),
                "<solution>943</solution>",
            ],
        }
    )
    coach = FixedFeedback(lambda messages: f"The answer is 943. {HOSTILE}")
    store = new_run(
        tmp_path, [task("slow"), task("api", interface="api")], ["tools-feedback"], feedback=True
    )
    await play(store, model, {"feedback": coach})
    return store


async def test_flags_are_tallied_shown_and_transcripts_keep_parts_apart(tmp_path: Path) -> None:
    store = await played(tmp_path)
    report = flag_report(store.turn_flags(), played_conversations(store.turn_scores()))
    assert report is not None
    tallies = report.by_condition["tools-feedback"]
    assert report.conversations == {"tools-feedback": 2}
    assert tallies["sandbox:timeout"].occurrences == 1
    assert tallies["sandbox:restarted"].occurrences == 1
    assert tallies["tool:error"].occurrences == 2  # the timeout and the ZeroDivisionError
    assert tallies["tool:unknown"].occurrences == 1
    assert tallies["feedback:leak"].occurrences == 3 and tallies["feedback:leak"].conversations == 2
    assert tallies["tool:python"].per_conversation == pytest.approx(3 / 2)

    html = write_run_report(store).read_text(encoding="utf-8")
    assert "Tools, sandbox and feedback" in html and "sandbox:timeout" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)" in html
    assert "tool call · python" in html and "tool result · nope" in html
    assert "written by the feedback model" in html and "feedback:leak" in html
    store.close()

    result = CliRunner().invoke(app, ["show", str(store.run_dir), "--item", "slow"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "slow | tools-feedback | sample 0 | turn 2 | feedback" in out
    assert "flags: tool:python, tool:error, sandbox:timeout, sandbox:restarted" in out
    assert "[bold red]boom[/bold red]" in out  # shown as text, not read as markup
    result = CliRunner().invoke(app, ["show", str(store.run_dir), "--item", "api"])
    assert "tool call python (id " in result.stdout and "tool result python (call " in result.stdout


def test_report_without_flags_says_so() -> None:
    assert flag_report([], {"own": 3}) is None


def test_left_out_lines_group_a_protocol_s_conditions() -> None:
    lines = left_out_lines(
        {
            "tools: not played by the scripted protocol": 6,
            "env: not played by the scripted protocol": 6,
            "gold: no references": 2,
            "env: not played by the tools protocol": 1,
        }
    )
    assert lines == [
        "left out: 2 items under gold: no references",
        "left out: 6 items under tools, env: not played by the scripted protocol",
        "left out: 1 item under env: not played by the tools protocol",
    ]
