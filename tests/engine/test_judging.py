"""The judge role against a scripted fake judge: malformed, empty, out-of-range and contradictory
verdicts become judge errors with their raw text (never a score) after a bounded number of
attempts; juries; the shared cache (a second identical run makes no judge call); resume of a
judge pass; pairwise comparisons in both orders with position inconsistency counted.

The model under test is the fault-injection fake too (its answers are "Reply N: all good
here."): these tests are about the judge plumbing, not about answers."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from helpers.servers import FakeOpenAIServer
from helpers.suites import write_suite
from turnscope.analysis import judge_report
from turnscope.core import GenerationParams, Item, JudgeSettings, RunConfig, TurnRecord
from turnscope.engine import ResponseCache, RetryPolicy
from turnscope.pairwise import judge_runs
from turnscope.report import write_run_report
from turnscope.run import (
    RunOutcome,
    client_for,
    create_run,
    default_cache_path,
    execute_run,
    judge_clients_for,
    make_judges,
)
from turnscope.store import PAIRWISE_FILE, PairwiseStore, RunStore
from turnscope.suites import load_suite_file

pytestmark = pytest.mark.timeout(60)

ATTEMPTS = 3

# What the scripted judge answers for each item, by attempt (the last entry repeats).
SCRIPT: dict[str, list[str]] = {
    "good": ["The reply is right.\nRating: [[8]]"],
    "late": ["Looks fine to me.", "Second thoughts: fine.\nRating: [[7]]"],
    "malformed": ["I think the answer is quite good overall."],
    "empty": [""],
    "range": ["Excellent beyond measure.\nRating: [[11]]"],
    "contradict": ["On reflection:\nRating: [[3]] or Rating: [[9]]"],
}
FAILING = ("malformed", "empty", "range", "contradict")


def scripted_judge(script: dict[str, list[str]]) -> Callable[[list[dict[str, Any]], int], str]:
    """A judge that finds the case name (`CASE:<name>`) in the prompt and answers by script."""

    def reply(messages: list[dict[str, Any]], attempt: int) -> str:
        prompt = " ".join(str(m["content"]) for m in messages)
        for name, answers in script.items():
            if f"CASE:{name} " in prompt:
                return answers[min(attempt, len(answers) - 1)]
        raise AssertionError(f"no case in judge prompt: {prompt[:200]}")

    return reply


def judged_items(names: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {
            "id": name,
            "turns": [
                {
                    "user": f"CASE:{name} please say something.",
                    "reference": "Something.",
                    "scorers": [{"type": "contains", "value": "Reply"}, {"type": "judge"}],
                }
            ],
        }
        for name in names
    ]


@pytest.fixture
def model() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def judge() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(reply=scripted_judge(SCRIPT)) as server:
        yield server


def config_for(
    model: FakeOpenAIServer,
    judges: Sequence[FakeOpenAIServer],
    suite: Path,
    root: Path,
    *,
    use_cache: bool = True,
    jury: str = "mean",
) -> RunConfig:
    return RunConfig.model_validate(
        {
            "model": f"openai:fake@{model.base_url}",
            "suite": str(suite),
            "params": GenerationParams(max_tokens=16),
            "max_retries": 1,
            "timeout_s": 5.0,
            "use_cache": use_cache,
            "cache_path": str(default_cache_path(root)) if use_cache else None,
            "created_at": datetime.now(UTC),
            "judging": JudgeSettings.model_validate(
                {
                    "judges": [f"openai:judge{i}@{j.base_url}" for i, j in enumerate(judges)],
                    "params": GenerationParams(max_tokens=64),
                    "max_attempts": ATTEMPTS,
                    "jury": jury,
                }
            ),
        }
    )


async def play(config: RunConfig, items: Sequence[Item], root: Path) -> tuple[RunStore, RunOutcome]:
    store = create_run(config, items, root)
    return store, await resume(store)


async def resume(store: RunStore) -> RunOutcome:
    config = store.config()
    client = client_for(config)
    judges = judge_clients_for(config.judging, config.timeout_s)
    try:
        return await execute_run(store, client, judge_clients=judges)
    finally:
        await client.aclose()
        for j in judges:
            await j.aclose()


def by_item(store: RunStore) -> dict[str, TurnRecord]:
    return {r.item_id: r for r in store.records()}


async def test_unparseable_verdicts_are_judge_errors_with_raw_text_never_scores(
    tmp_path: Path, model: FakeOpenAIServer, judge: FakeOpenAIServer
) -> None:
    suite = write_suite(tmp_path / "judged.yaml", judged_items(list(SCRIPT)))
    items = load_suite_file(suite).suite.items
    root = tmp_path / "runs"
    store, outcome = await play(config_for(model, [judge], suite, root), items, root)

    records = by_item(store)
    judgments = {j.item_id: j.judgment for j in store.all_judgments()}
    assert set(judgments) == set(SCRIPT)
    # Scores stay in spec order: the programmatic scorer first, the judge second.
    for record in records.values():
        assert [s.scorer for s in record.scores] == ["contains", "judge:grade"]
        assert record.scores[0].value == 1.0

    good = records["good"].scores[1]
    assert good.value == pytest.approx(0.8) and good.error is None
    assert [a.text for a in judgments["good"].attempts] == [SCRIPT["good"][0]]

    late = records["late"].scores[1]
    assert late.value == pytest.approx(0.7)
    first, second = judgments["late"].attempts
    assert first.text == SCRIPT["late"][0] and first.error is not None
    assert second.text == SCRIPT["late"][1] and second.error is None
    assert judgments["late"].verdict is not None and judgments["late"].verdict.grade == 7

    for name in FAILING:
        score = records[name].scores[1]
        assert score.value is None and score.error is not None, name
        # A failed judgment leaves the whole turn without a score (counted as an error): the
        # programmatic score alone would raise it above what the judged answer earned.
        assert records[name].score is None
        judgment = judgments[name]
        assert judgment.verdict is None and judgment.error is not None
        assert judgment.error.startswith(f"no parseable verdict in {ATTEMPTS} attempt")
        # Bounded: exactly ATTEMPTS requests, each one's raw text kept with its parse error.
        assert len(judgment.attempts) == ATTEMPTS
        assert all(a.text == SCRIPT[name][0] and a.error for a in judgment.attempts), name

    # The judge saw each request once: 1 (good) + 2 (late) + 3 per failing case.
    expected_requests = 1 + 2 + ATTEMPTS * len(FAILING)
    assert len(judge.exchanges) == expected_requests
    assert outcome.judge_requests_sent == expected_requests
    assert outcome.judging is not None and outcome.judging.judge_errors == len(FAILING)
    assert store.judge_error_count() == len(FAILING)
    report = judge_report(store.all_judgments())
    assert report is not None
    assert report.judgments == len(SCRIPT) and report.judge_errors == len(FAILING)
    (stats,) = report.by_judge
    assert stats.requests == expected_requests and stats.retried == 1 + len(FAILING)
    assert stats.verdicts == {"grade 7": 1, "grade 8": 1}
    assert report.jury is None and report.pairwise is None

    # The HTML report's judge section carries the same figures.
    html = write_run_report(store).read_text(encoding="utf-8")
    judges_section = html.split("<h2>Judges</h2>", 1)[1].split("<h2>", 1)[0]
    assert f"<strong>{len(FAILING)} judge errors</strong>" in judges_section
    assert "grade 7: 1, grade 8: 1" in judges_section
    assert f"no parseable verdict in {ATTEMPTS} attempt" in judges_section


async def test_a_second_identical_run_makes_no_judge_call(
    tmp_path: Path, model: FakeOpenAIServer, judge: FakeOpenAIServer
) -> None:
    suite = write_suite(tmp_path / "judged.yaml", judged_items(["good", "late", "malformed"]))
    items = load_suite_file(suite).suite.items
    root = tmp_path / "runs"
    config = config_for(model, [judge], suite, root)
    first_store, first = await play(config, items, root)
    made = len(judge.exchanges)
    assert first.judge_requests_sent == made == 1 + 2 + ATTEMPTS

    second_store, second = await play(config, items, root)
    assert len(judge.exchanges) == made  # nothing new reached the judge
    assert second.judge_requests_sent == 0 and second.judge_cache_hits == made
    assert by_item(second_store).keys() == by_item(first_store).keys()
    for item_id, record in by_item(second_store).items():
        assert record.scores == by_item(first_store)[item_id].scores
    for stored in second_store.all_judgments():
        assert all(a.cached for a in stored.judgment.attempts)


async def test_a_killed_judge_pass_resumes_without_asking_finished_judgments(
    tmp_path: Path, model: FakeOpenAIServer, judge: FakeOpenAIServer
) -> None:
    names = ["good", "late", "malformed"]
    suite = write_suite(tmp_path / "judged.yaml", judged_items(names))
    items = load_suite_file(suite).suite.items
    root = tmp_path / "runs"
    # No cache: every judge request the resumed pass makes reaches the server.
    store, _ = await play(config_for(model, [judge], suite, root, use_cache=False), items, root)
    judged = by_item(store)
    made = len(judge.exchanges)

    # The state a kill leaves: turns committed without their judge scores, judgments of
    # "good" and "late" stored, the one of "malformed" not yet.
    for record in judged.values():
        store.commit(record.model_copy(update={"scores": record.scores[:1]}))
    db = sqlite3.connect(store.run_dir / "run.sqlite")
    with db:
        db.execute("DELETE FROM judgments WHERE item_id = 'malformed'")
    db.close()
    store.set_meta("status", "running")

    outcome = await resume(store)
    assert outcome.engine.turns_recorded == 0  # no answer is asked again
    assert outcome.judging is not None
    assert outcome.judging.judgments_reused == 2 and outcome.judging.judgments_made == 1
    assert len(judge.exchanges) == made + ATTEMPTS  # only "malformed" was judged again
    for item_id, record in by_item(store).items():
        assert record.scores == judged[item_id].scores


async def test_a_jury_aggregates_and_a_failing_juror_is_counted_not_scored(
    tmp_path: Path, model: FakeOpenAIServer, judge: FakeOpenAIServer
) -> None:
    other_script = {
        "good": ["Rating: [[6]]"],
        "late": ["nothing parseable"],
        "malformed": ["Rating: [[4]]"],
    }
    with FakeOpenAIServer(reply=scripted_judge(other_script)) as other:
        suite = write_suite(tmp_path / "jury.yaml", judged_items(list(other_script)))
        items = load_suite_file(suite).suite.items
        root = tmp_path / "runs"
        store, _ = await play(config_for(model, [judge, other], suite, root), items, root)

    records = by_item(store)
    good = records["good"].scores[1]
    assert good.value == pytest.approx(0.7)  # mean of 8 and 6
    assert good.detail is not None and good.detail.startswith("jury mean")
    late = records["late"].scores[1]  # judge 0 says 7, judge 1 never parses
    assert late.value == pytest.approx(0.7)
    assert late.detail is not None and "1 judge error" in late.detail
    malformed = records["malformed"].scores[1]  # judge 0 never parses, judge 1 says 4
    assert malformed.value == pytest.approx(0.4)

    report = judge_report(store.all_judgments())
    assert report is not None and report.jury is not None
    assert report.jury.answers == 1  # only "good" has a verdict from both judges
    assert report.jury.exact == 0.0
    (alpha,) = report.jury.alpha.values()
    assert alpha.method.startswith("krippendorff-alpha") and alpha.n_judges == 2
    assert alpha.n_items == 3
    assert report.judge_errors == 2


def pairwise_script(messages: list[dict[str, Any]], attempt: int) -> str:
    """A judge with a position bias on "flip" items (always A) and a content preference on
    the others (the answer with the smaller reply number wins: answer A is the first
    "Reply N" in the prompt), and no verdict on "broken"."""
    prompt = " ".join(str(m["content"]) for m in messages)
    if "CASE:broken " in prompt:
        return "Both are fine I guess."
    if "CASE:flip " in prompt:
        return "Verdict: [[A]]"
    shown_a, shown_b = (int(n) for n in re.findall(r"Reply (\d+):", prompt))
    return "Verdict: [[A]]" if shown_a < shown_b else "Verdict: [[B]]"


async def test_pairwise_asks_both_orders_counts_inconsistency_and_reuses_verdicts(
    tmp_path: Path, model: FakeOpenAIServer
) -> None:
    names = ["steady", "flip", "broken"]
    suite = write_suite(tmp_path / "pair.yaml", judged_items(names))
    items = load_suite_file(suite).suite.items
    root = tmp_path / "runs"
    with FakeOpenAIServer() as judge_fake:
        # No cache while playing: the two runs must answer differently ("Reply N" counts up).
        config = config_for(model, [judge_fake], suite, root, use_cache=False)
        store_a, _ = await play(config, items, root)
        store_b, _ = await play(config, items, root)

    with FakeOpenAIServer(reply=pairwise_script) as judge:
        settings = JudgeSettings(judges=(f"openai:pairjudge@{judge.base_url}",), max_attempts=2)

        async def compare(settings: JudgeSettings = settings) -> tuple[int, int]:
            clients = judge_clients_for(settings, 5.0)
            cache = ResponseCache(default_cache_path(root))
            pairs = PairwiseStore(root / PAIRWISE_FILE)
            try:
                judges = make_judges(settings, clients, RetryPolicy(max_retries=0), cache)
                result = await judge_runs(store_a, store_b, judges, settings, pairs)
                return len(result.records), result.reused
            finally:
                cache.close()
                pairs.close()
                for c in clients:
                    await c.aclose()

        assert await compare() == (3, 0)
        asked = len(judge.exchanges)
        assert asked == 2 + 2 + 2 * 2  # steady, flip: one per order; broken: 2 attempts per order
        assert await compare() == (3, 3)  # stored verdicts reused
        (root / PAIRWISE_FILE).unlink()
        assert await compare() == (3, 0)  # asked again, answered by the cache
        assert len(judge.exchanges) == asked
        # Other judge parameters make other requests: stored verdicts do not stand for them.
        longer = settings.model_copy(update={"params": GenerationParams(max_tokens=99)})
        assert await compare(longer) == (3, 0)
        assert len(judge.exchanges) == 2 * asked
        assert await compare() == (3, 0)  # the first settings again: all from the cache
        assert len(judge.exchanges) == 2 * asked

    pairs = PairwiseStore(root / PAIRWISE_FILE)
    records = {r.item_id: r for r in pairs.records()}
    pairs.close()
    steady, flip, broken = records["steady"], records["flip"], records["broken"]
    # Both orders were asked: A and B swap places between them.
    assert (
        steady.judgment.ab.attempts[0].request_hash != steady.judgment.ba.attempts[0].request_hash
    )
    assert steady.judgment.consistent is True and steady.judgment.outcome in ("a", "b")
    assert flip.judgment.consistent is False and flip.judgment.outcome == "tie"
    assert broken.judgment.outcome is None and broken.judgment.error is not None

    report = judge_report(pairs=records.values())
    assert report is not None and report.pairwise is not None
    assert report.pairwise.comparisons == 3 and report.pairwise.decided == 2
    assert report.pairwise.inconsistent == 1 and report.pairwise.inconsistency_rate == 0.5
    assert report.judge_errors == 2  # broken, in each order


async def test_checklist_and_rubric_specs_score_in_spec_order(
    tmp_path: Path, model: FakeOpenAIServer
) -> None:
    def reply(messages: list[dict[str, Any]], attempt: int) -> str:
        prompt = " ".join(str(m["content"]) for m in messages)
        return "1. yes\n2. no" if "questions about the reply" in prompt else "Verdict: [[YES]]"

    questions = ["Is it polite?", "Is it in French?"]
    items = [
        {
            "id": "kinds",
            "turns": [
                {
                    "user": "Say hello.",
                    "scorers": [
                        {"type": "judge", "kind": "checklist", "items": questions},
                        {"type": "contains", "value": "Reply"},
                        {"type": "judge", "kind": "rubric", "rubric": "Is it a greeting?"},
                    ],
                }
            ],
        }
    ]
    suite = write_suite(tmp_path / "kinds.yaml", items)
    root = tmp_path / "runs"
    with FakeOpenAIServer(reply=reply) as judge:
        loaded = load_suite_file(suite).suite.items
        store, _ = await play(config_for(model, [judge], suite, root), loaded, root)
    (record,) = store.records()
    checklist, contains, rubric = record.scores
    assert (checklist.scorer, contains.scorer, rubric.scorer) == (
        "judge:checklist",
        "contains",
        "judge:rubric",
    )
    assert checklist.value == 0.5 and checklist.detail == "1/2 yes"
    assert [(c.name, c.passed) for c in checklist.checks] == [
        (questions[0], True),
        (questions[1], False),
    ]
    assert rubric.value == 1.0 and rubric.detail == "yes"
    assert {j.spec for j in store.all_judgments()} == {0, 2}


async def test_identical_judged_inputs_in_flight_together_are_asked_once(
    tmp_path: Path,
) -> None:
    # Three items that read the same, answered the same: three identical judge requests,
    # started together while the (slow) judge is still answering the first; only one may
    # reach the judge.
    items = [
        {
            "id": f"twin-{n}",
            "turns": [{"user": "CASE:good say it.", "scorers": [{"type": "judge"}]}],
        }
        for n in range(3)
    ]
    suite = write_suite(tmp_path / "twins.yaml", items)
    root = tmp_path / "runs"
    same = FakeOpenAIServer(reply=lambda messages, attempt: "The same answer.")
    slow_judge = FakeOpenAIServer(reply=scripted_judge(SCRIPT), chunk_delay_s=0.2)
    with same as model, slow_judge as judge:
        config = config_for(model, [judge], suite, root)
        loaded = load_suite_file(suite).suite.items
        store, outcome = await play(config, loaded, root)
    assert len(judge.exchanges) == 1
    assert outcome.judge_requests_sent == 1 and outcome.judge_cache_hits == 2
    assert [r.scores[0].value for r in store.records()] == [0.8, 0.8, 0.8]
