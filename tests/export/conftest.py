"""The export tests' run: see helpers/export_runs.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.export_runs import write_export_run
from turnscope.store import RunStore


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_export_run(tmp_path / "runs" / "r1")


@pytest.fixture
def store(run_dir: Path) -> Iterator[RunStore]:
    opened = RunStore.open(run_dir)
    yield opened
    opened.close()
