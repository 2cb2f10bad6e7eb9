"""Peak memory of `turnscope run` (the starter suite by default) with the embedded model.

Runs the real command in a child process (fresh runs directory, no cache). The run may start
embedded worker processes (one per physical core by default), so besides the largest single
process's peak resident set size (from the kernel) it samples, every 0.2 s, the resident memory
of the run's whole process tree (the run and its workers) and reports the largest sum.
Target: the tree at most 1.5 GB.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE_S = 0.2
PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss(root: int) -> int:
    """Bytes resident in `root` and every process descending from it (from /proc)."""
    parents: dict[int, int] = {}
    resident: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            statm = (entry / "statm").read_text().split()
        except OSError:
            continue  # gone meanwhile
        # The command name in parentheses may hold spaces: the fields follow its last ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        resident[int(entry.name)] = int(statm[1]) * PAGE
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(resident.get(pid, 0) for pid in tree)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="starter")
    parser.add_argument("extra", nargs="*", help="more arguments for `turnscope run`")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as runs, tempfile.TemporaryFile("w+") as errors:
        env = {**os.environ, "TURNSCOPE_RUNS_DIR": runs}
        started = time.perf_counter()
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "turnscope.cli",
                "run",
                "--suite",
                args.suite,
                "--no-cache",
                *args.extra,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            text=True,
        )
        peak_tree = 0
        while child.poll() is None:
            peak_tree = max(peak_tree, tree_rss(child.pid))
            time.sleep(SAMPLE_S)
        wall = time.perf_counter() - started
        errors.seek(0)
        said = errors.read()
    if child.returncode != 0:
        sys.exit(f"turnscope run failed ({child.returncode}):\n{said}")
    # ru_maxrss is in KiB on Linux.
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    tree_mb = peak_tree / (1 << 20)
    print(said.splitlines()[0] if said else "")
    print(
        f"turnscope run --suite {args.suite}: {wall:.1f}s wall, peak RSS of one process "
        f"{peak_mb:.0f} MB, of the run's process tree {tree_mb:.0f} MB (sampled)"
    )
    print(f"RESULT peak_rss_mb={peak_mb:.0f}")
    print(f"RESULT peak_tree_rss_mb={tree_mb:.0f}")
    print(f"RESULT peak_rss_vs_budget={tree_mb / 1536:.3f}")
    print(f"RESULT wall_seconds={wall:.1f}")


if __name__ == "__main__":
    main()
