"""Run store (SQLite, one file per run directory)."""

from turnscope.core import gc_paused
from turnscope.store.pairwise_store import PAIRWISE_FILE, PairRecord, PairwiseStore
from turnscope.store.run_store import (
    STORE_FILE,
    ConversationKey,
    ConversationSummary,
    RunStore,
    StoredJudgment,
    StoreError,
    TurnFlags,
    TurnRow,
    TurnScores,
    TurnTotals,
    new_run_dir,
    private_file,
    turn_row,
)

__all__ = [
    "PAIRWISE_FILE",
    "STORE_FILE",
    "ConversationKey",
    "ConversationSummary",
    "PairRecord",
    "PairwiseStore",
    "RunStore",
    "StoreError",
    "StoredJudgment",
    "TurnFlags",
    "TurnRow",
    "TurnScores",
    "TurnTotals",
    "gc_paused",
    "new_run_dir",
    "private_file",
    "turn_row",
]
