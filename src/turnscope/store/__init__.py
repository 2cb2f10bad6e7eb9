"""Run store (SQLite, one file per run directory) and export."""

from turnscope.store.export import EXPORT_FORMATS, export_records
from turnscope.store.run_store import (
    STORE_FILE,
    RunStore,
    StoreError,
    TurnScores,
    gc_paused,
    new_run_dir,
)

__all__ = [
    "EXPORT_FORMATS",
    "STORE_FILE",
    "RunStore",
    "StoreError",
    "TurnScores",
    "export_records",
    "gc_paused",
    "new_run_dir",
]
