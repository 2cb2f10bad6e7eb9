from __future__ import annotations

import csv
import io
import json
import os
import socket
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from turnscope.core import (
    GenerationParams,
    Item,
    Message,
    ModelIdentity,
    RunConfig,
    Score,
    Turn,
    TurnRecord,
    Variant,
)
from turnscope.store import RunStore, StoreError, export_records, new_run_dir

NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
ITEMS = [
    Item(id="b", turns=(Turn(user="one"), Turn(user="two"))),
    Item(id="a", turns=(Turn(user="solo"),), category="cat"),
]


def record(
    item: str,
    turn: int,
    *,
    response: str | None = "ok",
    error: str | None = None,
    variant: Variant = Variant.OWN,
) -> TurnRecord:
    return TurnRecord(
        item_id=item,
        turn=turn,
        variant=variant,
        request_hash=f"h{item}{turn}",
        new_messages=(Message(role="user", content=f"{item} says {turn}"),),
        response=response,
        error=error,
        model=ModelIdentity(backend="llamacpp", model="m"),
        params=GenerationParams(),
        seed=1,
        finished_at=NOW,
        scores=(Score(scorer="contains", value=1.0),) if response else (),
    )


def make_store(tmp_path: Path) -> RunStore:
    config = RunConfig(model="llamacpp", suite="s.yaml", created_at=NOW)
    return RunStore.create(new_run_dir(tmp_path, config.model, config.suite, NOW), config, ITEMS)


def test_run_dir_names_are_readable_and_unique(tmp_path: Path) -> None:
    first = new_run_dir(tmp_path, "openai:m@http://h/v1", "suites/my suite.yaml", NOW)
    assert first.name == "20261123-101500-openai-m-my-suite"
    first.mkdir()
    assert new_run_dir(tmp_path, "openai:m@http://h/v1", "suites/my suite.yaml", NOW).name == (
        "20261123-101500-openai-m-my-suite-2"
    )


def test_round_trip_and_item_order(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.commit(record("a", 1))
    store.commit(record("b", 2))
    store.commit(record("b", 1, response=None, error="HTTP 400"))
    reopened = RunStore.open(store.run_dir)
    assert reopened.config().suite == "s.yaml"
    assert [i.id for i in reopened.items()] == ["b", "a"]
    assert [(r.item_id, r.turn) for r in reopened.records()] == [("b", 1), ("b", 2), ("a", 1)]
    assert reopened.turn_count() == 3 and reopened.answered_count() == 2
    assert reopened.mean_score() == 1.0
    assert set(reopened.finished_turns("b", Variant.OWN, 0)) == {1, 2}
    assert reopened.finished_turns("b", Variant.GOLD, 0) == {}


def test_a_retried_turn_replaces_its_error(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.commit(record("b", 1, response=None, error="timeout"))
    store.commit(record("b", 1, response="fine"))
    records = list(store.records())
    assert len(records) == 1 and records[0].response == "fine" and records[0].error is None


def test_open_refuses_what_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such run directory"):
        RunStore.open(tmp_path / "missing")
    with pytest.raises(StoreError, match="not a turnscope run directory"):
        RunStore.open(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    with sqlite3.connect(other / "run.sqlite") as db:
        db.execute("CREATE TABLE unrelated (x)")
    with pytest.raises(StoreError, match="cannot read the run store"):
        RunStore.open(other)


def test_export_jsonl_and_csv() -> None:
    records = [record("a", 1), record("b", 1, response=None, error="HTTP 500")]
    out = io.StringIO()
    assert export_records(records, "jsonl", out) == 2
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rows[0]["item_id"] == "a" and rows[0]["scores"][0]["value"] == 1.0
    assert rows[0]["user"] == "a says 1"
    assert rows[1]["error"] == "HTTP 500" and rows[1]["response"] is None
    out = io.StringIO()
    export_records(records, "csv", out)
    table = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert table[0]["variant"] == "own" and json.loads(table[0]["scores"])[0]["scorer"] == (
        "contains"
    )
    with pytest.raises(ValueError, match="unknown export format"):
        export_records(records, "xml", io.StringIO())


@pytest.mark.parametrize(
    "answer", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=1", "\r=1", '=HYPERLINK("x")']
)
def test_csv_export_neutralises_formula_cells(answer: str) -> None:
    out = io.StringIO()
    export_records([record("=id", 1, response=answer, error="-err")], "csv", out)
    row = next(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    # A spreadsheet sees text starting with a quote; the original text follows it unchanged.
    assert row["response"] == "'" + answer
    assert row["item_id"] == "'=id" and row["error"] == "'-err"
    assert row["turn"] == "1"  # numbers stay numbers


def test_csv_export_shows_nul_and_keeps_safe_text() -> None:
    out = io.StringIO()
    export_records([record("a", 1, response="x\x00y, 2 = 2")], "csv", out)
    assert "\x00" not in out.getvalue()
    row = next(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert row["response"] == "x\u2400y, 2 = 2"
    jsonl = io.StringIO()
    export_records([record("a", 1, response="=x\x00")], "jsonl", jsonl)
    assert json.loads(jsonl.getvalue())["response"] == "=x\x00"  # JSONL stays lossless


def test_status_tells_a_live_run_from_one_whose_process_is_gone(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    assert store.status() == "created"
    store.set_meta("status", "running")
    store.set_meta("owner", {"host": socket.gethostname(), "pid": os.getpid()})
    assert store.status() == "running"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    store.set_meta("owner", {"host": socket.gethostname(), "pid": gone.pid})
    assert store.status() == "stopped"
    # Another host's process cannot be checked from here: no claim either way.
    store.set_meta("owner", {"host": "elsewhere.invalid", "pid": gone.pid})
    assert store.status() == "running"
    store.set_meta("status", "finished")
    assert store.status() == "finished"
