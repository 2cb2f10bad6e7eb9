"""Judge requests made versus the minimum needed, for 2 models x a small suite, judged by single
grade (every turn) and pairwise (every turn, both orders); then the same again.

The two "models" are the embedded SmolLM2-135M sampled at temperature 0.8 with two different
run seeds: the same weights, different answers. The judge is the same embedded model, greedy,
held to each verdict's grammar (constrained verdicts): free reasoning, then the verdict line,
which the backend fits into the judge's max_tokens. Without the grammar this 135M judge wrote
no parseable verdict for most judgments; a retry is a different request (new seed, sampling),
so it is counted in the minimum too.

- judge_first_attempt_parse_rate = judgments (grade, and each pairwise order) whose first
  request gave a parseable verdict / all judgments (target >= 0.95);

- minimum = distinct judge requests the judgments needed: the distinct request keys over every
  attempt of every stored judgment (each distinct judged input once, per order for pairwise,
  plus the retries its unparseable answers called for);
- judge_calls_ratio_first_run = requests that reached the judge / minimum (1.00: nothing was
  asked twice);
- the second run repeats everything in new run directories under the same runs directory
  (new pairwise store rows too); judge_calls_ratio_second_run = requests of both runs / the
  minimum of both (1.00: the second run was answered entirely from the cache).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _workload import conversations

from turnscope.core import (
    GenerationParams,
    Item,
    JudgeSettings,
    Judgment,
    RunConfig,
    ScorerSpec,
    Turn,
)
from turnscope.engine import ResponseCache, RetryPolicy
from turnscope.models.llamacpp import LlamaCppClient, default_gguf_path
from turnscope.pairwise import judge_runs
from turnscope.run import create_run, default_cache_path, execute_run, make_judges
from turnscope.store import PAIRWISE_FILE, PairwiseStore, RunStore

JUDGE_SPEC = "llamacpp"


def judged(items: list[Item]) -> list[Item]:
    """The workload items with a single-grade judge on every turn."""
    spec = ScorerSpec(type="judge")
    return [
        item.model_copy(
            update={"turns": tuple(Turn(user=t.user, scorers=(spec,)) for t in item.turns)}
        )
        for item in items
    ]


def first_parsed(judgment: Judgment) -> bool:
    """Whether the judgment's first request gave its verdict (no retry was needed)."""
    return judgment.verdict is not None and len(judgment.attempts) == 1


class Round:
    """One full pass: two runs judged by grade, then compared pairwise."""

    def __init__(self) -> None:
        self.requests = 0
        self.keys: set[str] = set()
        self.grade_judgments = 0
        self.pair_orders = 0
        self.parse_retries = 0
        self.judge_errors = 0
        self.first_attempt_parsed = 0


async def one_round(
    items: list[Item],
    root: Path,
    model: LlamaCppClient,
    judge: LlamaCppClient,
    settings: JudgeSettings,
    args: argparse.Namespace,
) -> Round:
    result = Round()
    stores: list[RunStore] = []
    for seed in (1, 2):
        config = RunConfig(
            model="llamacpp",
            suite="judge-calls-bench",
            params=GenerationParams(max_tokens=args.max_tokens, temperature=0.8),
            seed=seed,
            cache_path=str(default_cache_path(root)),
            created_at=datetime.now(UTC),
            judging=settings,
        )
        store = create_run(config, items, root)
        outcome = await execute_run(store, model, judge_clients=[judge])
        result.requests += outcome.judge_requests_sent
        for stored in store.all_judgments():
            result.grade_judgments += 1
            result.keys.update(a.request_hash for a in stored.judgment.attempts)
            result.parse_retries += len(stored.judgment.attempts) - 1
            result.judge_errors += stored.judgment.verdict is None
            result.first_attempt_parsed += first_parsed(stored.judgment)
        stores.append(store)

    cache = ResponseCache(default_cache_path(root))
    pairs = PairwiseStore(root / PAIRWISE_FILE)
    try:
        (pair_judge,) = make_judges(settings, [judge], RetryPolicy(), cache)
        compared = await judge_runs(stores[0], stores[1], [pair_judge], settings, pairs)
        result.requests += pair_judge.caller.requests_sent
    finally:
        cache.close()
        pairs.close()
        for store in stores:
            store.close()
    for record in compared.records:
        for judgment in (record.judgment.ab, record.judgment.ba):
            result.pair_orders += 1
            result.keys.update(a.request_hash for a in judgment.attempts)
            result.parse_retries += len(judgment.attempts) - 1
            result.judge_errors += judgment.verdict is None
            result.first_attempt_parsed += first_parsed(judgment)
    return result


async def main_async(args: argparse.Namespace) -> None:
    path = default_gguf_path()
    assert path is not None, "pip install -e '.[local]' first"
    items = judged(conversations(args.conversations, args.turns, seed=3))
    settings = JudgeSettings(
        judges=(JUDGE_SPEC,),
        params=GenerationParams(max_tokens=args.judge_max_tokens),
        max_attempts=args.attempts,
    )
    model = LlamaCppClient(path)
    judge = LlamaCppClient(path)
    await model.preflight()
    await judge.preflight()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        first = await one_round(items, root, model, judge, settings, args)
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        second = await one_round(items, root, model, judge, settings, args)
        second_s = time.perf_counter() - started
    await model.aclose()
    await judge.aclose()

    turns = args.conversations * args.turns
    both_keys = first.keys | second.keys
    print(
        f"suite: {args.conversations} conversations x {args.turns} turns; 2 models "
        "(SmolLM2-135M, temperature 0.8, run seeds 1 and 2); judge: SmolLM2-135M, greedy, "
        f"{args.judge_max_tokens} tokens, at most {args.attempts} attempts per judgment"
    )
    print(
        f"first run:  {first.grade_judgments} grade judgments ({2 * turns} expected), "
        f"{first.pair_orders} pairwise orders ({2 * turns} expected), "
        f"{first.parse_retries} parse retries, {first.judge_errors} judge errors; "
        f"{first.requests} judge requests for {len(first.keys)} distinct ones "
        f"({first_s:.1f} s)"
    )
    print(
        f"second run: {second.requests} new judge requests; distinct requests over both runs "
        f"{len(both_keys)} ({second_s:.1f} s)"
    )
    print(f"RESULT judge_calls_ratio_first_run={first.requests / len(first.keys):.2f}")
    total = first.requests + second.requests
    print(f"RESULT judge_calls_ratio_second_run={total / len(both_keys):.2f}")
    print(f"RESULT judge_new_calls_second_run={second.requests}")
    # Against judged inputs alone (one per grade judgment, one per pairwise order): above 1
    # only by the retries that unparseable verdicts called for.
    judged_inputs = first.grade_judgments + first.pair_orders
    print(f"RESULT judge_calls_per_judged_input_first_run={first.requests / judged_inputs:.2f}")
    rate = first.first_attempt_parsed / judged_inputs
    print(f"RESULT judge_first_attempt_parse_rate={rate:.3f}")
    print(f"RESULT judge_parse_retries_first_run={first.parse_retries}")
    print(f"RESULT judge_errors_first_run={first.judge_errors}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=3)
    parser.add_argument("--turns", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=24, help="per answer of the models")
    parser.add_argument("--judge-max-tokens", type=int, default=32)
    parser.add_argument("--attempts", type=int, default=3, help="judge requests per judgment")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
