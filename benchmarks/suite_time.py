"""Wall time of chosen tests, as they are now and as they were at an earlier commit.

The test suite must stay within CI's time limit, and a shared machine makes single timings
noisy. This script extracts `tests/` and `pyproject.toml` of REV (default: the merge base
with main) into a temporary directory, then runs every given test node id once from there
("before") and once from the working tree ("after"), interleaved and repeated, against the
working tree's `src/` both times: only the tests differ. Each run is its own pytest process;
its wall time is measured around it, so setup and teardown (session fixtures: a server
started, a model loaded) count.

Prints, per node id, the median wall time before and after and their ratio; RESULT
before_s and after_s (sums of the medians), RESULT ratio (after / before) and RESULT
load_avg (the 1-minute load average at the end: above the core count, timings are inflated).

    python benchmarks/suite_time.py tests/cli/test_hostile_runs.py::test_x ... [--rev REV]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def extract(rev: str, into: Path) -> None:
    """`tests/` and `pyproject.toml` as they were at `rev`."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev, "tests", "pyproject.toml"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def timed(node: str, root: Path, timeout: float) -> float | None:
    """Wall seconds of one pytest process running `node` from `root`; None if it failed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", node],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    elapsed = time.monotonic() - start
    return elapsed if done.returncode == 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("nodes", nargs="+", help="test node ids, relative to the repository")
    parser.add_argument("--rev", default=None, help="the earlier commit (default: merge base)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900.0, help="per pytest process")
    args = parser.parse_args()
    rev = (
        args.rev
        or subprocess.run(
            ["git", "merge-base", "HEAD", "main"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    before_total = after_total = 0.0
    with tempfile.TemporaryDirectory(prefix="test-time-") as tmp:
        old = Path(tmp)
        extract(rev, old)
        print(f"before: tests at {rev[:10]}; after: the working tree; src: the working tree")
        for node in args.nodes:
            before: list[float] = []
            after: list[float] = []
            for _ in range(args.repeats):
                for root, into in ((old, before), (ROOT, after)):
                    seconds = timed(node, root, args.timeout)
                    if seconds is None:
                        print(f"{node}: failed or timed out from {root}", flush=True)
                        continue
                    into.append(seconds)
            if not before or not after:
                continue
            b, a = statistics.median(before), statistics.median(after)
            before_total += b
            after_total += a
            print(f"{b:7.1f} s -> {a:7.1f} s  x{a / b:.2f}  {node}", flush=True)
    print(f"RESULT before_s={before_total:.1f}")
    print(f"RESULT after_s={after_total:.1f}")
    if before_total:
        print(f"RESULT ratio={after_total / before_total:.2f}")
    print(f"RESULT load_avg={os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
