"""Content-addressed response cache shared across runs: request key -> completion."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from turnscope.core import Completion


class ResponseCache:
    """A SQLite file of answers keyed by the hash of model, messages, params, seed and sample.

    Only successful answers are stored, so a failure is never replayed from the cache."""

    def __init__(self, path: Path) -> None:
        # Private to its owner: it holds every prompt and answer of every run that used it.
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = path
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, completion TEXT NOT NULL)"
        )

    def get(self, key: str) -> Completion | None:
        row = self._db.execute("SELECT completion FROM responses WHERE key = ?", (key,)).fetchone()
        return Completion.model_validate_json(row[0]) if row else None

    def put(self, key: str, completion: Completion) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO responses (key, completion) VALUES (?, ?)",
            (key, completion.model_dump_json()),
        )

    def close(self) -> None:
        self._db.close()
