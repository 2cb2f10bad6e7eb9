"""`--workers N`: the embedded model in N processes, through the real CLI.

Greedy answers must not depend on how many processes play them; a worker killed mid-run is
started again and the run completes with every turn once; a parent killed with -9 leaves no
worker behind, and --resume finishes the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import assert_clean_failure, run_cli
from helpers.store import committed
from helpers.suites import write_suite
from turnscope.core import TurnRecord
from turnscope.store import RunStore

pytestmark = pytest.mark.timeout(300)

TOPICS = ("cats", "rivers", "bread", "trains")
TURNS = 3


def suite_items() -> list[dict[str, Any]]:
    """Four items of three turns, each opening with a user message of its own."""
    return [
        {
            "id": f"w-{topic}",
            "turns": [
                {"user": f"One short fact about {topic}."},
                {"user": "Another one."},
                {"user": "Shorter."},
            ],
        }
        for topic in TOPICS
    ]


EVERY_TURN = Counter({(f"w-{topic}", turn): 1 for topic in TOPICS for turn in range(1, TURNS + 1)})


def command(suite: Path, runs: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "turnscope.cli", "run", "-s", str(suite), "--max-tokens", "8",
        "--no-cache", "--runs-dir", str(runs), *extra,
    ]  # fmt: skip


def records_of(runs: Path) -> list[TurnRecord]:
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    store = RunStore.open(run_dir)
    try:
        return list(store.records())
    finally:
        store.close()


def children(pid: int) -> list[int]:
    """The live child processes of `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The fields after the command name (which may hold spaces) start with state, ppid.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def start_and_wait(cmd: list[str], runs: Path, log: Path, turns: int) -> subprocess.Popen[bytes]:
    """Start the run; return once it has committed `turns` turns and both workers run."""
    with log.open("w") as handle:
        process = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while committed(runs)[1] < turns or len(children(process.pid)) < 2:
        assert process.poll() is None, f"the run ended too early:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no progress within 120 s:\n{log.read_text()}"
        time.sleep(0.02)
    return process


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_suite(tmp_path_factory.mktemp("workers") / "workers.yaml", suite_items())


def test_two_workers_give_the_records_of_one(suite: Path, tmp_path: Path) -> None:
    answers = {}
    for workers in ("1", "2"):
        runs = tmp_path / f"runs-{workers}"
        result = subprocess.run(
            command(suite, runs, "--workers", workers),
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        records = records_of(runs)
        assert Counter((r.item_id, r.turn) for r in records) == EVERY_TURN
        assert all(r.error is None for r in records)
        answers[workers] = {(r.item_id, r.turn): r.response for r in records}
    assert answers["2"] == answers["1"]
    # Both workers played, each conversation on one of them, none moved between them.
    assert "restarted: 0; history sent again: 0" in result.stderr
    served = {(r.item_id, r.served_by) for r in records_of(tmp_path / "runs-2")}
    assert len(served) == len(TOPICS) and {w for _, w in served} == {"worker-1", "worker-2"}
    turns = Counter(r.served_by for r in records_of(tmp_path / "runs-2"))
    assert all(r.served_by is None for r in records_of(tmp_path / "runs-1"))

    (run_dir,) = [p for p in (tmp_path / "runs-2").iterdir() if p.is_dir()]
    code, out, _ = run_cli("show", str(run_dir))
    assert code == 0
    assert (
        f"served by: worker-1 {turns['worker-1']} turns ({turns['worker-1']} requests, 0 errors); "
        f"worker-2 {turns['worker-2']} turns ({turns['worker-2']} requests, 0 errors)"
    ) in " ".join(out.split())
    code, out, _ = run_cli("runs", "--runs-dir", str(tmp_path / "runs-2"), "--json")
    (listed,) = json.loads(out)
    assert listed["replicas"]["by_replica"]["worker-1"] == {
        "requests": turns["worker-1"],
        "errors": 0,
    }
    assert listed["replicas"]["kind"] == "workers"


def test_a_killed_worker_is_restarted_and_the_run_completes(suite: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    log = tmp_path / "run.log"
    process = start_and_wait(command(suite, runs, "--workers", "2"), runs, log, 2)
    try:
        victim = children(process.pid)[0]
        os.kill(victim, signal.SIGKILL)
        assert process.wait(timeout=240) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    records = records_of(runs)
    assert Counter((r.item_id, r.turn) for r in records) == EVERY_TURN
    assert all(r.response is not None and r.error is None for r in records)
    assert "restarted: 1;" in log.read_text()
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    code, out, _ = run_cli("show", str(run_dir))
    assert code == 0 and "restarted 1" in out


def test_kill_9_of_the_parent_leaves_no_worker_and_resume_finishes(
    suite: Path, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    log = tmp_path / "run.log"
    process = start_and_wait(command(suite, runs, "--workers", "2"), runs, log, 2)
    workers = children(process.pid)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "a worker outlived its parent by 10 s"
        time.sleep(0.05)
    before = {(r.item_id, r.turn): r for r in records_of(runs)}
    assert 2 <= len(before) < sum(EVERY_TURN.values())

    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    resumed = subprocess.run(
        [sys.executable, "-m", "turnscope.cli", "run", "--resume", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    records = records_of(runs)
    assert Counter((r.item_id, r.turn) for r in records) == EVERY_TURN
    assert all(r.response is not None and r.error is None for r in records)
    # What was committed before the kill stays as it was; the rest was played by the workers.
    after = {(r.item_id, r.turn): r for r in records}
    assert all(after[key] == record for key, record in before.items())
    assert "workers: worker-1 " in resumed.stderr


@pytest.mark.parametrize("value", ["0", "-1"])
def test_workers_below_one_is_one_error_line(value: str, tmp_path: Path) -> None:
    code, _, err = run_cli("run", "--workers", value, "--runs-dir", str(tmp_path / "runs"))
    assert_clean_failure(code, err, "--workers", single_line=True)
    assert not (tmp_path / "runs").exists()
