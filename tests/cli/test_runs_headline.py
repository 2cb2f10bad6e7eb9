"""`turnscope runs` lists the headline per conversation (key turns), stored or worked out."""

from __future__ import annotations

from pathlib import Path

from helpers.cli import run_cli
from helpers.synthetic_runs import make_item, make_record, write_run
from turnscope.cli._app import HEADLINE_META
from turnscope.store import RunStore


def _recollection_run(run_dir: Path) -> Path:
    # Distractor turns 1-2 fail, the key turn 3 is right: pooled over turns that is 0.333
    # (what `runs` used to print), per conversation (key turns) it is 1.000.
    items = [make_item(f"r{n}", "recollection", 3, probe_turns=[3]) for n in range(6)]
    records = [make_record(f"r{n}", t, 1.0 if t == 3 else 0.0) for n in range(6) for t in (1, 2, 3)]
    return write_run(run_dir, items, records)


def test_runs_works_out_the_headline_of_a_run_without_one(tmp_path: Path) -> None:
    _recollection_run(tmp_path / "runs" / "old")
    code, out, err = run_cli("runs", "--runs-dir", str(tmp_path / "runs"))
    assert code == 0, err
    assert "1.000 (n=6)" in out and "0.333" not in out
    assert "per conversation (key turns)" in out


def test_runs_reads_the_stored_headline_and_marks_small_samples(tmp_path: Path) -> None:
    run_dir = _recollection_run(tmp_path / "runs" / "new")
    store = RunStore.open(run_dir)
    try:
        # What the end of a run stores; `runs` must show it, not recompute.
        store.set_meta(HEADLINE_META, {"gold": {"mean": 0.25, "n": 4}})
    finally:
        store.close()
    code, out, err = run_cli("runs", "--runs-dir", str(tmp_path / "runs"))
    assert code == 0, err
    assert "0.250 (gold, n=4, small)" in out
    # Resumed since (marked running by a process that is gone): the stored figure may be
    # stale, so it is worked out again.
    store = RunStore.open(run_dir)
    try:
        store.set_meta("status", "running")
    finally:
        store.close()
    code, out, err = run_cli("runs", "--runs-dir", str(tmp_path / "runs"))
    assert code == 0, err
    assert "1.000 (n=6)" in out and "0.250" not in out


def test_show_lists_each_conversation_s_key_turn_score(tmp_path: Path) -> None:
    run_dir = _recollection_run(tmp_path / "runs" / "old")
    code, out, err = run_cli("show", str(run_dir))
    assert code == 0, err
    rows = [line for line in out.splitlines() if "recollection" in line]
    assert len(rows) == 6 and all("1.000" in row and "0.333" not in row for row in rows)
