"""Watching a run directory that another process is writing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from turnscope.store import RunStore, StoreError


def committed(runs: Path) -> tuple[Path | None, int]:
    """The run directory (once created) and the number of turns it has committed."""
    # The response cache lives in runs/.cache: never mistake it for the run.
    dirs = (
        [p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")]
        if runs.is_dir()
        else []
    )
    if not dirs:
        return None, 0
    try:
        store = RunStore.open(dirs[0])
    except StoreError:
        return dirs[0], 0  # created, schema not written yet
    try:
        return dirs[0], store.answered_count()
    except sqlite3.OperationalError:
        return dirs[0], 0
    finally:
        store.close()
