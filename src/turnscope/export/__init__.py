"""Exports of a run for other tools: flat rows (JSONL, CSV, Parquet), one per turn or per
conversation, Every Eval Ever records, and inspect_ai `.eval` logs."""

from turnscope.export.eee import EeeFiles, model_id, write_eee
from turnscope.export.inspect_log import write_inspect
from turnscope.export.optional import EXTRA_HINT, ExportError
from turnscope.export.rows import (
    ConversationExport,
    TurnExport,
    conversation_json,
    iter_conversations,
    iter_turns,
    judgment_json,
    turn_json,
)
from turnscope.export.tabular import (
    NUL_STAND_IN,
    csv_cell,
    write_csv,
    write_jsonl,
    write_parquet,
)

EXPORT_FORMATS = ("jsonl", "csv", "parquet", "eee", "inspect")
"""What `turnscope export --format` accepts."""
ROW_FORMATS = ("jsonl", "csv", "parquet")
"""Flat formats: one row per turn or per conversation (`--per`)."""
STREAM_FORMATS = ("jsonl", "csv")
"""Formats that may be written to standard output (the others need a path)."""
EXPORT_UNITS = ("turn", "conversation")
"""What one row of a flat export is (`--per`)."""

__all__ = [
    "EXPORT_FORMATS",
    "EXPORT_UNITS",
    "EXTRA_HINT",
    "NUL_STAND_IN",
    "ROW_FORMATS",
    "STREAM_FORMATS",
    "ConversationExport",
    "EeeFiles",
    "ExportError",
    "TurnExport",
    "conversation_json",
    "csv_cell",
    "iter_conversations",
    "iter_turns",
    "judgment_json",
    "model_id",
    "turn_json",
    "write_csv",
    "write_eee",
    "write_inspect",
    "write_jsonl",
    "write_parquet",
]
