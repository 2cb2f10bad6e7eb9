"""Page latency and memory of `turnscope view` on a synthesised run store of 1,000,000 turns.

The store is written through the real RunStore API: conversations of TURNS_PER_CONVERSATION
turns under the own, gold and single conditions, items of five families, short texts, about
1 % failed turns, a flag on 1 % of records and two judges (that disagree now and then) on the
last turn of 2 % of conversations. The real `turnscope view` command then serves it from a
child process, and each page is requested --requests times in a row over HTTP after a first
visit. The server summarises the run's conversations (its conversation index) in the
background from start-up, and pages that need them answer with a notice until then: the time
until the table answers and the p95 of those notices are reported apart. Then:

- the runs list, the run's dashboard page (its figures are drawn by a child process of their
  own, which this does not wait for), page 1 of the conversations table, a deep page of it
  with a score filter (min=0.1, sorted by score; page 5,000 or the half-way page, whichever
  comes first: 4,999 on the default store, 125,000 rows deep), and one transcript
  (a different conversation each time).

Prints p95 per page (target <= 500 ms each) and the server's peak RSS read from the kernel
(VmHWM; target <= 300 MB). Timing on a shared machine is noisy.

    python benchmarks/viewer.py [--turns 1000000] [--keep DIR] [--requests 40]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.servers import free_port
from helpers.synthetic_runs import MODEL, NOW, make_item
from turnscope.core import (
    GenerationParams,
    JudgeAttempt,
    Judgment,
    Message,
    RunConfig,
    Score,
    TurnRecord,
    Verdict,
)
from turnscope.store import RunStore

TURNS_PER_CONVERSATION = 4
CONDITIONS = ("own", "gold", "single")
FAMILIES = ("recollection", "expansion", "refinement", "follow-up", "pushback")
TARGET_MS = 500.0
TARGET_RSS_MB = 300.0
PAGE_SIZE = 25
DEEP_PAGE = 5000


def synthesise(run_dir: Path, turns: int, seed: int = 0) -> tuple[int, list[str]]:
    """Write a finished run of about `turns` turn records; (conversations, item ids)."""
    rng = random.Random(seed)
    per_item = TURNS_PER_CONVERSATION * len(CONDITIONS)
    n_items = max(1, turns // per_item)
    ids = [f"{FAMILIES[i % len(FAMILIES)]}-{i:07d}" for i in range(n_items)]
    items = [
        make_item(item_id, FAMILIES[i % len(FAMILIES)], TURNS_PER_CONVERSATION)
        for i, item_id in enumerate(ids)
    ]
    config = RunConfig(model="bench", suite="viewer-bench", conditions=CONDITIONS, created_at=NOW)
    store = RunStore.create(run_dir, config, items)
    params = GenerationParams()
    try:
        for n, item_id in enumerate(ids):
            for condition in CONDITIONS:
                for turn in range(1, TURNS_PER_CONVERSATION + 1):
                    failed = rng.random() < 0.01
                    score = None if failed else rng.choice((0.0, 0.5, 1.0, 1.0))
                    store.commit(
                        TurnRecord(
                            item_id=item_id,
                            turn=turn,
                            condition=condition,
                            request_hash=f"{item_id}-{condition}-{turn}",
                            new_messages=(
                                Message(role="user", content=f"question {turn} of {item_id}"),
                            ),
                            response=None if failed else f"an answer to question {turn}",
                            error="HTTP 500 from the server" if failed else None,
                            latency_s=0.2,
                            model=MODEL,
                            params=params,
                            seed=0,
                            scores=() if failed else (Score(scorer="exact", value=score),),
                            flags=("leak",) if rng.random() < 0.01 else (),
                            finished_at=NOW,
                        )
                    )
                if rng.random() < 0.02:
                    for judge in ("judge-a", "judge-b"):
                        value = rng.choice((0.0, 1.0))
                        store.commit_judgment(
                            item_id,
                            condition,
                            0,
                            TURNS_PER_CONVERSATION,
                            0,
                            Judgment(
                                judge=judge,
                                identity=MODEL,
                                kind="rubric",
                                attempts=(JudgeAttempt(request_hash="h", text="VERDICT: yes"),),
                                verdict=Verdict(kind="rubric", value=value),
                                finished_at=NOW,
                            ),
                        )
            if n % 10_000 == 0:
                print(f"  {n * per_item:,} turns written", file=sys.stderr, flush=True)
        store.set_meta("status", "finished")
    finally:
        store.close()
    return n_items * len(CONDITIONS), ids


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size (VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc (Linux only)")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=40, help="requests per page")
    parser.add_argument("--keep", type=Path, help="write the run here and keep it (reused)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="turnscope-viewer-bench-"))
    run_dir = args.keep or workdir / "run"
    started = time.perf_counter()
    if run_dir.exists() and (run_dir / "run.sqlite").is_file():
        store = RunStore.open(run_dir)
        ids = [i.id for i in store.items()]
        store.close()
        print(f"reusing {run_dir}")
    else:
        if run_dir.exists():
            shutil.rmtree(run_dir)
        _, ids = synthesise(run_dir, args.turns)
        print(f"synthesised in {time.perf_counter() - started:.0f} s")
    store = RunStore.open(run_dir)
    total_turns = store.turn_count()
    store.close()
    store_mb = (run_dir / "run.sqlite").stat().st_size / 1e6
    print(f"{total_turns:,} turns, {len(ids) * len(CONDITIONS):,} conversations, {store_mb:.0f} MB")

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "turnscope.cli", "view", str(run_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    key = run_dir.name
    rng = random.Random(1)
    # A smaller store (--turns) has fewer pages: its deepest half-way page stands in.
    deep_number = max(1, min(DEEP_PAGE, len(ids) * len(CONDITIONS) // PAGE_SIZE // 2))
    deep = f"/runs/{key}/conversations?min=0.1&sort=score&page={deep_number}"
    pages = {
        "runs_list": lambda: "/",
        "conversations_page_1": lambda: f"/runs/{key}/conversations",
        "conversations_deep_page_filtered": lambda: deep,
        "transcript": lambda: (
            f"/runs/{key}/conversation?item={rng.choice(ids)}&condition={rng.choice(CONDITIONS)}"
        ),
        "dashboard": lambda: f"/runs/{key}",
    }
    try:
        with httpx.Client(base_url=base, timeout=600) as client:
            t0 = time.perf_counter()
            while True:
                if server.poll() is not None:
                    sys.exit(f"turnscope view exited: {server.stderr.read()}")  # type: ignore[union-attr]
                try:
                    client.get("/").raise_for_status()
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            print(f"RESULT viewer_startup_s={time.perf_counter() - t0:.2f}")
            # Until the run's summary is built, pages that need it answer at once with a notice
            # (timed here) and reload.
            t0 = time.perf_counter()
            waiting = []
            while True:
                t = time.perf_counter()
                first = client.get(pages["conversations_page_1"]())
                first.raise_for_status()
                if 'id="summarising"' not in first.text:
                    break
                waiting.append((time.perf_counter() - t) * 1000)
                time.sleep(0.5)
            print(f"RESULT viewer_first_summary_s={time.perf_counter() - t0:.2f}")
            if len(waiting) >= 2:
                print(f"RESULT viewer_p95_ms_while_summarising={p95(waiting):.1f}")
            deep_page = client.get(deep)
            deep_page.raise_for_status()
            assert f"page {deep_number} of" in deep_page.text, "the deep page does not exist"
            print(f"deep page: {deep}")
            worst = 0.0
            for name, url in pages.items():
                client.get(url()).raise_for_status()  # the first visit of a page is not timed
                times = []
                for _ in range(args.requests):
                    t = time.perf_counter()
                    client.get(url()).raise_for_status()
                    times.append((time.perf_counter() - t) * 1000)
                value = p95(times)
                worst = max(worst, value)
                print(f"RESULT viewer_p95_ms_{name}={value:.1f}")
            rss = peak_rss_mb(server.pid)
            print(f"RESULT viewer_p95_ms_worst_vs_target={worst / TARGET_MS:.3f}")
            print(f"RESULT viewer_peak_rss_mb={rss:.0f}")
            print(f"RESULT viewer_peak_rss_vs_target={rss / TARGET_RSS_MB:.3f}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        if args.keep is None:
            shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
