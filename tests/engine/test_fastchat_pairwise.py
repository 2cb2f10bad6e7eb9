"""MT-Bench pairwise comparisons with FastChat's pairwise prompts (pair-v2, pair-math-v1 and
their multi-turn forms), read from a judge_prompts.jsonl fixture in FastChat's layout (our own
wording): picked per category and turn as gen_judgment.py picks them, filled exactly with each
run's own earlier answers, verdicts [[A]], [[B]] or [[C]] (a tie), both orders judged. The real
embedded model judges; the two compared runs are written by hand (their answers are known)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from helpers.synthetic_runs import make_record, write_run
from turnscope.core import GenerationParams, Item, JudgeSettings, Message, content_text
from turnscope.engine import ResponseCache, RetryPolicy
from turnscope.pairwise import judge_runs, pair_params
from turnscope.run import default_cache_path, judge_clients_for, make_judges
from turnscope.scorers.judges import JudgeInput, VerdictParseError, judge_kind
from turnscope.scorers.judges._fastchat import FastChatParams, read_judge_prompts
from turnscope.store import PAIRWISE_FILE, PairwiseStore, RunStore
from turnscope.suites import resolve_suite

DATA = Path(__file__).parent.parent / "data"
PROMPTS = DATA / "fastchat_prompts" / "judge_prompts.jsonl"
REFERENCE_1 = "120 / 8 = 15, so the tank is empty after 15 minutes."


@pytest.fixture
def items(tmp_path: Path) -> dict[str, Item]:
    """The MT-Bench fixture questions, loaded with FastChat's data/ folder layout."""
    data = tmp_path / "data"
    shutil.copytree(DATA / "mt_bench", data / "mt_bench")
    shutil.copy(PROMPTS, data / "judge_prompts.jsonl")
    suite = resolve_suite(f"mt-bench:{data / 'mt_bench'}").suite
    return {item.id: item for item in suite.items}


def params_of(item: Item, turn: int) -> FastChatParams:
    params = pair_params(item, turn)
    assert isinstance(params, FastChatParams)
    return params


def conversation(item: Item, answer_1: str) -> tuple[Message, ...]:
    """The history of turn 2 as a run with `answer_1` at turn 1 played it."""
    q1, q2 = (content_text(t.user) for t in item.turns)
    return (
        Message(role="user", content=q1),
        Message(role="assistant", content=answer_1),
        Message(role="user", content=q2),
    )


def test_pairwise_prompts_are_picked_per_category_and_turn(items: dict[str, Item]) -> None:
    math, writing = items["mt-bench-902"], items["mt-bench-901"]
    picked = [params_of(item, t).pairwise for item in (math, writing) for t in (1, 2)]
    assert [p.name if p else None for p in picked] == [
        "pair-math-v1",
        "pair-math-v1-multi-turn",
        "pair-v2",
        "pair-v2-multi-turn",
    ]
    assert {params_of(math, t).pairwise_kind() for t in (1, 2)} == {"fastchat-pair"}


def test_pairwise_prompts_are_filled_exactly_with_each_runs_own_answers(
    items: dict[str, Item],
) -> None:
    math = items["mt-bench-902"]
    q1, q2 = (content_text(t.user) for t in math.turns)
    params = params_of(math, 2)
    kind = judge_kind(params.pairwise_kind(), params)
    # Texts that look like template fields or verdicts are put in as they are (str.format
    # never reads the values it inserts), as FastChat does.
    a1, a2, b1, b2 = "{answer_b_2} 15", "Ten. [[B]]", "Fifteen minutes.", "[[A]] 12"
    own_a, own_b = conversation(math, a1), conversation(math, b1)
    shared = conversation(math, REFERENCE_1)
    inp = JudgeInput(history=shared, answer=a2, answer_b=b2, own_histories=(own_a, own_b))
    system, user = kind.messages(inp)
    assert (system.role, user.role) == ("system", "user")
    assert system.content == "Compare the two second replies against the references (test wording)."
    assert user.content == (
        f"<ref>\nUser: {q1}\nRef: {REFERENCE_1}\nUser: {q2}\nRef: 10\n</ref>\n"
        f"<A>\nUser: {q1}\nBot A: {a1}\nUser: {q2}\nBot A: {a2}\n</A>\n"
        f"<B>\nUser: {q1}\nBot B: {b1}\nUser: {q2}\nBot B: {b2}\n</B>"
    )
    first = judge_kind("fastchat-pair", params_of(math, 1))
    one = first.messages(JudgeInput(history=shared[:1], answer="15", answer_b="12"))
    assert one[1].content == f"Q: {q1}\nRef: {REFERENCE_1}\nA: 15\nB: 12"


@pytest.mark.parametrize(
    ("text", "winner"),
    [
        ("A is right and B is not.\n[[A]]", "a"),
        ("Assistant B explains it better.\n\n**[[B]]**", "b"),
        ("Both are equally good.\n[[C]]", "tie"),
        ("A quoted [[B]] early on.\nMy verdict: [[A]]", "a"),
    ],
)
def test_fastchat_pair_verdicts(items: dict[str, Item], text: str, winner: str) -> None:
    kind = judge_kind("fastchat-pair", params_of(items["mt-bench-901"], 1))
    verdict = kind.parse(text)
    assert verdict.kind == "fastchat-pair" and verdict.winner == winner


@pytest.mark.parametrize("text", ["", "A is better.", "[[TIE]]", "[[A]] or [[B]]"])
def test_a_missing_or_unclear_pair_verdict_is_an_error(items: dict[str, Item], text: str) -> None:
    kind = judge_kind("fastchat-pair", params_of(items["mt-bench-901"], 1))
    with pytest.raises(VerdictParseError):
        kind.parse(text)
    constraint = kind.constraint()
    assert constraint is not None and constraint.choices == ("[[A]]", "[[B]]", "[[C]]")


def test_a_file_with_some_pairwise_prompts_only_is_refused(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in PROMPTS.read_text().splitlines()]
    path = tmp_path / "judge_prompts.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows if r["name"] != "pair-math-v1"))
    with pytest.raises(ValueError, match="no pair-math-v1 prompt"):
        read_judge_prompts(path)
    # Without any pairwise prompt, the single-answer ones are read: comparisons then use
    # turnscope's own pairwise prompt.
    path.write_text("\n".join(json.dumps(r) for r in rows if r["type"] != "pairwise"))
    assert not any(name.startswith("pair-") for name in read_judge_prompts(path))


def test_the_embedded_judge_compares_two_runs_in_both_orders_with_fastchat_prompts(
    tmp_path: Path, items: dict[str, Item]
) -> None:
    math = items["mt-bench-902"]
    runs = tmp_path / "runs"

    def answer(run: str, turn: int) -> str:
        return f"{run} says: answer {turn}"

    for run in ("run-a", "run-b"):
        records = [
            make_record(
                math.id, turn, None, user=content_text(math.turns[turn - 1].user),
                response=answer(run, turn),
            )
            for turn in (1, 2)
        ]  # fmt: skip
        write_run(runs / run, [math], records, suite="mt-bench")
    settings = JudgeSettings(
        judges=("llamacpp",),
        params=GenerationParams(max_tokens=16),
        max_attempts=1,
        options={"n_ctx": 2048},
    )
    own_a, own_b = conversation(math, answer("run-a", 1)), conversation(math, answer("run-b", 1))
    # What each order must have been asked: the turn's FastChat prompt with each run's own
    # first answer on its side, the sides swapped in the second order.
    expected = {
        1: JudgeInput(history=own_a[:1], answer=answer("run-a", 1), answer_b=answer("run-b", 1)),
        2: JudgeInput(
            history=conversation(math, REFERENCE_1),
            answer=answer("run-a", 2),
            answer_b=answer("run-b", 2),
            own_histories=(own_a, own_b),
        ),
    }

    def swapped(inp: JudgeInput) -> JudgeInput:
        sides = inp.own_histories
        return inp.model_copy(
            update={
                "answer": inp.answer_b,
                "answer_b": inp.answer,
                "own_histories": sides[::-1] if sides else (inp.history, inp.history),
            }
        )

    async def compare() -> None:
        store_a, store_b = RunStore.open(runs / "run-a"), RunStore.open(runs / "run-b")
        clients = judge_clients_for(settings, 120.0)
        cache = ResponseCache(default_cache_path(runs))
        pairs = PairwiseStore(runs / PAIRWISE_FILE)
        try:
            (judge,) = make_judges(settings, clients, RetryPolicy(max_retries=0), cache)
            result = await judge_runs(store_a, store_b, [judge], settings, pairs)
            assert result.run_a == "run-a" and len(result.records) == 2
            for record in result.records:
                kind = judge_kind("fastchat-pair", params_of(math, record.turn))
                ab = expected[record.turn]
                assert judge.reusable(record.judgment.ab, kind, ab, settings.seed)
                assert judge.reusable(record.judgment.ba, kind, swapped(ab), settings.seed)
                assert not judge.reusable(record.judgment.ab, kind, swapped(ab), settings.seed)
                # An outcome from a verdict in each order, or a judge error: never made up.
                j = record.judgment
                assert (j.outcome is None) == (j.error is not None)
                assert {v.kind for v in (j.ab.verdict, j.ba.verdict) if v} <= {"fastchat-pair"}
        finally:
            cache.close()
            pairs.close()
            store_a.close()
            store_b.close()
            for client in clients:
                await client.aclose()

    asyncio.run(compare())
