"""Adapters that load public benchmarks in their publishers' layouts."""

from turnscope.suites.adapters.instruction_following import (
    IFEVAL_HUB,
    MULTI_IF_HUB,
    ifeval_item,
    load_ifeval,
    load_multi_if,
    multi_if_item,
)
from turnscope.suites.adapters.lost_in_conversation import lic_item, load_lic
from turnscope.suites.adapters.mint import load_mint, mint_item
from turnscope.suites.adapters.mt_bench import MT_BENCH_HUB, load_mt_bench, mt_bench_item
from turnscope.suites.adapters.mt_bench_101 import TASKS, load_mt_bench_101, mt_bench_101_item
from turnscope.suites.adapters.mt_eval import (
    MT_EVAL_HUB,
    load_mt_eval,
    load_mt_eval_single,
    mt_eval_item,
)
from turnscope.suites.adapters.multichallenge import load_multichallenge, multichallenge_item
from turnscope.suites.registry import register_suite

register_suite(
    "ifeval",
    summary=f"IFEval, single turn (the baseline for Multi-IF): hub {IFEVAL_HUB} or a local "
    ".jsonl in its layout.",
    usage="ifeval[:PATH|OWNER/NAME]",
)(load_ifeval)
register_suite(
    "multi-if",
    summary=f"Multi-IF, three turns with accumulating instructions in eight languages: hub "
    f"{MULTI_IF_HUB} or a local .csv/.jsonl; add @LANGUAGE to keep one language.",
    usage="multi-if[:PATH|OWNER/NAME][@LANGUAGE]",
)(load_multi_if)

register_suite(
    "mint",
    summary="MINT, tasks solved in up to 5 turns with a Python sandbox (gsm8k, math, mmlu, "
    "theoremqa, humaneval, mbpp; hotpotqa and alfworld are left out): the authors' processed "
    "data directory.",
    usage="mint:PATH",
)(load_mint)
register_suite(
    "lic",
    summary="LLMs Get Lost in Multi-Turn Conversation: sharded math, data2text and translation "
    "tasks released one shard per turn by a simulated user (sharded, full, concat; the paper's "
    "other tasks are left out): the authors' sharded_instructions_600.json and "
    "sharded_translation.json, or their folder.",
    usage="lic:PATH",
)(load_lic)
register_suite(
    "multichallenge",
    summary="MultiChallenge, 273 conversations replayed as published and answered once at the "
    "final user turn, judged YES/NO against each item's own question: the authors' "
    "benchmark_questions.jsonl.",
    usage="multichallenge:PATH",
)(load_multichallenge)
register_suite(
    "mt-bench",
    summary=f"MT-Bench, 80 two-turn questions in eight categories, judged 1-10 (reference-guided "
    f"for math, reasoning, coding): hub {MT_BENCH_HUB} or FastChat's question.jsonl / directory "
    "(with its judge_prompts.jsonl: FastChat's judge prompts); @system=TEXT adds a system prompt.",
    usage="mt-bench[:PATH|OWNER/NAME][@system=TEXT]",
)(load_mt_bench)
register_suite(
    "mt-bench-101",
    summary=f"MT-Bench-101, {len(TASKS)} multi-turn tasks judged per task with gold history: "
    "the authors' mtbench101.jsonl.",
    usage="mt-bench-101:PATH",
)(load_mt_bench_101)
register_suite(
    "mt-eval",
    summary=f"MT-Eval, recollection / expansion / refinement / follow-up dialogues: hub "
    f"{MT_EVAL_HUB} or a directory / one config file in its layout.",
    usage="mt-eval[:PATH|OWNER/NAME]",
)(load_mt_eval)
register_suite(
    "mt-eval-single",
    summary="MT-Eval's own single-turn versions of its dialogues (its *_single configs).",
    usage="mt-eval-single[:PATH|OWNER/NAME]",
)(load_mt_eval_single)

__all__ = [
    "IFEVAL_HUB",
    "MT_BENCH_HUB",
    "MT_EVAL_HUB",
    "MULTI_IF_HUB",
    "ifeval_item",
    "lic_item",
    "load_ifeval",
    "load_lic",
    "load_mint",
    "load_mt_bench",
    "load_mt_bench_101",
    "load_mt_eval",
    "load_mt_eval_single",
    "load_multi_if",
    "load_multichallenge",
    "mint_item",
    "mt_bench_101_item",
    "mt_bench_item",
    "mt_eval_item",
    "multi_if_item",
    "multichallenge_item",
]
