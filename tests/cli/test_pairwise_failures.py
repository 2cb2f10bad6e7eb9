"""Pairwise judging where every comparison fails: the errors are shown whole, `show
--pairwise` reads them, and the leaderboard says how many comparisons were made and failed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import assert_clean_failure, run_cli
from helpers.servers import FakeOpenAIServer
from helpers.synthetic_runs import make_item, make_record, write_run

TAIL = "and that is the END-OF-THE-MESSAGE"
LONG_ERROR = "the judge endpoint refused the request because " + "of a reason " * 10 + TAIL
"""Longer than the 120 characters error lists used to cut at (and within the 300 to which the
HTTP client bounds a server's message)."""


def _refuse(messages: list[dict[str, Any]]) -> tuple[int, str]:
    return 400, LONG_ERROR


@pytest.fixture
def refusing_judge() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(refuse=_refuse) as server:
        yield server


def _runs(root: Path) -> list[Path]:
    items = [make_item(f"q{n}", "knowledge", 1) for n in range(3)]
    return [
        write_run(root / name, items, [make_record(f"q{n}", 1, 1.0) for n in range(3)], model=name)
        for name in ("run-a", "run-b", "run-c")
    ]


def test_failed_comparisons_are_counted_shown_whole_and_readable(
    tmp_path: Path, refusing_judge: FakeOpenAIServer
) -> None:
    root = tmp_path / "runs"
    runs = _runs(root)
    judge = f"openai:judge@{refusing_judge.base_url}"
    code, out, err = run_cli(
        "leaderboard", *map(str, runs), "--judge", judge, "--judge-attempts", "1"
    )
    assert code == 2
    # 3 pairs of runs x 3 turns: 9 comparisons were made; the message used to be
    # "no comparisons for model(s) ...", as if none had been.
    assert "9 comparisons made, 9 failed" in " ".join(err.split())
    assert "turnscope show RUN_DIR --pairwise" in " ".join(err.split())
    assert len([line for line in err.splitlines() if line.startswith("error: ")]) == 1
    # The judge error table shows the message whole, not cut at 120 characters.
    assert TAIL in " ".join(out.split())
    assert "turnscope show RUN --pairwise" in out

    code, out, err = run_cli("show", str(runs[0]), "--pairwise", "--item", "q1")
    assert code == 0, err
    flat = " ".join(out.split())
    assert "q1 | own | sample 0 | turn 1" in flat
    assert "no outcome" in flat and TAIL in flat
    assert "A shown first" in flat and "B shown first" in flat
    assert "2 comparisons, 2 without an outcome" in flat  # run-a against run-b and run-c


def test_show_pairwise_without_comparisons_says_so(tmp_path: Path) -> None:
    (run,) = _runs(tmp_path / "runs")[:1]
    code, out, err = run_cli("show", str(run), "--pairwise")
    assert code == 0, err
    assert "no pairwise comparisons" in out and "pairwise.sqlite does not exist" in out


def test_show_pairwise_with_a_damaged_store_fails_in_one_line(tmp_path: Path) -> None:
    (run,) = _runs(tmp_path / "runs")[:1]
    (tmp_path / "runs" / "pairwise.sqlite").write_bytes(b"not a database" * 100)
    code, _, err = run_cli("show", str(run), "--pairwise")
    assert_clean_failure(code, err, "the pairwise store is damaged", single_line=True)
