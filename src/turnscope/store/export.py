"""Export turn records as JSONL or CSV, one row per turn.

JSONL is the lossless export. CSV is for spreadsheets, so its text cells are neutralised as
the OWASP guidance on CSV injection says: model output must never run as a formula."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import Any, TextIO

from turnscope.core import TurnRecord, content_text

EXPORT_FORMATS = ("jsonl", "csv")
_CSV_FIELDS = (
    "item_id",
    "turn",
    "condition",
    "role",
    "sample",
    "user",
    "response",
    "error",
    "score",
    "scores",
    "prompt_tokens",
    "completion_tokens",
    "prefilled_tokens",
    "latency_s",
    "ttft_s",
    "retries",
    "cached",
    "finish_reason",
    "model",
    "seed",
    "request_hash",
    "finished_at",
)
# A spreadsheet reads a cell that starts with one of these as a formula (TAB and CR too: some
# applications strip them and then see what follows).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUL_STAND_IN = "\u2400"
"""What a NUL character becomes in CSV (the visible SYMBOL FOR NULL): spreadsheets and many
CSV readers stop or fail at a raw NUL."""


def csv_cell(value: Any) -> Any:
    """A text cell made safe for spreadsheets: NUL shown as U+2400, and a leading formula
    character quoted by a single quote (OWASP); numbers and other cells as they are."""
    if not isinstance(value, str):
        return value
    value = value.replace("\0", NUL_STAND_IN)
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def flat_record(record: TurnRecord) -> dict[str, Any]:
    """A record as one flat, JSON-able row (what `turnscope export` writes)."""
    user = next((m for m in reversed(record.new_messages) if m.role == "user"), None)
    return {
        "item_id": record.item_id,
        "turn": record.turn,
        "condition": record.condition,
        "role": record.role,
        "sample": record.sample,
        "user": content_text(user.content) if user else None,
        "response": record.response,
        "error": record.error,
        "score": record.score,
        "scores": [s.model_dump(mode="json") for s in record.scores],
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens,
        "prefilled_tokens": record.prefilled_tokens,
        "latency_s": record.latency_s,
        "ttft_s": record.ttft_s,
        "retries": record.retries,
        "cached": record.cached,
        "finish_reason": record.finish_reason,
        "model": record.model.model_dump(mode="json"),
        "params": record.params.model_dump(mode="json"),
        "seed": record.seed,
        "request_hash": record.request_hash,
        "finished_at": record.finished_at.isoformat(),
    }


def export_records(records: Iterable[TurnRecord], fmt: str, out: TextIO) -> int:
    """Write records to `out` in `fmt`; returns how many were written."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (use {' or '.join(EXPORT_FORMATS)})")
    count = 0
    if fmt == "jsonl":
        for record in records:
            out.write(json.dumps(flat_record(record), ensure_ascii=False) + "\n")
            count += 1
        return count
    writer = csv.DictWriter(out, fieldnames=_CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for record in records:
        row = flat_record(record)
        row["scores"] = json.dumps(row["scores"], ensure_ascii=False)
        row["model"] = f"{record.model.backend}:{record.model.model}"
        writer.writerow({name: csv_cell(value) for name, value in row.items()})
        count += 1
    return count
