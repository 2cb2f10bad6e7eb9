"""Peak memory of `turnscope run` (the starter suite by default) with the embedded model.

Runs the real command in a child process (fresh runs directory, no cache) and reads the
child's peak resident set size from the kernel. Target: at most 1.5 GB.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="starter")
    parser.add_argument("extra", nargs="*", help="more arguments for `turnscope run`")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as runs:
        env = {**os.environ, "TURNSCOPE_RUNS_DIR": runs}
        started = time.perf_counter()
        done = subprocess.run(
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
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"turnscope run failed ({done.returncode}):\n{done.stderr}")
    # ru_maxrss is in KiB on Linux.
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"turnscope run --suite {args.suite}: {wall:.1f}s wall, peak RSS {peak_mb:.0f} MB")
    print(f"RESULT peak_rss_mb={peak_mb:.0f}")
    print(f"RESULT peak_rss_vs_budget={peak_mb / 1536:.3f}")
    print(f"RESULT wall_seconds={wall:.1f}")


if __name__ == "__main__":
    main()
