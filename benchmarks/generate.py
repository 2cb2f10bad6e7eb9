"""Generation speed of the built-in `full` suite: items per second, against a 5 s target.

Each repeat builds `full` for a different seed (validated Item models, as `turnscope run -s
full` gets them), then serialises it to JSONL as `turnscope generate` writes it. The figures
are medians over the repeats; the first repeat also pays for imports and warm-up.

Prints RESULT full_generate_seconds (median build time), RESULT items_per_second,
RESULT full_generate_vs_target (build time / 5 s: below 1 meets the target) and
RESULT full_jsonl_seconds (median serialisation time).
"""

from __future__ import annotations

import argparse
import statistics
import time

from turnscope.suites.builtin import FULL, build, to_jsonl

TARGET_S = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    build_times: list[float] = []
    jsonl_times: list[float] = []
    items = turns = 0
    for seed in range(args.repeats):
        started = time.perf_counter()
        suite = build(FULL, seed)
        built = time.perf_counter()
        text = to_jsonl(suite.items)
        done = time.perf_counter()
        build_times.append(built - started)
        jsonl_times.append(done - built)
        items = len(suite.items)
        turns = sum(len(item.turns) for item in suite.items)
        print(
            f"seed {seed}: {items} items, {turns} turns, build {built - started:.3f} s, "
            f"jsonl {done - built:.3f} s ({len(text) / 1e6:.1f} MB)"
        )
    seconds = statistics.median(build_times)
    print(f"full: {items} items ({turns} turns) in {seconds:.3f} s: {items / seconds:.0f} items/s")
    print(f"RESULT full_generate_seconds={seconds:.4f}")
    print(f"RESULT items_per_second={items / seconds:.1f}")
    print(f"RESULT full_generate_vs_target={seconds / TARGET_S:.4f}")
    print(f"RESULT full_jsonl_seconds={statistics.median(jsonl_times):.4f}")


if __name__ == "__main__":
    main()
