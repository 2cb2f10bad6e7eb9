"""Time to build the HTML report from a run store of 100,000 turn records, and its size.

The store is synthesised through the real RunStore API with the test suite's generator
(tests/helpers/synthetic_runs.py): every family of the built-in suite, the own, gold and
single variants, instruction checks, up to 30 turns per conversation and long turn texts,
about 1 % failed turns and 0.5 % failed scores. The timed part is what `turnscope report`
does: open the store, decode every record, analyse (1,000 bootstrap resamples), draw the
charts and write report.html. Then `turnscope runs` lists the run twice: once working its
headline out from the scores (a run played before the headline was stored in its meta) and
once reading the stored headline, as it does for every run played since.

    python benchmarks/report.py [--records 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from typer.testing import CliRunner

from helpers.synthetic_runs import synthetic_suite_run, write_run
from turnscope.analysis import quick_headline_scores
from turnscope.cli import app
from turnscope.cli._app import HEADLINE_META
from turnscope.report import write_run_report
from turnscope.store import RunStore

TARGET_SECONDS = 10.0
BUDGET_MB = 10.0
RECORDS_PER_ITEM_INDEX = 170  # records one index of every family yields at max_turns=30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--words", type=int, default=60, help="words per user turn and answer")
    parser.add_argument("--keep", type=Path, help="write the run here and keep it")
    args = parser.parse_args()

    started = time.perf_counter()
    per_family = args.records // RECORDS_PER_ITEM_INDEX + 20
    items, records = synthetic_suite_run(per_family, max_turns=30, words=args.words, seed=0)
    if len(records) < args.records:
        sys.exit(f"the generator gave {len(records)} records, fewer than {args.records}")
    records = records[: args.records]
    n_items = len({r.item_id for r in records})
    workdir = Path(tempfile.mkdtemp(prefix="turnscope-report-bench-"))
    run_dir = args.keep or workdir / "run"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    write_run(run_dir, items, records)
    store_mb = (run_dir / "run.sqlite").stat().st_size / 1e6
    print(
        f"synthesised {len(records)} records of {n_items} items "
        f"({store_mb:.1f} MB store) in {time.perf_counter() - started:.1f} s"
    )

    # Time the build as `turnscope report` runs it: without the synthesis's objects alive.
    del items, records
    gc.collect()
    t0, cpu0 = time.perf_counter(), time.process_time()
    store = RunStore.open(run_dir)
    try:
        path = write_run_report(store)
    finally:
        store.close()
    t1, cpu1 = time.perf_counter(), time.process_time()
    size_mb = path.stat().st_size / 1e6
    print(f"report: {path}")
    print(f"RESULT report_build_seconds={t1 - t0:.3f}")
    print(f"RESULT report_build_vs_target={(t1 - t0) / TARGET_SECONDS:.3f}")
    # CPU time of this process: what the build costs when other work shares the cores.
    print(f"RESULT report_build_cpu_seconds={cpu1 - cpu0:.3f}")
    print(f"RESULT report_html_mb={size_mb:.3f}")
    print(f"RESULT report_html_vs_budget={size_mb / BUDGET_MB:.3f}")
    print(f"RESULT runs_listing_from_scores_seconds={_time_runs(run_dir):.3f}")
    store = RunStore.open(run_dir)
    try:
        headline = quick_headline_scores(store.turn_scores(), store.items())
        store.set_meta(HEADLINE_META, {c: h.model_dump() for c, h in headline.items()})
    finally:
        store.close()
    print(f"RESULT runs_listing_stored_seconds={_time_runs(run_dir):.3f}")
    if args.keep is None:
        shutil.rmtree(workdir)


def _time_runs(run_dir: Path) -> float:
    """Seconds `turnscope runs` takes to list the runs directory holding `run_dir`."""
    started = time.perf_counter()
    result = CliRunner().invoke(app, ["runs", "--runs-dir", str(run_dir.parent)])
    elapsed = time.perf_counter() - started
    if result.exit_code != 0:
        sys.exit(f"turnscope runs failed: {result.output}")
    return elapsed


if __name__ == "__main__":
    main()
