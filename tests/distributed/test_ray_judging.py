"""Judging on Ray: the judge requests of a run on Ray answered by judge actors on both nodes,
with the judgments of a one-process run; a killed judge actor's requests answered by the other,
each judgment made once; losing every judge actor stops the run with one line and leaves the
rest of the judgments to a resume (without Ray), never to a default score.

The model under test and the judge are the deterministic fake server (a judge's rating is a
hash of what it is asked), so two runs of one suite must store the same judgments, and the
judge's log tells how often each judgment was asked."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import assert_clean_failure, run_cli
from helpers.servers import FakeOpenAIServer
from turnscope.core import GenerationParams, Item, JudgeSettings, RunConfig, ScorerSpec, Turn
from turnscope.distributed import RayOptions, RayUnavailable
from turnscope.distributed_judging import judge_actor_count
from turnscope.run import client_for, create_run, execute_run, judge_clients_for
from turnscope.store import RunStore

ray = pytest.importorskip("ray", reason="pip install 'turnscope[ray]'")

HANG = " FAULT:hangx1"
"""In an answer, it reaches the judge inside its prompt: the judge's first try hangs."""


def answer_for(messages: list[dict[str, Any]], attempt: int) -> str:
    digest = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()
    return f"answer {digest[:12]}"


def hanging_answer_for(messages: list[dict[str, Any]], attempt: int) -> str:
    return answer_for(messages, attempt) + HANG


def rating_for(messages: list[dict[str, Any]], attempt: int) -> str:
    """A verdict that depends on what was asked: the same to the same request."""
    digest = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).digest()
    return f"Judged.\nRating: [[{digest[0] % 10 + 1}]]"


def items(count: int, turns: int) -> list[Item]:
    scorers = (
        ScorerSpec.model_validate({"type": "regex", "pattern": r"answer \w+"}),
        ScorerSpec.model_validate({"type": "judge", "use_reference": False}),
    )
    return [
        Item(
            id=f"conv-{i}",
            turns=tuple(
                Turn(user=f"conversation {i}, question {t}", scorers=scorers)
                for t in range(1, turns + 1)
            ),
        )
        for i in range(count)
    ]


def config(target: FakeOpenAIServer, judge: FakeOpenAIServer, cache: Path | None) -> RunConfig:
    return RunConfig(
        model=f"openai:fake@{target.base_url}",
        suite="ray-judging-tests",
        params=GenerationParams(max_tokens=8),
        concurrency=4,
        use_cache=cache is not None,
        cache_path=str(cache) if cache is not None else None,
        created_at=datetime.now(UTC),
        judging=JudgeSettings(
            judges=(f"openai:judge@{judge.base_url}",),
            params=GenerationParams(max_tokens=16),
            concurrency=4,
        ),
    )


async def judged_run(
    cfg: RunConfig, suite: list[Item], root: Path, store: RunStore | None = None, **kwargs: Any
) -> tuple[RunStore, Any]:
    store = store or create_run(cfg, suite, root)
    client = client_for(cfg)
    judges = judge_clients_for(cfg.judging, cfg.timeout_s)
    try:
        outcome = await execute_run(store, client, judge_clients=judges, **kwargs)
    finally:
        for model in (client, *judges):
            await model.aclose()
    return store, outcome


def judged(store: RunStore) -> list[tuple[Any, ...]]:
    """Every judgment (its request, text and verdict) and every judged score of a run."""
    judgments = [
        (j.subject, [(a.request_hash, a.text) for a in j.judgment.attempts], j.judgment.verdict)
        for j in store.all_judgments()
    ]
    scores = [(r.item_id, r.turn, r.scores) for r in store.records()]
    return [*judgments, *scores]


def judge_requests(server: FakeOpenAIServer, since: int = 0) -> Counter[str]:
    """How often each distinct judge request was answered."""
    return Counter(
        json.dumps(e.messages, sort_keys=True)
        for e in server.exchanges[since:]
        if e.outcome == "ok"
    )


def judge_actor(run: RunStore, index: int) -> Any:
    (name,) = [
        n
        for n in ray.util.list_named_actors()
        if n.startswith(f"turnscope-judge/{run.run_dir.name}/") and n.endswith(f"/{index}")
    ]
    return ray.get_actor(name)


async def kill_when_hung(judge: FakeOpenAIServer, store: RunStore, hung: int) -> None:
    """Kill judge actor 0 once `hung` judge requests hang at the server: with every first try
    hanging, the fewest-in-flight choice has dealt them 0, 1, 0, 1 ..., so actor 0 holds
    half of them."""
    deadline = time.monotonic() + 240  # actors start slowly on a loaded machine
    while time.monotonic() < deadline:
        if sum(e.outcome == "hang" for e in judge.exchanges) >= hung:
            ray.kill(judge_actor(store, 0), no_restart=True)
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the judge requests never hung")


async def test_judge_requests_on_ray_give_the_one_process_judgments_on_both_nodes(
    ray_cluster: str, tmp_path: Path
) -> None:
    suite = items(6, 2)
    cache = tmp_path / "cache.sqlite"
    down = {"on": True}

    def outage(messages: list[dict[str, Any]]) -> tuple[int, str] | None:
        return (400, "judge down") if down["on"] else None

    with (
        FakeOpenAIServer(reply=answer_for) as target,
        FakeOpenAIServer(reply=rating_for, refuse=outage) as judge,
    ):
        # A one-process run whose judge was down: resumed on Ray, its judge actors judge it.
        failed, _ = await judged_run(config(target, judge, cache), suite, tmp_path / "failed")
        unjudged = [r for r in failed.records() if r.scores[1].error is not None]
        down["on"] = False
        asked_before = len(judge.exchanges)
        _, resumed = await judged_run(
            config(target, judge, cache), suite, tmp_path, failed, ray=RayOptions(ray_cluster)
        )
        asked_on_ray = judge_requests(judge, asked_before)
        asked_before = len(judge.exchanges)
        alone, _ = await judged_run(config(target, judge, None), suite, tmp_path / "one")
        asked_alone = len(judge.exchanges) - asked_before
        # A whole run on Ray over the same cache: every judgment is found there, so no judge
        # request reaches an actor.
        spread, outcome = await judged_run(
            config(target, judge, cache), suite, tmp_path / "ray", ray=RayOptions(ray_cluster)
        )
        asked_again = len(judge.exchanges) - asked_before - asked_alone
    assert len(unjudged) == 12 and resumed.engine.turns_recorded == 0
    assert asked_alone == 12 and alone.meta("status") == "finished"
    assert all(len(r.scores) == 2 and r.scores[1].value for r in alone.records())
    assert judged(failed) == judged(alone) and failed.meta("status") == "finished"
    # Each judgment asked once, by the actors: one on each node.
    assert len(asked_on_ray) == 12 and set(asked_on_ray.values()) == {1}
    counts = resumed.judge_actors
    assert counts.actors == 2 and sum(counts.served_by.values()) == 12
    assert resumed.judge_requests_sent == 12 and resumed.judging.judgments_made == 12
    assert len({label.split("@")[1] for label in counts.served_by}) == 2
    assert counts.lost == 0 and counts.resent == 0
    assert judged(spread) == judged(alone) and spread.meta("status") == "finished"
    assert asked_again == 0 and outcome.judge_cache_hits == 12
    assert outcome.judge_actors.actors == 2 and not outcome.judge_actors.served_by
    for store in (alone, spread, failed):
        store.close()


async def test_a_killed_judge_actor_s_requests_are_answered_by_the_other_each_once(
    ray_cluster: str, tmp_path: Path
) -> None:
    suite = items(4, 2)
    with (
        FakeOpenAIServer(reply=hanging_answer_for) as target,
        FakeOpenAIServer(reply=rating_for, hang_s=0.5) as judge,
    ):
        cfg = config(target, judge, None)
        store = create_run(cfg, suite, tmp_path / "ray")
        (_, outcome), _ = await asyncio.gather(
            judged_run(cfg, suite, tmp_path, store, ray=RayOptions(ray_cluster)),
            kill_when_hung(judge, store, hung=4),
        )
        answered = judge_requests(judge)
    counts = outcome.judge_actors
    assert counts.lost == 1 and counts.resent == 2
    assert store.meta("status") == "finished"
    # Every judgment made once, answered once by the judge, each with its verdict.
    assert outcome.judging.judgments_made == 8 and outcome.judging.judge_errors == 0
    assert len(answered) == 8 and set(answered.values()) == {1}
    judgments = list(store.all_judgments())
    assert len(judgments) == 8 and all(j.judgment.verdict for j in judgments)
    assert all(r.scores[1].value and r.scores[1].error is None for r in store.records())
    store.close()


async def test_losing_every_judge_actor_leaves_the_rest_to_a_resume_without_ray(
    ray_cluster: str, tmp_path: Path
) -> None:
    suite = items(3, 2)
    with (
        FakeOpenAIServer(reply=hanging_answer_for) as target,
        FakeOpenAIServer(reply=rating_for, hang_s=0.5) as judge,
    ):
        cfg = config(target, judge, None)
        store = create_run(cfg, suite, tmp_path / "ray")
        only_one = RayOptions(ray_cluster, judge_actors=1)
        with pytest.raises(RayUnavailable, match="every Ray judge actor was lost"):
            await asyncio.gather(
                judged_run(cfg, suite, tmp_path, store, ray=only_one),
                kill_when_hung(judge, store, hung=1),
            )
        # Lost while every first try hung: no judgment was made, none turned into an error
        # or a score; every judged turn is left to the resume.
        assert list(store.all_judgments()) == []
        assert all(len(r.scores) == 1 for r in store.records())
        _, resumed = await judged_run(cfg, suite, tmp_path, store)
    assert resumed.judge_actors is None
    assert resumed.judging.judgments_made == 6
    assert store.meta("status") == "finished"
    assert all(r.scores[1].value and r.scores[1].error is None for r in store.records())
    store.close()


def test_judge_actors_are_counted_and_placed_beside_the_play_actors() -> None:
    cluster = {"CPU": 4.0, "GPU": 2.0}
    assert judge_actor_count(RayOptions(), cluster, nodes=3) == 3
    assert judge_actor_count(RayOptions(judge_actors=5), cluster, nodes=3) == 5
    gpu = RayOptions(judge_resources={"GPU": 1.0})
    assert judge_actor_count(gpu, cluster, nodes=3) == 2
    beside = RayOptions(actors=2, judge_resources={"CPU": 1.0})
    assert judge_actor_count(beside, cluster, nodes=3) == 2
    with pytest.raises(RayUnavailable, match="give --ray-actors N"):
        judge_actor_count(RayOptions(judge_resources={"CPU": 1.0}), cluster, nodes=3)
    with pytest.raises(RayUnavailable, match="for CPU=1 each beside 4 play actors, not 1"):
        judge_actor_count(RayOptions(actors=4, judge_resources={"CPU": 1.0}), cluster, nodes=3)
    with pytest.raises(RayUnavailable, match="for 2 judge actors asking for GPU=1 each, not 3"):
        judge_actor_count(RayOptions(judge_actors=3, judge_resources={"GPU": 1}), cluster, 3)


def test_judge_actors_the_cluster_cannot_hold_are_one_error_line_before_any_run(
    ray_cluster: str, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    code, _, err = run_cli(
        "run", "-m", "openai:fake@http://127.0.0.1:9/v1", "--runs-dir", str(runs),
        "--ray", ray_cluster, "--ray-judge-resource", "GPU=1",
    )  # fmt: skip
    assert_clean_failure(
        code, err, "room for 0 judge actors asking for GPU=1 each, not 1", single_line=True
    )
    assert not runs.exists()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--ray", "--ray-judge-resource", "GPU"), "--ray-judge-resource 'GPU': expected"),
        (("--ray-judge-actors", "2"), "need --ray"),
        (("--ray", "--ray-judge-actors", "-1"), "greater than or equal to 0"),
    ],
)
def test_bad_ray_judge_options_are_one_error_line(args: tuple[str, ...], fragment: str) -> None:
    code, _, err = run_cli("run", "-m", "openai:fake@http://127.0.0.1:9/v1", *args)
    assert_clean_failure(code, err, fragment, single_line=True)
