"""Runs played on Ray actors: same records as one process, a killed actor's conversations
finished by another without asking a committed turn again, resume across Ray and no Ray, and
an unreachable cluster as one error line.

The model is the fault-injecting fake server answering deterministically (the answer is a hash
of the request's messages), so two runs of one suite must store the same records, and the
server's log tells how often each answered turn was asked."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import assert_clean_failure, assert_one_error_line, run_cli, turnscope
from helpers.servers import FakeOpenAIServer, free_port
from helpers.suites import write_suite
from turnscope.core import GenerationParams, Item, RunConfig, ScorerSpec, Turn, TurnRecord
from turnscope.distributed import RayOptions
from turnscope.run import client_for, create_run, execute_run
from turnscope.store import RunStore

ray = pytest.importorskip("ray", reason="pip install 'turnscope[ray]'")

Played = tuple[Any, ...]


def answer_for(messages: list[dict[str, Any]], attempt: int) -> str:
    """The same answer to the same request, a different one to any other."""
    digest = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()
    return f"answer {digest[:12]}"


def items(count: int, turns: int) -> list[Item]:
    scorer = ScorerSpec.model_validate({"type": "regex", "pattern": r"answer \w+"})
    return [
        Item(
            id=f"conv-{i}",
            turns=tuple(
                Turn(user=f"conversation {i}, question {t}", scorers=(scorer,))
                for t in range(1, turns + 1)
            ),
        )
        for i in range(count)
    ]


def config(server: FakeOpenAIServer, concurrency: int = 4) -> RunConfig:
    return RunConfig(
        model=f"openai:fake@{server.base_url}",
        suite="ray-tests",
        params=GenerationParams(max_tokens=8),
        concurrency=concurrency,
        use_cache=False,
        created_at=datetime.now(UTC),
    )


def played(store: RunStore) -> list[Played]:
    """What a run stored, without where and when each turn was played."""
    return [
        (
            r.item_id,
            r.condition,
            r.sample,
            r.turn,
            r.role,
            r.request_hash,
            r.response,
            r.error,
            r.score,
        )
        for r in store.records(role=None)
    ]


async def play(
    cfg: RunConfig, conversations: Sequence[Item], root: Path, **kwargs: Any
) -> tuple[RunStore, Any]:
    store = create_run(cfg, conversations, root)
    client = client_for(cfg)
    try:
        outcome = await execute_run(store, client, **kwargs)
    finally:
        await client.aclose()
    return store, outcome


async def test_a_ray_run_over_two_nodes_stores_what_one_process_stores(
    ray_cluster: str, tmp_path: Path
) -> None:
    suite = items(8, 3)
    with FakeOpenAIServer(reply=answer_for) as server:
        alone, _ = await play(config(server), suite, tmp_path / "one")
        spread, outcome = await play(
            config(server), suite, tmp_path / "ray", ray=RayOptions(address=ray_cluster)
        )
    assert len(played(alone)) == 24 and all(r.response for r in alone.records())
    assert played(spread) == played(alone)
    assert spread.meta("status") == "finished"
    assert outcome.requests_sent == 24 and outcome.engine.turns_recorded == 24
    # Two actors, one per node (each node holds one CPU, each actor asks for one).
    labels = {r.served_by for r in spread.records()}
    assert labels == set(outcome.served_by) and sum(outcome.served_by.values()) == 24
    assert len(labels) == 2 and len({str(label).split("@")[1] for label in labels}) == 2
    assert all(r.served_by is None for r in alone.records())


async def test_a_killed_actor_s_conversations_finish_elsewhere_each_turn_asked_once(
    ray_cluster: str, tmp_path: Path
) -> None:
    suite = items(10, 4)
    # Answers slow enough (about 0.1 s a turn), and deliveries frequent enough, that the
    # delivery holding a turn 2 holds no later turn of its conversation: the kill lands while
    # that conversation is half played.
    with FakeOpenAIServer(reply=answer_for, chunk_delay_s=0.05) as server:
        reference, _ = await play(config(server), suite, tmp_path / "one")
        reference_requests = len(server.exchanges)
        at_kill: list[TurnRecord] = []
        seen: list[TurnRecord] = []
        store = create_run(config(server), suite, tmp_path / "ray")

        def kill_on_a_second_turn(record: TurnRecord) -> None:
            seen.append(record)
            if at_kill or record.turn != 2:
                return
            at_kill.extend(seen)
            index = str(record.served_by).split("@")[0].split(":")[1]
            (name,) = [
                n
                for n in ray.util.list_named_actors()
                if n.startswith(f"turnscope/{store.run_dir.name}/") and n.endswith(f"/{index}")
            ]
            ray.kill(ray.get_actor(name), no_restart=True)

        client = client_for(config(server))
        try:
            outcome = await execute_run(
                store,
                client,
                on_record=kill_on_a_second_turn,
                ray=RayOptions(ray_cluster, linger_s=0.01),
            )
        finally:
            await client.aclose()
        asked = Counter(e.answer for e in server.exchanges[reference_requests:])
    assert outcome.actors_lost == 1
    assert played(store) == played(reference)
    assert store.meta("status") == "finished"
    # Every turn committed when the actor was killed was asked exactly once.
    assert at_kill and all(asked[r.response] == 1 for r in at_kill)
    # The conversation that triggered the kill went on from its turn 3 on the other actor.
    trigger = at_kill[-1]
    victim = trigger.served_by
    rest = store.conversation(trigger.item_id, trigger.condition, trigger.sample)[2:]
    assert rest and rest[-1].served_by != victim
    assert set(outcome.served_by) == {r.served_by for r in store.records()}


def _the_run(runs: Path) -> Path:
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return run_dir


def test_runs_resume_across_ray_and_one_process(ray_cluster: str, tmp_path: Path) -> None:
    suite = write_suite(
        tmp_path / "suite.yaml",
        [
            {
                "id": f"conv-{i}",
                "turns": [{"user": f"conversation {i}, question {t}"} for t in (1, 2, 3)],
            }
            for i in range(6)
        ],
    )
    down = {"on": False}

    def outage(messages: list[dict[str, Any]]) -> tuple[int, str] | None:
        last = str(messages[-1]["content"])
        # A permanent error on two conversations' second turns: the run ends incomplete.
        if (
            down["on"]
            and last.startswith(("conversation 1,", "conversation 4,"))
            and "question 2" in last
        ):
            return 400, "[bold]down[/bold] for maintenance"
        return None

    with FakeOpenAIServer(reply=answer_for, refuse=outage) as server:
        model = f"openai:fake@{server.base_url}"
        common = ("-m", model, "-s", str(suite), "--no-cache", "--max-tokens", "8", "-c", "4")
        code, _, err = run_cli("run", *common, "--runs-dir", str(tmp_path / "whole"))
        assert code == 0, err
        whole = RunStore.open(_the_run(tmp_path / "whole"))
        ray_first = (("--ray", ray_cluster), ())
        for first, then in (ray_first, ray_first[::-1]):
            runs = tmp_path / f"runs-{len(first)}"
            down["on"] = True
            code, _, err = run_cli("run", *common, "--runs-dir", str(runs), *first)
            assert code == 1, err  # failed turns: the summary says how to resume
            assert ("served by: ray:" in err) == bool(first)
            run_dir = _the_run(runs)
            partial = RunStore.open(run_dir)
            assert partial.failed_count() == 2
            partial.close()
            down["on"] = False
            code, _, err = run_cli("run", "--resume", str(run_dir), *then)
            assert code == 0, err
            assert ("served by: ray:" in err) == bool(then)
            resumed = RunStore.open(run_dir)
            assert played(resumed) == played(whole)
            resumed.close()
        whole.close()


def test_more_actors_than_the_cluster_holds_is_one_error_line(
    ray_cluster: str, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    code, _, err = run_cli(
        "run", "-m", "openai:fake@http://127.0.0.1:9/v1", "--runs-dir", str(runs),
        "--ray", ray_cluster, "--ray-actors", "3", "--ray-resource", "GPU=1",
    )  # fmt: skip
    assert_clean_failure(
        code, err, "has room for 0 actors asking for CPU=1, GPU=1", single_line=True
    )
    assert not runs.exists()


def test_an_unreachable_ray_address_is_one_error_line(tmp_path: Path) -> None:
    port = free_port()
    done = turnscope(
        "run", "-m", "openai:fake@http://127.0.0.1:9/v1", "--ray", f"127.0.0.1:{port}",
        runs=tmp_path / "runs",
    )  # fmt: skip
    assert_one_error_line(done, f"cannot reach the Ray cluster at '127.0.0.1:{port}'")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--ray", "--ray-resource", "GPU"), "expected NAME=AMOUNT"),
        (("--ray-actors", "2"), "need --ray"),
        (("--ray", "not-an-address"), "expected HOST:PORT"),
    ],
)
def test_bad_ray_options_are_one_error_line(args: tuple[str, ...], fragment: str) -> None:
    code, _, err = run_cli("run", "-m", "openai:fake@http://127.0.0.1:9/v1", *args)
    assert_clean_failure(code, err, fragment, single_line=True)
