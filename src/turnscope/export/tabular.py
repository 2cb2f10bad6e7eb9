"""Flat exports: JSONL (lossless), CSV (for spreadsheets) and Parquet (for dataframes), one
row per turn or per conversation.

CSV text cells are neutralised as the OWASP guidance on CSV injection says: model output must
never run as a formula. Scores, judges and item metadata become columns of their own, found
before the first row is written (the store lists the scorer and judge names; the items are
known), so the rows themselves stream."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from turnscope.export.optional import need
from turnscope.export.rows import (
    ConversationExport,
    TurnExport,
    conversation_json,
    iter_conversations,
    iter_turns,
    protocol_of,
    turn_json,
)
from turnscope.store import RunStore

# A spreadsheet reads a cell that starts with one of these as a formula (TAB and CR too: some
# applications strip them and then see what follows).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUL_STAND_IN = "\u2400"
"""What a NUL character becomes in CSV (the visible SYMBOL FOR NULL): spreadsheets and many
CSV readers stop or fail at a raw NUL."""
PARQUET_BATCH_ROWS = 1024
"""Rows buffered before a Parquet row group is written: memory stays bounded by a batch."""


def csv_cell(value: Any) -> Any:
    """A text cell made safe for spreadsheets: NUL shown as U+2400, and a leading formula
    character quoted by a single quote (OWASP); numbers and other cells as they are."""
    if not isinstance(value, str):
        return value
    value = value.replace("\0", NUL_STAND_IN)
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _rows(store: RunStore, per: str) -> Iterator[dict[str, Any]]:
    if per == "turn":
        return (turn_json(t) for t in iter_turns(store))
    return (conversation_json(c) for c in iter_conversations(store))


def write_jsonl(store: RunStore, per: str, out: TextIO) -> int:
    """One JSON object per line; returns how many were written."""
    count = 0
    for row in _rows(store, per):
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


# --- CSV ----------------------------------------------------------------------------------

_TURN_COLUMNS = (
    "item_id",
    "turn",
    "condition",
    "role",
    "sample",
    "category",
    "family",
    "protocol",
    "key_turn",
    "user",
    "response",
    "tool_calls",
    "error",
    "score",
)
_TURN_TAIL = (
    "score_errors",
    "judge_errors",
    "flags",
    "prompt_tokens",
    "completion_tokens",
    "prefilled_tokens",
    "latency_s",
    "ttft_s",
    "retries",
    "cached",
    "finish_reason",
    "model",
    "served_by",
    "seed",
    "request_hash",
    "finished_at",
)
_CONVERSATION_COLUMNS = (
    "item_id",
    "condition",
    "sample",
    "category",
    "family",
    "protocol",
    "model",
    "turns",
    "turns_possible",
    "turn_errors",
    "scorer_errors",
    "serving_records",
    "serving_errors",
    "key_turns",
    "score",
)
_CONVERSATION_TAIL = (
    "judgments",
    "judge_errors",
    "flags",
    "spoilt",
    "prompt_tokens",
    "completion_tokens",
    "latency_s",
)


def _column(kind: str, name: str, nth: int) -> str:
    """A score or judge column: "score:exact", "score:exact#2" for a turn's second "exact"."""
    return f"{kind}:{name}" if nth == 1 else f"{kind}:{name}#{nth}"


def _meta_value(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, ensure_ascii=False)


def _turn_csv_row(turn: TurnExport, meta: list[str]) -> dict[str, Any]:
    record = turn.record
    row = {k: v for k, v in turn_json(turn).items() if k in _TURN_COLUMNS or k in _TURN_TAIL}
    row["tool_calls"] = ", ".join(c.function.name for c in record.tool_calls or ())
    seen: Counter[str] = Counter()
    for score in record.scores:
        seen[score.scorer] += 1
        row[_column("score", score.scorer, seen[score.scorer])] = score.value
    row["score_errors"] = "; ".join(f"{s.scorer}: {s.error}" for s in record.scores if s.error)
    judged: Counter[str] = Counter()
    for _, judgment in turn.judgments:
        judged[judgment.judge] += 1
        verdict = judgment.verdict
        row[_column("judge", judgment.judge, judged[judgment.judge])] = (
            verdict.value if verdict else None
        )
    row["judge_errors"] = "; ".join(
        f"{j.judge}: {j.error}" for _, j in turn.judgments if j.error is not None
    )
    row["flags"] = ", ".join(record.flags)
    row["model"] = f"{record.model.backend}:{record.model.model}"
    for key in meta:
        row[f"meta:{key}"] = _meta_value(turn.item.metadata.get(key))
    return row


def _conversation_csv_row(
    conversation: ConversationExport, max_turn: int, meta: list[str]
) -> dict[str, Any]:
    data = conversation_json(conversation)
    row = {k: v for k, v in data.items() if k in _CONVERSATION_COLUMNS or k in _CONVERSATION_TAIL}
    keys = data["key_turns"]
    row["key_turns"] = " ".join(map(str, keys)) if keys is not None else "scored"
    row["flags"] = ", ".join(data["flags"])
    for record in conversation.targets:
        if record.turn <= max_turn:
            row[f"turn:{record.turn}"] = record.score
    for key in meta:
        row[f"meta:{key}"] = _meta_value(conversation.item.metadata.get(key))
    return row


def _item_columns(store: RunStore) -> tuple[list[str], int]:
    """Every metadata key of any item (in first-seen order), and the most target turns a
    conversation of the run can record as the protocols say; one pass, one item at a time."""
    keys: dict[str, None] = {}
    longest = 0
    conditions = store.config().conditions
    for item in store.iter_items():
        keys.update(dict.fromkeys(item.metadata))
        protocol = protocol_of(item)
        played = [c for c in conditions if c in protocol.item_conditions(item)]
        longest = max([longest, *(protocol.max_turns(item, c) for c in played)])
    return list(keys), longest


def write_csv(store: RunStore, per: str, out: TextIO) -> int:
    """One CSV row per turn or conversation, every text cell neutralised; returns the count."""
    meta, max_turn = _item_columns(store)
    rows: Iterable[dict[str, Any]]
    if per == "turn":
        columns = [
            *_TURN_COLUMNS,
            *(_column("score", name, nth) for name, nth in store.score_names()),
            *(_column("judge", name, nth) for name, nth in store.judge_names()),
            *_TURN_TAIL,
            *(f"meta:{k}" for k in meta),
        ]
        rows = (_turn_csv_row(t, meta) for t in iter_turns(store))
    else:
        columns = [
            *_CONVERSATION_COLUMNS,
            *(f"turn:{t}" for t in range(1, max_turn + 1)),
            *_CONVERSATION_TAIL,
            *(f"meta:{k}" for k in meta),
        ]
        rows = (_conversation_csv_row(c, max_turn, meta) for c in iter_conversations(store))
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({name: csv_cell(value) for name, value in row.items()})
        count += 1
    return count


# --- Parquet ------------------------------------------------------------------------------


def _turn_schema(pa: Any) -> Any:
    score = pa.struct(
        [
            ("scorer", pa.string()),
            ("value", pa.float64()),
            ("error", pa.string()),
            ("detail", pa.string()),
        ]
    )
    judgment = pa.struct(
        [
            ("spec", pa.int32()),
            ("judge", pa.string()),
            ("kind", pa.string()),
            ("value", pa.float64()),
            ("label", pa.string()),
            ("error", pa.string()),
            ("attempts", pa.int32()),
        ]
    )
    return pa.schema(
        [
            ("item_id", pa.string()),
            ("turn", pa.int32()),
            ("condition", pa.string()),
            ("role", pa.string()),
            ("sample", pa.int32()),
            ("category", pa.string()),
            ("family", pa.string()),
            ("protocol", pa.string()),
            ("metadata", pa.string()),
            ("key_turn", pa.bool_()),
            ("user", pa.string()),
            ("response", pa.string()),
            ("tool_calls", pa.string()),
            ("new_messages", pa.string()),
            ("error", pa.string()),
            ("score", pa.float64()),
            ("scores", pa.list_(score)),
            ("judgments", pa.list_(judgment)),
            ("flags", pa.list_(pa.string())),
            ("prompt_tokens", pa.int64()),
            ("completion_tokens", pa.int64()),
            ("prefilled_tokens", pa.int64()),
            ("latency_s", pa.float64()),
            ("ttft_s", pa.float64()),
            ("retries", pa.int32()),
            ("cached", pa.bool_()),
            ("finish_reason", pa.string()),
            ("model", pa.string()),
            ("served_by", pa.string()),
            ("seed", pa.int64()),
            ("request_hash", pa.string()),
            ("finished_at", pa.timestamp("us", tz="UTC")),
        ]
    )


def _conversation_schema(pa: Any) -> Any:
    return pa.schema(
        [
            ("item_id", pa.string()),
            ("condition", pa.string()),
            ("sample", pa.int32()),
            ("category", pa.string()),
            ("family", pa.string()),
            ("protocol", pa.string()),
            ("metadata", pa.string()),
            ("model", pa.string()),
            ("turns", pa.int32()),
            ("turns_possible", pa.int32()),
            ("turn_errors", pa.int32()),
            ("scorer_errors", pa.int32()),
            ("serving_records", pa.int32()),
            ("serving_errors", pa.int32()),
            ("key_turns", pa.list_(pa.int32())),
            ("turn_scores", pa.list_(pa.struct([("turn", pa.int32()), ("score", pa.float64())]))),
            ("score", pa.float64()),
            ("judgments", pa.int32()),
            ("judge_errors", pa.int32()),
            ("flags", pa.list_(pa.string())),
            ("spoilt", pa.bool_()),
            ("prompt_tokens", pa.int64()),
            ("completion_tokens", pa.int64()),
            ("latency_s", pa.float64()),
        ]
    )


def _turn_parquet_row(turn: TurnExport) -> dict[str, Any]:
    row = turn_json(turn)
    record = turn.record
    row["metadata"] = json.dumps(row["metadata"], ensure_ascii=False)
    row["tool_calls"] = json.dumps(row["tool_calls"], ensure_ascii=False)
    row["new_messages"] = json.dumps(row["new_messages"], ensure_ascii=False)
    row["judgments"] = [
        {**{k: v for k, v in j.items() if k != "judgment"}, "attempts": len(judgment.attempts)}
        for j, (_, judgment) in zip(row["judgments"], turn.judgments, strict=True)
    ]
    row["model"] = f"{record.model.backend}:{record.model.model}"
    row["finished_at"] = record.finished_at
    return row


def _conversation_parquet_row(conversation: ConversationExport) -> dict[str, Any]:
    row = conversation_json(conversation)
    row["metadata"] = json.dumps(row["metadata"], ensure_ascii=False)
    row["turn_scores"] = [{"turn": r.turn, "score": r.score} for r in conversation.targets]
    return row


def write_parquet(store: RunStore, per: str, path: Path) -> int:
    """A Parquet file with one row per turn or conversation, written in row groups of
    PARQUET_BATCH_ROWS; returns the row count."""
    pa = need("pyarrow", "parquet export")
    pq = need("pyarrow.parquet", "parquet export")
    rows: Iterator[dict[str, Any]]
    if per == "turn":
        schema = _turn_schema(pa)
        rows = (_turn_parquet_row(t) for t in iter_turns(store))
    else:
        schema = _conversation_schema(pa)
        rows = (_conversation_parquet_row(c) for c in iter_conversations(store))
    count = 0
    batch: list[dict[str, Any]] = []
    with pq.ParquetWriter(path, schema) as writer:
        for row in rows:
            batch.append(row)
            if len(batch) == PARQUET_BATCH_ROWS:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                count += len(batch)
                batch = []
        if batch or count == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            count += len(batch)
    return count
