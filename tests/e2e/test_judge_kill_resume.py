"""kill -9 during a judge pass, then `turnscope run --resume`: judgments already made are not
asked again; only the missing one is.

The model under test is the real embedded model; the judge is the fault-injection fake as a
scripted judge whose request for one item hangs the first time it is asked (FAULT:hangx1 in
that item's text reaches the judge inside the conversation it is shown). --no-cache makes
every judge request visible to the fake."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.servers import FakeOpenAIServer
from helpers.suites import write_suite
from turnscope.store import RunStore

pytestmark = pytest.mark.timeout(300)

VERDICT = "Fine.\nRating: [[6]]"


def always_six(messages: list[dict[str, Any]], attempt: int) -> str:
    return VERDICT


@pytest.fixture
def judge() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(reply=always_six, hang_s=120.0) as server:
        yield server


def judgment_rows(run_dir: Path) -> int:
    try:
        db = sqlite3.connect(run_dir / "run.sqlite")
        try:
            return int(db.execute("SELECT COUNT(*) FROM judgments").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def test_kill_9_in_a_judge_pass_then_resume_asks_only_missing_judgments(
    tmp_path: Path, gguf_path: Path, judge: FakeOpenAIServer
) -> None:
    items = [
        {"id": name, "turns": [{"user": text, "scorers": [{"type": "judge"}]}]}
        for name, text in [
            ("first", "Name a fruit."),
            ("second", "Name a tree."),
            ("stalled", "Name a bird. FAULT:hangx1"),
        ]
    ]
    suite = write_suite(tmp_path / "judged.yaml", items)
    runs = tmp_path / "runs"
    spec = f"openai:judge@{judge.base_url}"
    args = ["--max-tokens", "4", "--no-cache", "--timeout", "200"]
    env = {**os.environ, "TURNSCOPE_RUNS_DIR": str(runs)}
    command = [sys.executable, "-m", "turnscope.cli", "run", "-s", str(suite), "--judge", spec]
    process = subprocess.Popen(
        [*command, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        run_dir: Path | None = None
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            dirs = [p for p in runs.iterdir() if p.is_dir()] if runs.is_dir() else []
            run_dir = dirs[0] if dirs else None
            hung = any(e.outcome == "hang" for e in judge.exchanges)
            if run_dir is not None and hung and judgment_rows(run_dir) == 2:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the judge pass never reached the stalled judgment")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert run_dir is not None
    before = judge.exchanges
    assert sorted(e.outcome for e in before) == ["hang", "ok", "ok"]

    store = RunStore.open(run_dir)
    try:
        assert store.status() == "stopped"
        assert store.answered_count() == 3  # the play was done; the judge pass was not
    finally:
        store.close()

    resumed = subprocess.run(
        [sys.executable, "-m", "turnscope.cli", "run", "--resume", str(run_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    after = judge.exchanges[len(before) :]
    # Only the judgment that never finished was asked again.
    assert [e.outcome for e in after] == ["ok"]
    assert "Name a bird." in str(after[0].messages)

    store = RunStore.open(run_dir)
    try:
        assert store.status() == "finished"
        judgments = list(store.all_judgments())
        assert len(judgments) == 3
        assert all(j.judgment.verdict is not None for j in judgments)
        for record in store.records():
            assert [s.scorer for s in record.scores] == ["judge:grade"]
            assert record.score == pytest.approx(0.6)
    finally:
        store.close()
