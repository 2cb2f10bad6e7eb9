"""`--json` on `runs` and `compare`: the same figures the tables show, as data, on stdout
alone (`leaderboard --json` needs a judge: tests/e2e/test_judge_embedded.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.cli import run_cli
from helpers.synthetic_runs import synthetic_suite_run, write_run
from turnscope.analysis import analyse, compare_runs
from turnscope.store import RunStore


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, Path]:
    items, records = synthetic_suite_run(3, seed=1)
    other_items, other_records = synthetic_suite_run(3, seed=2)
    return (
        write_run(tmp_path / "runs" / "run-a", items, records),
        write_run(tmp_path / "runs" / "run-b", other_items, other_records),
    )


def test_runs_json_lists_every_run_and_the_unreadable_one(two_runs: tuple[Path, Path]) -> None:
    root = two_runs[0].parent
    broken = root / "run-c"
    broken.mkdir()
    (broken / "run.sqlite").write_bytes(b"not sqlite" * 100)
    code, out, err = run_cli("runs", "--runs-dir", str(root), "--json")
    assert code == 0, err
    runs = json.loads(out)
    assert [r["run"] for r in runs] == ["run-a", "run-b", "run-c"]
    store = RunStore.open(two_runs[0])
    try:
        assert runs[0]["turns"] == store.turn_count()
        # The headline is the one every figure uses: the own condition's score per
        # conversation (key turns), as the analysis gives it.
        analysis = analyse(store.turn_scores(), store.items(), serving=store.serving_scores())
        headline = runs[0]["headline"]
        assert headline["condition"] == "own" and headline["n"] == analysis.overall["own"].n
        assert headline["mean"] == pytest.approx(analysis.overall["own"].mean)
        assert runs[0]["status"] == "finished" and runs[0]["suite"] == "core"
    finally:
        store.close()
    assert "cannot read the run store" in runs[2]["unreadable"]
    code, out, _ = run_cli("runs", "--runs-dir", str(root / "none"), "--json")
    assert code == 0 and json.loads(out) == []


def test_compare_json_is_the_comparison_the_table_shows(
    two_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    run_a, run_b = two_runs
    code, out, err = run_cli("compare", str(run_a), str(run_b), "--json", "--resamples", "200")
    assert code == 0, err
    data = json.loads(out)  # stdout holds the JSON and nothing else
    stores = [RunStore.open(run) for run in two_runs]
    try:
        expected = compare_runs(
            stores[0].turn_scores(),
            stores[0].items(),
            stores[1].turn_scores(),
            stores[1].items(),
            label_a="run-a",
            label_b="run-b",
            resamples=200,
            serving_a=stores[0].serving_scores(),
            serving_b=stores[1].serving_scores(),
        )
    finally:
        for store in stores:
            store.close()
    assert data["comparison"] == json.loads(expected.model_dump_json())
    assert data["a"]["run"] == "run-a" and "by_turn" in data["b"]["analysis"]
    # With --json the HTML is written only when asked for, and its path goes to stderr.
    assert not list(run_b.parent.glob("compare-*.html"))
    target = tmp_path / "ab.html"
    code, out, err = run_cli("compare", str(run_a), str(run_b), "--json", "-o", str(target))
    assert code == 0 and target.is_file() and json.loads(out)["comparison"]
    assert str(target) in err.replace("\n", "")
