"""JSONL, CSV and Parquet exports, per turn and per conversation: every record and every
judgment comes out, counts equal the store's, conversation scores are the analysis's, CSV
cells never run as formulas."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from helpers.export_runs import CONVERSATIONS, HOSTILE, JUDGE_A, JUDGE_B, RECORDS, SERVER
from turnscope.analysis import item_scores
from turnscope.export import NUL_STAND_IN, csv_cell, write_csv, write_jsonl, write_parquet
from turnscope.store import RunStore


def jsonl(store: RunStore, per: str) -> list[dict[str, object]]:
    out = io.StringIO()
    count = write_jsonl(store, per, out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert count == len(rows)
    return rows


def test_turn_jsonl_holds_every_record_with_judgments_family_and_key_turns(
    store: RunStore,
) -> None:
    rows = jsonl(store, "turn")
    assert len(rows) == len(list(store.records(role=None))) == len(RECORDS)
    third = next(r for r in rows if r["item_id"] == "recall" and r["turn"] == 3 and not r["sample"])
    assert third["family"] == "recollection" and third["metadata"]["probe_turns"] == [3]
    assert [j["judge"] for j in third["judgments"]] == [JUDGE_A, JUDGE_B]
    assert third["judgments"][0]["value"] == 0.7 and third["judgments"][0]["label"] == "grade 7"
    assert third["judgments"][1]["value"] is None and third["judgments"][1]["error"]
    # The raw judge text is kept (audit), as in the store.
    assert third["judgments"][1]["judgment"]["attempts"][0]["text"] == "no idea"
    judged = sum(len(r["judgments"]) for r in rows)  # type: ignore[arg-type]
    assert judged == len(list(store.all_judgments())) == 3
    # probe_turns names turn 3 as recall's only key turn; plain names none: its scored turns.
    keys = {(r["item_id"], r["turn"], r["sample"], r["role"]): r["key_turn"] for r in rows}
    assert keys[("recall", 3, 0, "target")] and not keys[("recall", 1, 0, "target")]
    assert keys[("plain", 1, 0, "target")] and not keys[("plain", 2, 0, "target")]
    assert not keys[("plain", 1, 0, "user")]
    user = next(r for r in rows if r["role"] == "user")
    assert user["flags"] == ["sim:drift"] and user["judgments"] == []
    evil = next(r for r in rows if r["item_id"] == "=evil")
    assert evil["response"] == HOSTILE  # JSONL is lossless
    assert served(rows) == EXPECTED_SERVED


def served(rows: list[dict[str, object]]) -> dict[tuple[object, ...], object]:
    """Who served each target turn, by (item, sample, turn)."""
    return {
        (r["item_id"], r["sample"], r["turn"]): r["served_by"]
        for r in rows
        if r["role"] == "target"
    }


EXPECTED_SERVED = {
    **{("recall", 0, turn): "worker-1" for turn in (1, 2, 3)},
    **{("recall", 1, turn): SERVER for turn in (1, 2, 3)},
    ("plain", 0, 1): None,
    ("plain", 0, 2): None,
    ("=evil", 0, 1): None,
}


def test_conversation_rows_score_as_the_analysis_does(store: RunStore) -> None:
    rows = jsonl(store, "conversation")
    assert len(rows) == CONVERSATIONS
    by_key = {(r["item_id"], r["sample"]): r for r in rows}
    # Key turn 3 only: sample 0 scores its turn-3 score (mean of 1, 0 and 0.7), sample 1 a 1.
    assert by_key[("recall", 0)]["score"] == pytest.approx((1.0 + 0.0 + 0.7) / 3)
    assert by_key[("recall", 1)]["score"] == 1.0
    assert by_key[("recall", 0)]["key_turns"] == [3]
    assert by_key[("recall", 0)]["judgments"] == 2 and by_key[("recall", 0)]["judge_errors"] == 1
    plain = by_key[("plain", 0)]
    assert plain["turns"] == 2 and plain["turn_errors"] == 1 and plain["serving_records"] == 1
    assert plain["key_turns"] is None and plain["score"] == 0.5
    assert plain["flags"] == ["sim:drift"] and plain["spoilt"] is False
    # The analysis's item score is the mean of the conversation scores over samples.
    analysed = item_scores(store.turn_scores(), store.items(), store.serving_scores())["own"]
    for item_id, value in analysed.items():
        mine = [r["score"] for r in rows if r["item_id"] == item_id]
        assert sum(mine) / len(mine) == pytest.approx(value)  # type: ignore[arg-type]


def test_csv_has_score_judge_and_metadata_columns_and_safe_cells(store: RunStore) -> None:
    out = io.StringIO()
    assert write_csv(store, "turn", out) == len(RECORDS)
    table = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    header = list(table[0])
    for column in ("family", "key_turn", "score:exact", "score:exact#2", "score:judge"):
        assert column in header
    assert f"judge:{JUDGE_A}" in header and f"judge:{JUDGE_B}" in header
    assert "meta:probe_turns" in header and "meta:source" in header
    third = next(r for r in table if r["item_id"] == "recall" and r["turn"] == "3")
    assert third["score:exact"] == "1.0" and third["score:exact#2"] == "0.0"
    assert third[f"judge:{JUDGE_A}"] == "0.7" and third[f"judge:{JUDGE_B}"] == ""
    assert "no grade" in third["judge_errors"] and third["meta:probe_turns"] == "[3]"
    evil = next(r for r in table if r["item_id"] == "'=evil")
    assert evil["response"] == "'" + HOSTILE.replace("\0", NUL_STAND_IN)
    assert evil["category"] == "'-cmd" and evil["user"] == "'-2+3"
    assert evil["meta:source"] == "'@x" and evil["meta:tags"] == '["a", "b"]'
    assert "\0" not in out.getvalue()
    assert header.index("served_by") == header.index("model") + 1
    cells = served([{**r, "sample": int(r["sample"]), "turn": int(r["turn"])} for r in table])
    assert cells == {
        (item if item != "=evil" else "'=evil", sample, turn): value or ""
        for (item, sample, turn), value in EXPECTED_SERVED.items()
    }


def test_csv_per_conversation_has_a_column_per_turn(store: RunStore) -> None:
    out = io.StringIO()
    assert write_csv(store, "conversation", out) == CONVERSATIONS
    table = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert [c for c in table[0] if c.startswith("turn:")] == ["turn:1", "turn:2", "turn:3"]
    recall = next(r for r in table if r["item_id"] == "recall" and r["sample"] == "0")
    assert (recall["turn:1"], recall["turn:2"], recall["key_turns"]) == ("1.0", "0.0", "3")
    plain = next(r for r in table if r["item_id"] == "plain")
    assert plain["turn:2"] == "" and plain["key_turns"] == "scored" and plain["score"] == "0.5"


@pytest.mark.parametrize("value", ["=1", "+1", "-1", "@a", "\t=1", "\r=1"])
def test_csv_cell_quotes_every_formula_start(value: str) -> None:
    assert csv_cell(value) == "'" + value
    assert csv_cell("a=1") == "a=1" and csv_cell(3) == 3


def test_parquet_round_trips_turns_and_conversations(store: RunStore, tmp_path: Path) -> None:
    turns_path = tmp_path / "turns.parquet"
    assert write_parquet(store, "turn", turns_path) == len(RECORDS)
    table = pq.read_table(turns_path)
    assert table.num_rows == len(list(store.records(role=None)))
    rows = table.to_pylist()
    third = next(r for r in rows if r["item_id"] == "recall" and r["turn"] == 3 and not r["sample"])
    assert [s["scorer"] for s in third["scores"]] == ["exact", "exact", "judge"]
    assert [(j["judge"], j["value"]) for j in third["judgments"]] == [
        (JUDGE_A, 0.7),
        (JUDGE_B, None),
    ]
    assert third["key_turn"] and third["family"] == "recollection"
    assert json.loads(third["metadata"])["distance"] == 2
    assert sum(len(r["judgments"]) for r in rows) == 3
    assert next(r for r in rows if r["item_id"] == "=evil")["response"] == HOSTILE
    assert str(table.schema.field("finished_at").type) == "timestamp[us, tz=UTC]"
    assert str(table.schema.field("served_by").type) == "string"
    assert served(rows) == EXPECTED_SERVED

    conversations_path = tmp_path / "conversations.parquet"
    assert write_parquet(store, "conversation", conversations_path) == CONVERSATIONS
    rows = pq.read_table(conversations_path).to_pylist()
    recall = next(r for r in rows if r["item_id"] == "recall" and r["sample"] == 0)
    assert recall["key_turns"] == [3]
    assert recall["turn_scores"] == [
        {"turn": 1, "score": 1.0},
        {"turn": 2, "score": 0.0},
        {"turn": 3, "score": pytest.approx(1.7 / 3)},
    ]


def test_parquet_of_an_empty_run_is_a_readable_empty_table(tmp_path: Path) -> None:
    from helpers.synthetic_runs import make_item, write_run

    run = write_run(tmp_path / "empty", [make_item("a", "expansion", 1)], [])
    store = RunStore.open(run)
    try:
        assert write_parquet(store, "turn", tmp_path / "e.parquet") == 0
    finally:
        store.close()
    assert pq.read_table(tmp_path / "e.parquet").num_rows == 0
