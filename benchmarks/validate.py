"""Speed of `turnscope validate`: the built-in `full` suite and a 10,000-row IFEval-layout file.

The IFEval-layout file is written by this script (seeded): each row a prompt of random words
with one to three verifiable instructions whose numbers the prompt states, so the rows are
distinct and the kwargs agree with the prompt (a clean file: every check runs to the end).

Every repeat is a cold run: a fresh process imports turnscope (not timed), then loads and
validates the suite once, so nothing a check worked out (validated instructions, language
detection verdicts, scorer parameters) is reused from an earlier repeat. Times are medians
over the repeats. The machine is shared, so single figures are noisy: compare ratios measured
in one run, and prefer the CPU-time figures.

Prints, for each suite, RESULT <suite>_end_to_end_items_per_second (loading and checking, as
the command does, per second of wall time), RESULT <suite>_end_to_end_items_per_cpu_second
(the same per second of the process's CPU time, which other processes on the machine disturb
less), RESULT <suite>_validate_items_per_second and _validate_items_per_cpu_second (the
checks alone, the suite already loaded) and RESULT <suite>_findings; the target is 5,000 items
per second end to end.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from turnscope.protocols import protocols
from turnscope.scorers import scorer_names
from turnscope.suites import LoadedSuite, resolve_suite, suites
from turnscope.suites.validate import validate_suite

TARGET_ITEMS_PER_SECOND = 5000
ROWS = 10_000
VOCABULARY = (
    "harbour lantern meadow copper violin glacier orchard ledger pebble thunder saddle quill "
    "compass marble ribbon falcon biscuit canyon velvet anchor garden pillow rocket spindle "
    "tunnel whistle cobweb dune ember fjord grotto hammock igloo jasmine kettle lagoon "
    "mosaic nectar oasis parcel quartz raft satchel thimble umbrella vessel walnut yarn "
    "zephyr acorn bramble candle dynamo easel ferry gravel hinge ivory jetty kiln loom"
)
WORDS = VOCABULARY.split()
INSTRUCTIONS: tuple[Callable[[random.Random], tuple[str, dict[str, Any], str]], ...] = (
    lambda r: (
        "detectable_content:number_placeholders",
        {"num_placeholders": (n := r.randint(1, 5))},
        f"Include at least {n} placeholders in square brackets.",
    ),
    lambda r: (
        "length_constraints:number_words",
        {"relation": "at least", "num_words": (n := r.randint(50, 400))},
        f"Write at least {n} words.",
    ),
    lambda r: (
        "detectable_format:number_bullet_lists",
        {"num_bullets": (n := r.randint(2, 6))},
        f"Use exactly {n} bullet points.",
    ),
    lambda r: ("punctuation:no_comma", {}, "Do not use any commas."),
    lambda r: (
        "keywords:existence",
        {"keywords": (words := r.sample(WORDS, 2))},
        f"Mention {words[0]} and {words[1]}.",
    ),
    lambda r: ("change_case:english_lowercase", {}, "Write in lowercase letters only."),
)


def write_ifeval_rows(path: Path, rows: int, seed: int = 0) -> None:
    """`rows` distinct IFEval-layout rows whose prompts state their instructions' numbers."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for key in range(rows):
            chosen = rng.sample(INSTRUCTIONS, rng.randint(1, 3))
            given = [make(rng) for make in chosen]
            topic = " ".join(rng.choices(WORDS, k=20))
            row = {
                "key": key,
                "prompt": f"Write about {topic}. " + " ".join(text for _, _, text in given),
                "instruction_id_list": [i for i, _, _ in given],
                "kwargs": [k for _, k, _ in given],
            }
            handle.write(json.dumps(row) + "\n")


@dataclass(frozen=True)
class Timing:
    """Median figures over the repeats for one suite."""

    items: int
    load_wall: float
    load_cpu: float
    check_wall: float
    check_cpu: float
    findings: int


def measure_once(ref: str) -> list[float]:
    """Load and validate `ref` once in this process: [items, findings, load wall, load CPU,
    check wall, check CPU]. Imports are done first, as the command's start-up does them."""
    suites(), scorer_names(), protocols()  # each imports its plugin modules once
    wall, cpu = time.perf_counter(), time.process_time()
    loaded: LoadedSuite = resolve_suite(ref, skip_invalid=True)
    loaded_wall, loaded_cpu = time.perf_counter(), time.process_time()
    found = validate_suite(loaded)
    done_wall, done_cpu = time.perf_counter(), time.process_time()
    return [
        len(loaded.suite.items),
        len(found),
        loaded_wall - wall,
        loaded_cpu - cpu,
        done_wall - loaded_wall,
        done_cpu - loaded_cpu,
    ]


def measure(ref: str, repeats: int) -> Timing:
    """Load and validate `ref` in `repeats` fresh processes; the medians of each phase."""
    runs = []
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, __file__, "--once", ref],
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(done.stdout.splitlines()[-1]))
    median = statistics.median
    items, findings = int(runs[-1][0]), int(runs[-1][1])
    return Timing(items, *(median(run[i] for run in runs) for i in range(2, 6)), findings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--once", metavar="SUITE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.once:
        print(json.dumps(measure_once(args.once)))
        return
    with tempfile.TemporaryDirectory() as folder:
        rows_file = Path(folder) / "ifeval_layout.jsonl"
        write_ifeval_rows(rows_file, args.rows)
        for label, ref in (("full", "full"), ("ifeval_10k", f"ifeval:{rows_file}")):
            t = measure(ref, args.repeats)
            wall, cpu = t.load_wall + t.check_wall, t.load_cpu + t.check_cpu
            print(
                f"{label}: {t.items} items, {t.findings} findings; load {t.load_wall:.3f} s "
                f"({t.load_cpu:.3f} s CPU), validate {t.check_wall:.3f} s ({t.check_cpu:.3f} s "
                f"CPU); end to end {t.items / wall:.0f} items/s, {t.items / cpu:.0f} items per "
                f"CPU-second (target {TARGET_ITEMS_PER_SECOND})"
            )
            print(f"RESULT {label}_end_to_end_items_per_second={t.items / wall:.1f}")
            print(f"RESULT {label}_end_to_end_items_per_cpu_second={t.items / cpu:.1f}")
            print(f"RESULT {label}_validate_items_per_second={t.items / t.check_wall:.1f}")
            print(f"RESULT {label}_validate_items_per_cpu_second={t.items / t.check_cpu:.1f}")
            print(f"RESULT {label}_findings={t.findings}")


if __name__ == "__main__":
    main()
