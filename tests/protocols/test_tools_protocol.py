"""The tools protocol through the engine and the real bubblewrap sandbox: state across turns,
isolation between conversations, tool-call faults, resume, feedback and its leak check.

The model is a scripted ModelClient (tests/helpers/scripted.py): these tests need exact code
and exact tool calls, including malformed ones, which no real small model writes on demand.
The end-to-end tests with the embedded model are in tests/e2e/test_tools_embedded.py."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from helpers.protocols import play_context
from helpers.sandbox import require_sandbox
from helpers.scripted import (
    FixedFeedback,
    ScriptedModel,
    calls,
    forget_turns_after,
    item,
    new_run,
    play,
)
from turnscope.core import GenerationParams, Item, RunConfig, TurnRecord, content_text
from turnscope.engine import ModelCaller, RetryPolicy
from turnscope.protocols import ToolsProtocol, check_protocols, get_protocol, leaks_reference
from turnscope.protocols.interactive import (
    MAX_ACTIONS_PER_TURN,
    check_sandbox,
    close_open_tag,
    parse_move,
)
from turnscope.run import check_roles


@pytest.fixture(autouse=True)
def _sandbox() -> None:
    require_sandbox()


def task(key: str, reference: str = "943", budget: int = 4, **setup: Any) -> Item:
    return item(
        {
            "id": key,
            "protocol": "tools",
            "setup": {"budget": budget, **setup},
            "turns": [
                {
                    "user": f"{key}: what is 41 times 23?",
                    "reference": reference,
                    "scorers": [{"type": "numeric"}],
                }
            ],
        }
    )


def records_of(store: Any, key: str, role: str | None = "target") -> list[TurnRecord]:
    return [r for r in store.records(role=role) if r.item_id == key]


def shown(record: TurnRecord) -> str:
    return "\n".join(content_text(m.content) for m in record.new_messages)


async def test_state_persists_across_turns_and_the_solution_ends_the_conversation(
    tmp_path: Path,
) -> None:
    model = ScriptedModel(
        {
            "alpha": [
                "First the factors. <execute>a = 41\nb = 23</execute>",
                "<execute>print(a * b)</execute>",
                "It is <solution>943</solution>",
                "never asked",
            ]
        }
    )
    store = new_run(tmp_path, [task("alpha")], ["tools"])
    outcome = await play(store, model)
    records = records_of(store, "alpha")
    assert [r.turn for r in records] == [1, 2, 3]
    assert outcome.requests_sent == 3
    assert "943" in shown(records[2]) and "tool:python" in records[2].flags
    assert [r.score for r in records] == [0.0, 0.0, 1.0]
    assert records[0].scores[0].detail == "no solution proposed at this turn"
    # The closing tag is a stop string, and the request offered no API tools in tag mode.
    params = model.requests[0][1]
    assert "</execute>" in params.stop and params.tools is None
    assert "You have 2 turns left." in shown(records[2])


async def test_conversations_never_share_an_interpreter(tmp_path: Path) -> None:
    model = ScriptedModel(
        {
            "left": ["<execute>secret = 'L'\nopen('note', 'w').write('L')</execute>", "x"],
            "right": ["<execute>import os\nprint(os.listdir('.'))\nprint(secret)</execute>", "x"],
        }
    )
    store = new_run(tmp_path, [task("left", budget=2), task("right", budget=2)], ["tools"])
    await play(store, model)
    right = records_of(store, "right")[1]
    assert "NameError: name 'secret' is not defined" in shown(right)
    assert "[]" in shown(right) and "tool:error" in right.flags


async def test_no_tools_offers_no_interpreter_and_the_gap_is_declared(tmp_path: Path) -> None:
    model = ScriptedModel({"gamma": ["<execute>print(41 * 23)</execute>", "<solution>943"]})
    store = new_run(tmp_path, [task("gamma", budget=2)], ["no-tools"])
    await play(store, model)
    first, second = records_of(store, "gamma")
    # Under no-tools an <execute> tag is not a tool: the turn did nothing usable.
    assert "tool:invalid" in second.flags and "943" not in shown(second)
    assert "without running any code" in content_text(first.new_messages[0].content)
    assert second.score == 1.0  # an unclosed <solution> at the end of an answer counts
    names = [g.name for g in get_protocol("tools").gaps]
    assert names == ["tools − no-tools", "feedback − unary"]


async def test_tool_call_faults_are_each_answered_recorded_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    fifty = calls(*[("python", json.dumps({"code": f"n{i} = {i}"})) for i in range(50)])
    model = ScriptedModel(
        {
            "delta": [
                calls(
                    ("python", json.dumps({"code": "v = 6 * 7\nprint(v)"})),
                    ("python", '{"code": "print(1)"'),
                    ("python", json.dumps({"cmd": "print(2)"})),
                    ("search_web", json.dumps({"q": "x"})),
                    ("py\u0000" + "x" * 200, "{}"),
                ),
                fifty,
                calls(("python", json.dumps({"code": "print(v, n0, n7)"}))),
                "<solution>943</solution>",
            ]
        }
    )
    store = new_run(tmp_path, [task("delta", interface="api")], ["tools"])
    await play(store, model)
    records = records_of(store, "delta")
    assert [r.turn for r in records] == [1, 2, 3, 4] and records[-1].score == 1.0
    assert model.requests[0][1].tools is not None
    assert [t.name for t in model.requests[0][1].tools] == ["python"]

    second = records[1]
    replies = [m for m in second.new_messages if m.role == "tool"]
    assert [m.tool_call_id for m in replies] == [f"call-{i}" for i in range(5)]
    assert content_text(replies[0].content) == "42"
    assert "not valid JSON" in content_text(replies[1].content)
    assert 'needs a "code" string' in content_text(replies[2].content)
    assert "no tool named 'search_web'" in content_text(replies[3].content)
    assert len(content_text(replies[4].content)) < 200  # a hostile name is cut when echoed
    assert second.flags.count("tool:bad-arguments") == 2
    assert second.flags.count("tool:unknown") == 2

    third = records[2]
    assert len([m for m in third.new_messages if m.role == "tool"]) == 50
    assert third.flags.count("tool:python") == MAX_ACTIONS_PER_TURN
    assert third.flags.count("tool:over-limit") == 50 - MAX_ACTIONS_PER_TURN
    # The state kept v (turn 1) and n0..n7 (turn 2, the calls within the limit).
    assert "42 0 7" in shown(records[3])


async def test_resume_replays_the_code_and_asks_no_model_again(tmp_path: Path) -> None:
    script = {
        "eps": [
            "<execute>base = 40\nopen('part', 'w').write('3')</execute>",
            "<execute>total = base + int(open('part').read())\nprint(total)</execute>",
            "<execute>print(total * 23 - 46)</execute>",
            "<solution>943</solution>",
        ]
    }
    store = new_run(tmp_path, [task("eps")], ["tools"])
    await play(store, ScriptedModel(script))
    first_run = records_of(store, "eps")
    assert [r.turn for r in first_run] == [1, 2, 3, 4]
    store = forget_turns_after(store, 2)

    again = ScriptedModel(script)
    outcome = await play(store, again)
    assert again.requests_for("eps") == [3, 4] and outcome.requests_sent == 2
    records = records_of(store, "eps")
    third = records[2]
    # Turn 1's code was replayed and turn 2's run again: the state behind total is rebuilt.
    assert "sandbox:replayed" in third.flags
    assert "43" in shown(third)
    assert "943" in shown(records[3]) and records[3].score == 1.0
    assert records[:2] == first_run[:2]


async def test_feedback_role_writes_between_turns_and_leaks_are_flagged(tmp_path: Path) -> None:
    model = ScriptedModel(
        {"zeta": ["<solution>900</solution>", "<solution>940</solution>", "<solution>943"]}
    )
    said = iter(["Check the last digit of 3 times 1.", "The answer is 943, write that."])
    coach = FixedFeedback(lambda messages: next(said))
    store = new_run(tmp_path, [task("zeta")], ["tools-feedback"], feedback=True)
    outcome = await play(store, model, {"feedback": coach})
    assert outcome.role_requests_sent == {"feedback": 2}
    target = records_of(store, "zeta")
    notes = records_of(store, "zeta", role="feedback")
    assert [r.turn for r in notes] == [2, 3]
    assert notes[0].flags == () and notes[1].flags == ("feedback:leak",)
    assert "Feedback:\nCheck the last digit" in shown(target[1])
    assert "Your solution is not correct." in shown(target[1])
    # The coach saw the task and the work, never the reference.
    request = content_text(coach.requests[0][0][1].content)
    assert "zeta: what is 41 times 23?" in request and "<solution>900" in request
    assert "943" not in request
    assert target[-1].score == 1.0


def test_a_feedback_condition_needs_the_role_before_anything_is_played() -> None:
    config = RunConfig(
        model="llamacpp",
        suite="x",
        conditions=("tools", "tools-feedback"),
        created_at=datetime.now(UTC),
    )
    with pytest.raises(ValueError, match="'feedback' role under 'tools-feedback'"):
        check_roles([task("eta")], config)
    check_roles([task("eta")], config.model_copy(update={"conditions": ("tools",)}))


async def test_code_tasks_run_their_tests_after_the_solution(tmp_path: Path) -> None:
    code_item = item(
        {
            "id": "code",
            "protocol": "tools",
            "setup": {"budget": 2, "tests": "assert add(2, 3) == 5\nassert add(-1, 1) == 0"},
            "turns": [{"user": "code: write add(a, b)."}],
        }
    )
    model = ScriptedModel(
        {
            "code": [
                "<solution>\n```python\ndef add(a, b):\n    return a - b\n```\n</solution>",
                "<solution>def add(a, b):\n    return a + b</solution>",
            ]
        }
    )
    store = new_run(tmp_path, [code_item], ["tools"])
    await play(store, model)
    first, second = records_of(store, "code")
    assert first.score == 0.0 and "AssertionError" in (first.scores[0].detail or "")
    assert second.score == 1.0 and second.scores[0].scorer == "tests"


def test_items_are_checked_when_the_suite_loads() -> None:
    bad = item({"id": "b", "protocol": "tools", "turns": [{"user": "no scorer"}]})
    with pytest.raises(ValueError, match="needs scorers"):
        check_protocols([bad])
    budget = item(
        {
            "id": "b",
            "protocol": "tools",
            "setup": {"budget": 0},
            "turns": [{"user": "x", "scorers": [{"type": "numeric"}]}],
        }
    )
    with pytest.raises(ValueError, match=r"field 'setup\.budget'"):
        check_protocols([budget])


def test_parsing_is_bounded_and_tags_are_closed_for_the_history() -> None:
    python = ToolsProtocol().tools(task("p"), "tools")[0]
    assert close_open_tag("run <execute>print(1)", ("execute", "solution")) == (
        "run <execute>print(1)</execute>"
    )
    assert close_open_tag("<execute>a</execute>", ("execute",)) == "<execute>a</execute>"
    many = "".join(f"<execute>print({i})</execute>" for i in range(20))
    move = parse_move(many, None, {"python": python}, lambda name, arguments: None)
    assert [a.kind for a in move.actions].count("skipped") == 20 - MAX_ACTIONS_PER_TURN


@pytest.mark.parametrize(
    ("feedback", "reference", "leak"),
    [
        ("The answer is 943.", "943", True),
        ("You are close: 9,430 divided by ten.", "943", False),
        ("Try 943.0 instead.", "943", True),
        ("Recheck option (c).", "c", True),
        ("The answer is c, clearly.", "c", True),
        ("Check each choice carefully.", "c", False),
        ("It should be Robert Erskine Childers.", "Robert Erskine Childers", True),
        ("Think about who was born in England.", "Robert Erskine Childers", False),
        ("anything", None, False),
    ],
)
def test_leak_check(feedback: str, reference: str | None, leak: bool) -> None:
    assert leaks_reference(feedback, reference) is leak


async def test_cancelling_a_conversation_closes_its_sandbox(tmp_path: Path) -> None:
    model = ScriptedModel({"theta": ["<execute>import time\ntime.sleep(8)</execute>", "x"]})
    caller = ModelCaller(model, GenerationParams(max_tokens=8), RetryPolicy(), None)
    ctx = play_context("tools", model.identity, caller.complete, protocol="tools")
    protocol = ToolsProtocol()
    check_sandbox()  # the machine check runs bwrap too: done first, so a new bwrap is the sandbox
    before = _bwrap_children()

    async def consume() -> None:
        async for _ in protocol.play(task("theta", budget=3), ctx):
            pass

    running = asyncio.create_task(consume())
    for _ in range(100):
        await asyncio.sleep(0.05)
        if _bwrap_children() - before:
            break
    assert _bwrap_children() - before, "the sandbox never started"
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert not (_bwrap_children() - before)


def _bwrap_children() -> set[int]:
    """Pids of bwrap processes whose parent is this process."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        if name == "bwrap" and parent == os.getpid():
            found.add(int(entry.name))
    return found
