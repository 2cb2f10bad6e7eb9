"""Pairwise verdicts between runs: one SQLite file per runs directory (`pairwise.sqlite`).

A comparison belongs to two runs, not to either one, so it lives beside them. Runs are named
by their directory name; a pair is always stored with the names in sorted order, and "a"
in an outcome is the first of the two."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from turnscope.core import Condition, PairJudgment, renamed_field
from turnscope.store.run_store import private_file

PAIRWISE_FILE = "pairwise.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pairwise (
    run_a TEXT NOT NULL, run_b TEXT NOT NULL, item_id TEXT NOT NULL, condition TEXT NOT NULL,
    sample INTEGER NOT NULL, turn INTEGER NOT NULL, judge TEXT NOT NULL,
    outcome TEXT, consistent INTEGER, error TEXT, data TEXT NOT NULL,
    PRIMARY KEY (run_a, run_b, item_id, condition, sample, turn, judge)
);
"""
# Files written before conditions replaced the closed set of variants name the column so.
_MIGRATE = "ALTER TABLE pairwise RENAME COLUMN variant TO condition"


class PairRecord(BaseModel):
    """One judge's comparison of two runs' answers to the same turn."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_a: str
    """Directory name of the first run (the smaller name of the two)."""
    run_b: str
    """Directory name of the second run."""
    item_id: str
    """The item both runs played."""
    condition: Condition
    """The condition both answers were played under."""
    sample: int
    """The sample index both answers come from."""
    turn: int
    """The 1-based turn compared."""
    judge: str
    """The judge's model spec."""
    judgment: PairJudgment
    """Both orders' judgments (raw text, verdicts) and the resolved outcome."""

    @model_validator(mode="before")
    @classmethod
    def _older_field_names(cls, data: Any) -> Any:
        return renamed_field(data, "variant", "condition")


class PairwiseStore:
    """Read and write pairwise verdicts; every `commit` is durable when it returns."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        private_file(path)  # it holds both runs' answers
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(pairwise)")}
        if "variant" in columns:
            self._db.execute(_MIGRATE)

    def close(self) -> None:
        self._db.close()

    def commit(self, record: PairRecord) -> None:
        j = record.judgment
        self._db.execute(
            "INSERT OR REPLACE INTO pairwise (run_a, run_b, item_id, condition, sample, turn, "
            "judge, outcome, consistent, error, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.run_a,
                record.run_b,
                record.item_id,
                record.condition,
                record.sample,
                record.turn,
                record.judge,
                j.outcome,
                j.consistent,
                j.error,
                record.model_dump_json(),
            ),
        )

    def records(self, run_a: str | None = None, run_b: str | None = None) -> Iterator[PairRecord]:
        """Stored comparisons, all of them or those of one pair of runs (in sorted order)."""
        query = "SELECT data FROM pairwise"
        args: tuple[str, ...] = ()
        if run_a is not None and run_b is not None:
            query += " WHERE run_a = ? AND run_b = ?"
            args = (run_a, run_b)
        query += " ORDER BY run_a, run_b, item_id, condition, sample, turn, judge"
        for (data,) in self._db.execute(query, args):
            yield PairRecord.model_validate_json(data)
