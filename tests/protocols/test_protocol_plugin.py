"""A protocol written here, registered through the registry, is played, resumed, judged,
exported, shown and reported by turnscope without any change outside this file: the engine,
judging, analysis, report and CLI ask the protocol about the conversation's shape.

The protocol plays an item's user turns in order (`forward`) or last to first (`backward`);
the answer recorded at turn t is scored with the scorers of the item turn it answered."""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers.cli import assert_one_error_line, turnscope
from helpers.servers import FakeOpenAIServer
from turnscope.core import (
    Condition,
    GenerationParams,
    Item,
    JudgeSettings,
    Message,
    RunConfig,
    TurnRecord,
)
from turnscope.export import write_jsonl
from turnscope.models import BackendOptions, create_client
from turnscope.models.llamacpp import LlamaCppClient
from turnscope.protocols import (
    ConditionGap,
    PlayContext,
    ProtocolBase,
    make_record,
    register_protocol,
    system_messages,
)
from turnscope.report.html import write_run_report
from turnscope.run import RunOutcome, create_run, execute_run
from turnscope.store import STORE_FILE, RunStore


class ReverseProtocol(ProtocolBase):
    """Fixed user turns, played first to last or last to first."""

    name = "reverse-test"
    conditions: tuple[Condition, ...] = ("forward", "backward")
    gaps: tuple[ConditionGap, ...] = (
        ConditionGap(name="backward − forward", first="backward", second="forward"),
    )

    def scored_turn(self, item: Item, condition: Condition, turn: int) -> int:
        return len(item.turns) + 1 - turn if condition == "backward" else turn

    async def play(self, item: Item, ctx: PlayContext) -> AsyncIterator[TurnRecord]:
        history: tuple[Message, ...] = system_messages(item)
        for turn in range(1, len(item.turns) + 1):
            source = self.scored_turn(item, ctx.condition, turn)
            user = Message(role="user", content=item.turns[source - 1].user)
            request = (*history, user)
            record = ctx.done(turn)
            if record is None:
                new = request if turn == 1 else (user,)
                outcome = await ctx.ask(item, turn, request)
                record = await make_record(
                    item, turn, ctx, new, request, outcome, scored_turn=source
                )
                yield record
                if record.answer is None:
                    return
            assert record.answer is not None
            history = (*request, record.answer)


register_protocol(ReverseProtocol())

ITEM = Item.model_validate(
    {
        "id": "rev",
        "protocol": "reverse-test",
        "system": "Answer in a few words.",
        "turns": [
            {"user": "Name a colour.", "scorers": [{"type": "regex", "pattern": "."}]},
            {"user": "Name a fruit.", "scorers": [{"type": "judge", "kind": "grade"}]},
        ],
    }
)


@pytest.fixture
def judge_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(reply=lambda messages, attempt: "Fine.\nRating: [[7]]") as server:
        yield server


def make_store(tmp_path: Path, judge_url: str) -> RunStore:
    config = RunConfig(
        model="llamacpp",
        suite="plugin",
        conditions=("forward", "backward"),
        params=GenerationParams(max_tokens=8),
        use_cache=False,
        created_at=datetime.now(UTC),
        judging=JudgeSettings(judges=(f"openai:judge@{judge_url}",)),
    )
    return create_run(config, [ITEM], tmp_path / "runs")


async def play(store: RunStore, embedded: LlamaCppClient, judge_url: str) -> RunOutcome:
    judge = create_client(f"openai:judge@{judge_url}", BackendOptions())
    try:
        return await execute_run(store, embedded, judge_clients=[judge])
    finally:
        await judge.aclose()


async def test_a_plugin_protocol_plays_resumes_is_judged_exported_shown_and_reported(
    embedded: LlamaCppClient, judge_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    store = make_store(tmp_path, judge_server.base_url)
    first = await play(store, embedded, judge_server.base_url)
    assert first.plan.total_turns == 4 and first.engine.turns_recorded == 4
    records = {(r.condition, r.turn): r for r in store.records()}
    assert set(records) == {("forward", 1), ("forward", 2), ("backward", 1), ("backward", 2)}
    # backward turn 1 answered the fruit question: it is the judged one.
    assert records[("backward", 1)].new_messages[-1].content == "Name a fruit."
    judged = records[("backward", 1)].scores[0]
    assert judged.scorer == "judge:grade" and judged.value == pytest.approx(0.7)
    assert records[("forward", 2)].scores[0].value == pytest.approx(0.7)
    assert records[("backward", 2)].scores[0].scorer == "regex"
    # The judge saw the history the protocol rebuilt: the fruit question first, nothing before.
    fruit_first = [
        x.messages for x in judge_server.exchanges if "Name a colour." not in json.dumps(x.messages)
    ]
    assert fruit_first, "the judge was shown backward turn 1 without the colour question"

    # Resume after losing a turn: only that turn is asked again, and judged again.
    store.close()
    with sqlite3.connect(tmp_path / "runs" / store.run_dir.name / STORE_FILE) as db:
        db.execute("DELETE FROM turns WHERE condition = 'backward' AND turn = 2")
    store = RunStore.open(store.run_dir)
    again = await play(store, embedded, judge_server.base_url)
    assert again.requests_sent == 1 and again.engine.turns_already_done == 3
    assert len(list(store.records())) == 4

    out = io.StringIO()
    assert write_jsonl(store, "turn", out) == 4
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {row["condition"] for row in rows} == {"forward", "backward"}

    report = write_run_report(store).read_text(encoding="utf-8")
    assert "backward − forward" in report and "score (backward)" in report
    store.close()

    from turnscope.cli import app

    result = CliRunner().invoke(app, ["show", str(store.run_dir), "--item", "rev"])
    assert result.exit_code == 0, result.output
    assert "rev | backward | sample 0 | turn 1" in result.stdout
    assert "judge:grade=0.70" in result.stdout
    result = CliRunner().invoke(app, ["show", str(store.run_dir)])
    assert result.exit_code == 0 and "2/2" in result.stdout

    # Where the plugin is not installed (a fresh process), reading its run is one error line.
    for command in (["show", str(store.run_dir)], ["report", str(store.run_dir)]):
        done = turnscope(*command, runs=tmp_path / "runs")
        assert_one_error_line(done, "unknown protocol 'reverse-test'")
        assert "is the package that provides it installed here?" in done.stderr
