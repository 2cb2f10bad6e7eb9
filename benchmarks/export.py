"""Time and memory of `turnscope export` in every format, and whether the exports stream.

The store is synthesised through the real RunStore API with the test suite's generator
(tests/helpers/synthetic_runs.py): every family of the built-in suite, the own, gold and
single conditions, instruction checks, about 1 % failed turns; two judges' judgments on every
fifth target turn. Each format is timed on the whole run (wall seconds, records per second,
output size). Streaming is measured with tracemalloc (Python allocations only; pyarrow's own
buffers are not counted): the peak heap of an export of the whole run divided by the peak of
the same export of a run a quarter its size. About 1 means the export holds a bounded amount
at a time; about 4 means it holds the run.

    python benchmarks/export.py [--records 20000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.export_runs import judgment
from helpers.synthetic_runs import synthetic_suite_run, write_run
from turnscope.export import write_csv, write_eee, write_inspect, write_jsonl, write_parquet
from turnscope.store import RunStore

RECORDS_PER_ITEM_INDEX = 60  # records one index of every family yields at max_turns=12
JUDGES = ("openai:judge-a@http://127.0.0.1:1/v1", "openai:judge-b@http://127.0.0.1:1/v1")


def make_run(path: Path, records: int) -> int:
    """A run of about `records` records with judgments; returns the records written."""
    items, made = synthetic_suite_run(records // RECORDS_PER_ITEM_INDEX + 5, words=40, seed=0)
    made = made[:records]
    kept = {r.item_id for r in made}
    write_run(path, [i for i in items if i.id in kept], made)
    store = RunStore.open(path)
    try:
        for n, record in enumerate(made):
            if n % 5 == 0 and record.error is None:
                for judge in JUDGES:
                    store.commit_judgment(
                        record.item_id, record.condition, record.sample, record.turn, 0,
                        judgment(judge, 0.7 if judge == JUDGES[0] else None),
                    )  # fmt: skip
    finally:
        store.close()
    return len(made)


def _text(write: Callable[..., int], per: str) -> Callable[[RunStore, Path], object]:
    def run(store: RunStore, out: Path) -> object:
        with out.open("w", encoding="utf-8", newline="") as handle:
            return write(store, per, handle)

    return run


FORMATS: dict[str, Callable[[RunStore, Path], object]] = {
    "jsonl_turn": _text(write_jsonl, "turn"),
    "csv_turn": _text(write_csv, "turn"),
    "parquet_turn": lambda store, out: write_parquet(store, "turn", out),
    "jsonl_conversation": _text(write_jsonl, "conversation"),
    "csv_conversation": _text(write_csv, "conversation"),
    "eee": write_eee,
    "inspect": lambda store, out: write_inspect(store, out.with_suffix(".eval")),
}


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    target = path if path.exists() else path.with_suffix(".eval")
    return target.stat().st_size


def _peak(run_dir: Path, fmt: str, out: Path) -> float:
    store = RunStore.open(run_dir)
    try:
        tracemalloc.start()
        FORMATS[fmt](store, out)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        store.close()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="turnscope-export-bench-"))
    try:
        full = workdir / "full"
        quarter = workdir / "quarter"
        records = make_run(full, args.records)
        small = make_run(quarter, args.records // 4)
        print(f"run: {records} records (and {small} for the quarter run) in {workdir}")
        for fmt, write in FORMATS.items():
            out = workdir / f"out-{fmt}"
            store = RunStore.open(full)
            try:
                started = time.perf_counter()
                write(store, out)
                seconds = time.perf_counter() - started
            finally:
                store.close()
            print(f"RESULT export_{fmt}_seconds={seconds:.3f}")
            print(f"RESULT export_{fmt}_records_per_second={records / seconds:.0f}")
            print(f"RESULT export_{fmt}_mib={_size(out) / 2**20:.2f}")
        for fmt in ("jsonl_turn", "parquet_turn", "csv_conversation", "eee", "inspect"):
            whole = _peak(full, fmt, workdir / f"peak-{fmt}")
            part = _peak(quarter, fmt, workdir / f"peak-small-{fmt}")
            print(f"RESULT export_{fmt}_peak_heap_mib={whole:.1f}")
            print(f"RESULT export_{fmt}_peak_heap_full_vs_quarter={whole / part:.2f}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
