"""Whole runs through the `turnscope` command with the real embedded model."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from helpers.cli import run_cli
from helpers.store import committed
from turnscope.cli._app import HEADLINE_META
from turnscope.store import RunStore
from turnscope.suites.builtin import CORE, families

EXPORT_FIELDS = {"item_id", "turn", "condition", "sample", "response", "error", "scores"}


def turnscope(*args: str, runs: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TURNSCOPE_RUNS_DIR": str(runs)}
    return subprocess.run(
        [sys.executable, "-m", "turnscope.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def only_run_dir(runs: Path) -> Path:
    dirs = [p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(dirs) == 1
    return dirs[0]


def test_run_show_export_runs(tmp_path: Path, mini_suite: Path, gguf_path: Path) -> None:
    runs = tmp_path / "runs"
    done = turnscope(
        "run",
        "-s",
        str(mini_suite),
        "-v",
        "own",
        "-v",
        "gold",
        "-v",
        "single",
        "--max-tokens",
        "8",
        runs=runs,
    )
    assert done.returncode == 0, done.stderr
    run_dir = only_run_dir(runs)
    assert "score by turn index, per turn" in done.stdout
    assert "score per family, per conversation (key turns)" in done.stdout
    assert str(run_dir) in done.stdout.replace("\n", "")
    for category in ("recollection", "arithmetic", "knowledge"):
        assert category in done.stdout

    store = RunStore.open(run_dir)
    assert store.turn_count() == 7 + 7 + 3
    # The headline `runs` lists is stored at the end of the run, one per condition.
    assert set(store.meta(HEADLINE_META)) == {"own", "gold", "single"}
    store.close()

    exported = turnscope("export", str(run_dir), runs=runs)
    assert exported.returncode == 0, exported.stderr
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert len(rows) == 17 and all(row.keys() >= EXPORT_FIELDS for row in rows)
    assert {row["condition"] for row in rows} == {"own", "gold", "single"}
    assert all(isinstance(row["scores"], list) and row["scores"] for row in rows)

    # The files, `show` and `runs` only read the store: in-process, sparing a Python start-up
    # each (the JSONL export above went through a real process and its stdout).
    csv_path = tmp_path / "turns.csv"
    code, _, err = run_cli("export", str(run_dir), "-f", "csv", "-o", str(csv_path))
    assert code == 0, err
    with csv_path.open(encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    # CSV gives each scorer a column of its own instead of the JSON list.
    assert len(table) == 17 and set(table[0]) >= (EXPORT_FIELDS - {"scores"}) | {"score:contains"}

    parquet_path = tmp_path / "turns.parquet"
    code, _, err = run_cli("export", str(run_dir), "-f", "parquet", "-o", str(parquet_path))
    assert code == 0, err
    turns = pq.read_table(parquet_path).to_pylist()
    assert len(turns) == 17 and {r["condition"] for r in turns} == {"own", "gold", "single"}
    assert [r["response"] for r in turns] == [r["response"] for r in rows]

    code, shown, err = run_cli("show", str(run_dir), "--item", "mini-recall")
    assert code == 0, err
    assert "My cat is named Pixel" in shown and "assistant:" in shown
    assert "contains=" in shown

    code, listed, err = run_cli("runs", "--runs-dir", str(runs))
    assert code == 0 and run_dir.name in listed and "starter" not in listed, err
    assert "finished" in listed

    again = turnscope("run", "-s", str(mini_suite), "--max-tokens", "8", runs=runs)
    assert again.returncode == 0, again.stderr
    assert "cached: 7" in again.stdout  # identical requests are served from the cache


def test_ctrl_c_stops_cleanly_and_resume_finishes(tmp_path: Path, gguf_path: Path) -> None:
    runs = tmp_path / "runs"
    env = {**os.environ, "TURNSCOPE_RUNS_DIR": str(runs)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "turnscope.cli",
            "run",
            # Long enough that the interrupt lands mid-run (the run plays about 30 turns; a
            # shorter one could end before the signal arrived).
            "--limit",
            "8",
            "--max-tokens",
            "8",
            "--no-cache",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A test session started in the background by a shell inherits SIGINT ignored, and so
        # would the run (Python keeps an ignored SIGINT ignored): give it the default, as a
        # terminal's Ctrl-C finds it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    _, done = committed(runs)
    # Interrupted at its first committed turn: most of the run is still ahead.
    while time.monotonic() < deadline and done < 1:
        time.sleep(0.02)
        _, done = committed(runs)
    assert done >= 1, "the run did not get going"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before the interrupt arrived")
    assert proc.returncode == 130, err
    assert "Resume with:  turnscope run --resume" in err
    run_dir = only_run_dir(runs)
    before = RunStore.open(run_dir)
    finished_before = {(r.item_id, r.condition, r.turn): r.response for r in before.records()}
    before.close()

    resumed = turnscope("run", "--resume", str(run_dir), runs=runs)
    assert resumed.returncode == 0, resumed.stderr
    after = RunStore.open(run_dir)
    records = list(after.records())
    after.close()
    assert len(records) == len({(r.item_id, r.condition, r.turn) for r in records})
    assert all(r.response is not None for r in records)
    for key, response in finished_before.items():
        assert {(r.item_id, r.condition, r.turn): r.response for r in records}[key] == response


def test_default_run_plays_core_with_its_variants(tmp_path: Path, gguf_path: Path) -> None:
    """`turnscope run` with no argument plays the whole core suite under all its conditions
    with its answer budget: the header, the stored plan and the first committed turn show it,
    then the run is stopped (its hundreds of turns at full budget would prove nothing more).
    `turnscope run --limit 10` (with a small budget) plays the first item of each core family
    under the suite's conditions: scripted items in own, gold and single, the feedback item in
    own, the sharded item in full, concat and sharded (scripted user), the compute item with
    and without the python tool, the hidden rule in env; the conversations a protocol does
    not play are counted. `--limit 7` has no sharded, compute or hidden-rule item: their
    conditions fall away."""
    runs = tmp_path / "runs"
    # From an empty directory: no project file (turnscope.toml, pyproject.toml) adds defaults;
    # and without the suite's TURNSCOPE_WORKERS: the quick start's own count of workers.
    plain = {k: v for k, v in os.environ.items() if k != "TURNSCOPE_WORKERS"}
    default = subprocess.Popen(
        [sys.executable, "-m", "turnscope.cli", "run"],
        cwd=tmp_path,
        env={**plain, "TURNSCOPE_RUNS_DIR": str(runs)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        default_dir, done = committed(runs)
        while done < 1:
            assert default.poll() is None, "the default run ended before its first turn"
            assert time.monotonic() < deadline, "no turn committed within 120 s"
            time.sleep(0.05)
            default_dir, done = committed(runs)
    finally:
        default.kill()
        _, header = default.communicate(timeout=30)
    assert default_dir is not None
    store = RunStore.open(default_dir)
    config = store.config()
    planned = list(store.items())
    first = [r for r in store.records() if r.response is not None]
    store.close()
    assert config.suite == "core" and config.params.max_tokens == CORE.max_tokens
    assert config.conditions == (
        "own",
        "gold",
        "single",
        "full",
        "concat",
        "sharded",
        "tools",
        "no-tools",
        "env",
    )
    assert {item.category for item in planned} == set(families()) - {"persona"}
    assert first and all(r.error is None for r in first)
    conditions = ", ".join(config.conditions)
    assert f"llamacpp on core: {len(planned)} items × conditions {conditions} × 1" in header
    assert f"run directory: {default_dir}" in header
    assert re.search(r"embedded model: (in this process|\d+ worker processes) \(", header)
    shutil.rmtree(runs)

    done = turnscope("run", "--limit", "10", "--max-tokens", "8", runs=runs)
    assert done.returncode == 0, done.stderr
    run_dir = only_run_dir(runs)
    store = RunStore.open(run_dir)
    config = store.config()
    assert config.suite == "core" and config.params.max_tokens == 8
    assert config.conditions == (
        "own",
        "gold",
        "single",
        "full",
        "concat",
        "sharded",
        "tools",
        "no-tools",
        "env",
    )
    items = {item.id: item for item in store.items()}
    assert {item.category for item in items.values()} == set(families()) - {"persona"}
    records = list(store.records())
    users = [r for r in store.records(role=None) if r.role == "user"]
    store.close()
    assert all(r.error is None for r in records)
    feedback = [r for r in records if items[r.item_id].protocol == "feedback"]
    assert feedback and {r.condition for r in feedback} == {"own"}
    sharded = [r for r in records if items[r.item_id].protocol == "simulated"]
    assert {r.condition for r in sharded} == {"full", "concat", "sharded"}
    assert users and {u.model.model for u in users} == {"scripted-user"}
    scripted = [r for r in records if items[r.item_id].protocol == "scripted"]
    assert {r.condition for r in scripted} == {"own", "gold", "single"}
    tools = [r for r in records if items[r.item_id].protocol == "tools"]
    assert {r.condition for r in tools} == {"tools", "no-tools"}
    rules = [r for r in records if items[r.item_id].protocol == "environment"]
    assert rules and {r.condition for r in rules} == {"env"}
    assert {r.condition for r in records} == set(config.conditions)
    for item in items.values():
        if item.protocol == "scripted":
            own = sorted(r.turn for r in records if r.item_id == item.id and r.condition == "own")
            assert own == list(range(1, len(item.turns) + 1))
    # A header says what is played and where before the first turn; the bar ends at its total
    # although the feedback conversation records fewer turns than its budget when solved.
    assert re.search(r"llamacpp on core: 10 items × conditions own, gold, single, ", done.stderr)
    assert f"run directory: {run_dir}" in done.stderr
    bars = re.findall(r"turns[^\n]*? (\d+)/(\d+)", done.stderr)
    assert bars and bars[-1][0] == bars[-1][1], done.stderr
    # Each item plays only its own protocol's conditions: the others are grouped in a line.
    stdout = done.stdout.replace("\n", " ")
    assert (
        "left out: 6 items under full, concat, sharded, tools, no-tools, env: not played by "
        "the scripted protocol" in stdout
    )
    for family in set(families()) - {"persona"}:
        assert family in done.stdout
    seven = turnscope("run", "--suite", "core", "--limit", "7", "--max-tokens", "1", runs=runs)
    assert seven.returncode == 0, seven.stderr
