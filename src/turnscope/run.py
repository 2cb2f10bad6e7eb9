"""Starting and resuming runs: wires suite, model client, engine and run store together.

This is the Python API behind `turnscope run`; tests and benchmarks use it directly."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from turnscope.core import TARGET_ROLE, Item, JudgeSettings, RunConfig, TurnRecord
from turnscope.engine import (
    EngineResult,
    Judge,
    JudgePass,
    JudgePassResult,
    ModelCaller,
    ResponseCache,
    RetryPolicy,
    RunPlan,
    missing_roles,
    plan_run,
    play_conversations,
)
from turnscope.models import BackendOptions, ModelClient, create_client
from turnscope.scorers import is_deferred
from turnscope.store import RunStore, new_run_dir

if TYPE_CHECKING:
    from turnscope.distributed import RayOptions
    from turnscope.distributed_judging import JudgeActorCounts, JudgeActors

DEFAULT_RUNS_ROOT = Path("turnscope-runs")
CACHE_FILE = "responses.sqlite"


def default_cache_path(runs_root: Path) -> Path:
    """The response cache shared by every run under one runs directory."""
    return runs_root / ".cache" / CACHE_FILE


def client_for(config: RunConfig) -> ModelClient:
    """The model client a run config names (raises ModelConfigError on a bad spec)."""
    options = BackendOptions(
        api_key_env=config.api_key_env,
        timeout_s=config.timeout_s,
        extra=config.model_options,
        concurrency=config.concurrency,
    )
    return create_client(config.model, options)


def role_clients_for(config: RunConfig) -> dict[str, ModelClient]:
    """One client per serving role of the run (raises ModelConfigError on a bad spec)."""
    return {
        name: create_client(
            settings.model,
            BackendOptions(
                api_key_env=settings.api_key_env,
                timeout_s=config.timeout_s,
                extra=settings.options,
                concurrency=settings.concurrency,
            ),
        )
        for name, settings in config.roles.items()
    }


def check_roles(items: Sequence[Item], config: RunConfig) -> RunPlan:
    """The run's plan; ValueError naming the first role its protocols need that the run lacks
    (e.g. a simulated user played by a model, without --user)."""
    plan = plan_run(items, config)
    missing = missing_roles(plan, config.roles)
    if missing:
        needing, condition = next(
            (c.item.id, c.condition)
            for c in plan.conversations
            if missing[0] in c.protocol.condition_roles(c.item, c.condition)
        )
        raise ValueError(
            f"item {needing!r} needs a model in the {missing[0]!r} role under {condition!r}: "
            f"give one with --role {missing[0]}=SPEC"
        )
    return plan


def check_available(plan: RunPlan) -> None:
    """ValueError with one line if a planned conversation needs something this machine lacks
    (the sandbox of a tool item): said before anything is played."""
    for conversation in plan.conversations:
        item, condition = conversation.item, conversation.condition
        try:
            conversation.protocol.check_available(item, condition)
        except ValueError as exc:
            raise ValueError(f"item {item.id!r} under {condition!r}: {exc}") from None


def judge_clients_for(settings: JudgeSettings, timeout_s: float) -> list[ModelClient]:
    """One client per judge spec (raises ModelConfigError on a bad spec)."""
    options = BackendOptions(
        api_key_env=settings.api_key_env,
        timeout_s=timeout_s,
        extra=settings.options,
        concurrency=settings.concurrency,
    )
    return [create_client(spec, options) for spec in settings.judges]


def judged_turns(items: Sequence[Item]) -> int:
    """Turns with a deferred scorer spec (`type: judge` or a plugin's): they need --judge."""
    return sum(
        any(is_deferred(spec) for spec in turn.scorers) for item in items for turn in item.turns
    )


def make_judges(
    settings: JudgeSettings,
    clients: Sequence[ModelClient],
    policy: RetryPolicy,
    cache: ResponseCache | None,
) -> list[Judge]:
    """Judges over `clients`, each with its own concurrency limit, sharing the response cache."""
    return [
        Judge(
            spec,
            ModelCaller(client, settings.params, policy, cache, seed=settings.seed),
            settings.concurrency,
        )
        for spec, client in zip(settings.judges, clients, strict=True)
    ]


def retry_policy(config: RunConfig) -> RetryPolicy:
    """How the run's requests are retried and timed out."""
    return RetryPolicy(
        max_retries=config.max_retries, retry_for_s=config.retry_for_s, timeout_s=config.timeout_s
    )


def make_callers(
    config: RunConfig,
    client: ModelClient,
    role_clients: Mapping[str, ModelClient],
    cache: ResponseCache | None,
) -> dict[str, ModelCaller]:
    """One caller per model role of the run, the target first, sharing the response cache."""
    policy = retry_policy(config)
    callers = {TARGET_ROLE: ModelCaller(client, config.params, policy, cache, seed=config.seed)}
    for name, role_client in role_clients.items():
        settings = config.roles[name]
        callers[name] = ModelCaller(
            role_client,
            settings.params,
            policy,
            cache,
            seed=settings.seed,
            namespace=name,
            concurrency=settings.concurrency,
        )
    return callers


def create_run(config: RunConfig, items: Sequence[Item], runs_root: Path) -> RunStore:
    """A new run directory under `runs_root` holding the config and the items."""
    run_dir = new_run_dir(runs_root, config.model, config.suite, config.created_at)
    return RunStore.create(run_dir, config, items)


@dataclass
class RunOutcome:
    """What one pass of a run did, plus the plan it followed."""

    plan: RunPlan
    engine: EngineResult
    requests_sent: int
    cache_hits: int
    judging: JudgePassResult | None = None
    """What the judge pass did; None when the run has no judges."""
    judge_requests_sent: int = 0
    """Requests that reached the judge backends (cache hits excluded, retries included)."""
    judge_cache_hits: int = 0
    role_requests_sent: dict[str, int] = field(default_factory=dict)
    """Requests that reached each serving role's backend (user simulator, feedback ...)."""
    served_by: dict[str, int] = field(default_factory=dict)
    """On Ray: target turns committed in this pass, by the actor that played them."""
    actors_lost: int = 0
    """On Ray: actors lost mid-run, whose conversations the others finished."""
    judge_actors: JudgeActorCounts | None = None
    """On Ray with judges: the requests each judge actor served, actors lost, requests resent."""


async def execute_run(
    store: RunStore,
    client: ModelClient,
    *,
    role_clients: Mapping[str, ModelClient] | None = None,
    judge_clients: Sequence[ModelClient] = (),
    on_plan: Callable[[RunPlan, int], None] | None = None,
    on_turn: Callable[[str, bool], None] | None = None,
    on_record: Callable[[TurnRecord], None] | None = None,
    on_turns_left_out: Callable[[int], None] | None = None,
    on_judged: Callable[[TurnRecord], None] | None = None,
    items: Sequence[Item] | None = None,
    ray: RayOptions | None = None,
) -> RunOutcome:
    """Play (or continue) the run in `store`. Turns already finished are never requested again.

    `items` are the run's items when the caller holds them already (those it stored), so
    that a large suite is not held twice; None reads them from the store.

    With judges (one client per spec in `config.judging.judges`), the judge pass runs beside
    the play: each answered turn with `type: judge` specs is judged as soon as it is committed,
    and turns left unjudged by an earlier, killed pass are judged too.
    `on_plan(plan, already_done)` is called once before playing, for progress display;
    `on_turn(role, failed)` for each committed record, and `on_record(record)` too. On Ray,
    records arrive encoded as the store's rows and `on_record` decodes every one of them: a
    progress display needs only `on_turn`.

    With `ray`, the conversations are played by Ray actors (Ray started or joined for the
    pass unless this process is connected already) and this process commits what they send
    back; the judge requests go to Ray judge actors (unless `ray.judge_actors` is 0) while the
    judge pass stays here; everything else is the same."""
    store.claim()
    config = store.config()
    items = store.items() if items is None else items
    plan = plan_run(items, config)
    store.set_meta("skipped", dict(plan.skipped))
    if on_plan is not None:
        on_plan(plan, store.answered_count())
    cache = (
        ResponseCache(Path(config.cache_path)) if config.use_cache and config.cache_path else None
    )
    policy = retry_policy(config)
    callers = make_callers(config, client, role_clients or {}, cache)
    judge_actors: JudgeActors | None = None
    if ray is not None and judge_clients and ray.judge_actors != 0:
        from turnscope.distributed_judging import JudgeActors

        # The judge pass stays here; only its requests go to Ray actors.
        judge_actors = JudgeActors(ray, config, judge_clients, store.run_dir.name)
        judge_clients = judge_actors.clients
    judges = make_judges(config.judging, judge_clients, policy, cache)
    store.set_meta("status", "running")
    # Who plays it: `turnscope runs` tells a live run from one whose process died (kill -9).
    store.set_meta("owner", {"host": socket.gethostname(), "pid": os.getpid()})
    judge_pass: JudgePass | None = None
    if judges:
        by_id = {item.id: item for item in items}
        judge_pass = JudgePass(judges, config.judging, by_id, store, on_judged=on_judged)
        # One record at a time: only those still to be judged are kept (by their tasks).
        for record in store.records():
            judge_pass.submit(record)

    def committed(record: TurnRecord) -> None:
        if judge_pass is not None:
            judge_pass.submit(record)
        if on_turn is not None:
            on_turn(record.role, record.error is not None)
        if on_record is not None:
            on_record(record)

    served_by: dict[str, int] = {}
    actors_lost = 0
    try:
        if judge_actors is not None:
            await judge_actors.start()
        if ray is None:
            result = await play_conversations(
                plan,
                config,
                callers,
                store,
                on_record=committed,
                on_turns_left_out=on_turns_left_out,
            )
            requests = {name: (c.requests_sent, c.cache_hits) for name, c in callers.items()}
        else:
            from turnscope.distributed import play_on_ray, ray_session

            with ray_session(ray.address):
                played = await play_on_ray(
                    plan,
                    config,
                    store,
                    ray,
                    name=store.run_dir.name,
                    on_turn=on_turn,
                    on_judge=judge_pass.submit if judge_pass is not None else None,
                    on_record=on_record,
                    on_turns_left_out=on_turns_left_out,
                )
            result, requests = played.engine, played.requests
            served_by, actors_lost = dict(played.served_by), played.lost
        judged = await judge_pass.finish() if judge_pass is not None else None
    except asyncio.CancelledError:
        # The judge actors cancel the run when a judge model refuses on one of them or the
        # last of them is lost: say why in one line.
        failure = judge_actors.failure() if judge_actors is not None else None
        if failure is None:
            raise
        raise failure from None
    finally:
        if judge_actors is not None:
            await judge_actors.stop()
        if judge_pass is not None:
            await judge_pass.cancel()
        if cache is not None:
            cache.close()
    # A run whose turns all have answers is finished; one with failed turns is incomplete:
    # --resume asks those again.
    store.set_meta("status", "incomplete" if store.unfinished_count() else "finished")
    store.set_meta("finished_at", datetime.now(UTC).isoformat())
    sent, hits = requests.get(TARGET_ROLE, (0, 0))
    return RunOutcome(
        plan,
        result,
        sent,
        hits,
        judged,
        sum(j.caller.requests_sent for j in judges),
        sum(j.caller.cache_hits for j in judges),
        {name: counts[0] for name, counts in requests.items() if name != TARGET_ROLE},
        served_by,
        actors_lost,
        judge_actors.counts if judge_actors is not None else None,
    )
