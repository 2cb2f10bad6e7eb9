from __future__ import annotations

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
)
from turnscope.store import STORE_FILE, RunStore, StoreError, new_run_dir

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
    variant: str = "own",
) -> TurnRecord:
    return TurnRecord(
        item_id=item,
        turn=turn,
        condition=variant,
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
    assert set(reopened.finished_turns("b", "own", 0)) == {1, 2}
    assert reopened.finished_turns("b", "gold", 0) == {}


def test_a_retried_turn_replaces_its_error(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.commit(record("b", 1, response=None, error="timeout"))
    store.commit(record("b", 1, response="fine"))
    records = list(store.records())
    assert len(records) == 1 and records[0].response == "fine" and records[0].error is None


def test_records_committed_together_are_on_disk_together(tmp_path: Path) -> None:
    """commit_many is one transaction: once it returns, another connection (another process
    after a kill -9) sees every record; a batch that fails part-way leaves none of them."""
    store = make_store(tmp_path)
    store.commit_many([record("b", 1), record("b", 2), record("a", 1, error="x", response=None)])
    with sqlite3.connect(store.run_dir / STORE_FILE) as other:
        assert other.execute("SELECT COUNT(*) FROM turns").fetchone() == (3,)
    with pytest.raises(sqlite3.IntegrityError):
        # The second row breaks a NOT NULL column after the first was written.
        store.commit_many(
            [record("b", 1, variant="gold"), record("b", 2).model_copy(update={"item_id": None})]
        )
    assert store.finished_turns("b", "gold", 0) == {}
    assert RunStore.open(store.run_dir).turn_count() == 3


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


_V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE items (
    position INTEGER NOT NULL, id TEXT PRIMARY KEY, category TEXT NOT NULL, data TEXT NOT NULL
);
CREATE TABLE turns (
    item_id TEXT NOT NULL, variant TEXT NOT NULL, sample INTEGER NOT NULL, turn INTEGER NOT NULL,
    error TEXT, score REAL, record TEXT NOT NULL,
    PRIMARY KEY (item_id, variant, sample, turn)
);
"""


def _as_written_by_version_1(record: TurnRecord) -> str:
    """A record's JSON as turnscope wrote it before conditions, roles and tool calls."""
    data = json.loads(record.model_dump_json())
    data["variant"] = data.pop("condition")
    for newer in ("role", "tool_calls", "flags"):
        data.pop(newer)
    return json.dumps(data)


def test_a_store_written_by_the_previous_version_opens_and_is_migrated(tmp_path: Path) -> None:
    run_dir = tmp_path / "old-run"
    run_dir.mkdir()
    config = {
        "model": "llamacpp",
        "suite": "core",
        "variants": ["own", "gold"],
        "created_at": "2026-11-20T10:00:00Z",
    }
    item = {"id": "a", "turns": [{"user": "hi", "reference": "hello"}], "feedback": None}
    own = record("a", 1, response="own answer")
    gold = record("a", 1, response="gold answer", variant="gold")
    with sqlite3.connect(run_dir / STORE_FILE) as db:
        db.executescript(_V1_SCHEMA)
        db.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [("schema_version", "1"), ("config", json.dumps(config)), ("status", '"finished"')],
        )
        db.execute("INSERT INTO items VALUES (0, 'a', 'general', ?)", (json.dumps(item),))
        for old in (own, gold):
            db.execute(
                "INSERT INTO turns VALUES ('a', ?, 0, 1, NULL, 1.0, ?)",
                (old.condition, _as_written_by_version_1(old)),
            )
    store = RunStore.open(run_dir)
    try:
        assert store.config().conditions == ("own", "gold")
        assert [i.id for i in store.items()] == ["a"]
        assert {r.condition: r.role for r in store.records()} == {"own": "target", "gold": "target"}
        assert store.finished_turns("a", "gold", 0)[1].response == gold.response
        assert store.turn_scores()[0].condition in ("own", "gold")
        assert list(store.all_judgments()) == []
        assert store.meta("schema_version") == 2
    finally:
        store.close()
    reopened = RunStore.open(run_dir)  # migrated once: opening again changes nothing
    assert len(list(reopened.records())) == 2
    reopened.close()


def test_items_are_read_one_at_a_time(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    try:
        assert store.item("a") == ITEMS[1] and store.item("b") == ITEMS[0]
        assert store.item("missing") is None
        assert list(store.iter_items()) == store.items() == ITEMS
    finally:
        store.close()
