"""`turnscope report` and `turnscope compare`, good and bad inputs; `run` writes report.html."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cli import assert_clean_failure, run_cli
from helpers.synthetic_runs import make_item, make_record, synthetic_suite_run, write_run


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, Path]:
    items, records = synthetic_suite_run(3, seed=1)
    other_items, other_records = synthetic_suite_run(3, seed=2)
    return (
        write_run(tmp_path / "runs" / "run-a", items, records),
        write_run(tmp_path / "runs" / "run-b", other_items, other_records),
    )


def test_report_rebuilds_report_html(two_runs: tuple[Path, Path]) -> None:
    run_dir = two_runs[0]
    code, out, err = run_cli("report", str(run_dir))
    assert code == 0, err
    path = run_dir / "report.html"
    assert path.is_file() and str(path) in out.replace("\n", "")
    assert "<svg" in path.read_text(encoding="utf-8")


def test_report_to_another_file(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.html"
    code, _, err = run_cli("report", str(two_runs[0]), "-o", str(target))
    assert code == 0, err
    assert target.is_file() and not (two_runs[0] / "report.html").exists()


def test_report_missing_run_dir(tmp_path: Path) -> None:
    code, _, err = run_cli("report", str(tmp_path / "nope"))
    assert_clean_failure(code, err, "no such run directory")


def test_report_not_a_run_dir(tmp_path: Path) -> None:
    code, _, err = run_cli("report", str(tmp_path))
    assert_clean_failure(code, err, "not a turnscope run directory")


def test_report_unwritable_output(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    code, _, err = run_cli("report", str(two_runs[0]), "-o", str(tmp_path / "no" / "r.html"))
    assert_clean_failure(code, err, "cannot write")


def test_compare_prints_the_paired_table_and_writes_html(two_runs: tuple[Path, Path]) -> None:
    run_a, run_b = two_runs
    code, out, err = run_cli("compare", str(run_a), str(run_b), "--resamples", "200")
    assert code == 0, err
    assert "run-b minus run-a" in out and "Wilcoxon" in out
    for family in ("recollection", "pushback", "feedback", "all"):
        assert family in out
    assert "turn errors" in out and "scorer errors" in out
    # Written in the baseline run's directory, not among the runs.
    target = run_a / "compare-run-a-vs-run-b.html"
    assert str(target) in out.replace("\n", "")
    assert not list(run_b.parent.glob("*.html"))
    html = target.read_text(encoding="utf-8")
    assert 'id="chart-difference-own"' in html and "<svg" in html


def test_compare_lists_the_most_changed_conversations_side_by_side(tmp_path: Path) -> None:
    items = [make_item(f"r{n}", "recollection", 2, probe_turns=[2]) for n in range(8)]
    # r3 forgets its fact in B; r5 recalls it in B; the rest do not change.
    a = [
        make_record(f"r{n}", t, 0.0 if (n == 5 and t == 2) else 1.0)
        for n in range(8)
        for t in (1, 2)
    ]
    b = [
        make_record(f"r{n}", t, 0.0 if (n == 3 and t == 2) else 1.0, response=f"B says {n}.{t}")
        for n in range(8)
        for t in (1, 2)
    ]
    run_a = write_run(tmp_path / "runs" / "a", items, a)
    run_b = write_run(tmp_path / "runs" / "b", items, b)
    code, out, err = run_cli("compare", str(run_a), str(run_b), "--resamples", "100")
    assert code == 0, err
    assert "conversations whose score (key turns) changed most" in out
    rows = [line for line in out.splitlines() if " r3 " in line or " r5 " in line]
    assert any("-1.000" in row for row in rows) and any("+1.000" in row for row in rows)
    html = (run_a / "compare-a-vs-b.html").read_text(encoding="utf-8")
    changed = html.split("<h2>Conversations that changed most</h2>", 1)[1]
    assert changed.count('<details class="conversation">') == 2  # only r3 and r5
    assert changed.count('<div class="side-by-side">') == 2
    assert "B says 3.2" in changed and "answer to 2" in changed  # both runs' answers
    assert '<span class="key">key turn</span>' in changed


def test_compare_with_output(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    target = tmp_path / "ab.html"
    code, _, err = run_cli("compare", *map(str, two_runs), "-o", str(target))
    assert code == 0, err
    assert target.is_file()


def test_compare_missing_run(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    code, _, err = run_cli("compare", str(two_runs[0]), str(tmp_path / "gone"))
    assert_clean_failure(code, err, "gone: no such run directory")


def test_compare_not_a_run(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    code, _, err = run_cli("compare", str(tmp_path), str(two_runs[1]))
    assert_clean_failure(code, err, "not a turnscope run directory")


def test_compare_runs_with_no_common_items(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", [make_item("x", "recollection", 1)], [make_record("x", 1, 1.0)])
    b = write_run(tmp_path / "b", [make_item("y", "recollection", 1)], [make_record("y", 1, 1.0)])
    code, _, err = run_cli("compare", str(a), str(b))
    assert_clean_failure(code, err, "no scored item in common")


@pytest.mark.slow
def test_run_writes_report_html(tmp_path: Path, mini_suite: Path, gguf_path: Path) -> None:
    runs = tmp_path / "runs"
    done = subprocess.run(
        [sys.executable, "-m", "turnscope.cli", "run", "-s", str(mini_suite), "--max-tokens", "4"],
        env={**os.environ, "TURNSCOPE_RUNS_DIR": str(runs)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")]
    report = run_dir / "report.html"
    assert report.is_file()
    assert f"report: {report}" in done.stdout.replace("\n", "")
    assert "multi-turn figures" in done.stdout and "score (own): " in done.stdout
    assert "mini-recall" in report.read_text(encoding="utf-8")
