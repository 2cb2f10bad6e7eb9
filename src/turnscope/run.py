"""Starting and resuming runs: wires suite, model client, engine and run store together.

This is the Python API behind `turnscope run`; tests and benchmarks use it directly."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from turnscope.core import Item, RunConfig, TurnRecord
from turnscope.engine import (
    EngineResult,
    ModelCaller,
    ResponseCache,
    RetryPolicy,
    RunPlan,
    plan_run,
    play_conversations,
)
from turnscope.models import BackendOptions, ModelClient, create_client
from turnscope.store import RunStore, new_run_dir

DEFAULT_RUNS_ROOT = Path("turnscope-runs")
CACHE_FILE = "responses.sqlite"


def default_cache_path(runs_root: Path) -> Path:
    """The response cache shared by every run under one runs directory."""
    return runs_root / ".cache" / CACHE_FILE


def client_for(config: RunConfig) -> ModelClient:
    """The model client a run config names (raises ModelConfigError on a bad spec)."""
    options = BackendOptions(
        api_key_env=config.api_key_env, timeout_s=config.timeout_s, extra=config.model_options
    )
    return create_client(config.model, options)


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


async def execute_run(
    store: RunStore,
    client: ModelClient,
    *,
    on_plan: Callable[[RunPlan, int], None] | None = None,
    on_record: Callable[[TurnRecord], None] | None = None,
) -> RunOutcome:
    """Play (or continue) the run in `store`. Turns already finished are never requested again.

    `on_plan(plan, already_done)` is called once before playing, for progress display."""
    config = store.config()
    plan = plan_run(store.items(), config)
    store.set_meta("skipped_without_reference", plan.skipped_without_reference)
    store.set_meta("skipped_feedback", plan.skipped_feedback)
    if on_plan is not None:
        on_plan(plan, store.answered_count())
    cache = (
        ResponseCache(Path(config.cache_path)) if config.use_cache and config.cache_path else None
    )
    policy = RetryPolicy(max_retries=config.max_retries, timeout_s=config.timeout_s)
    caller = ModelCaller(client, config.params, policy, cache, seed=config.seed)
    store.set_meta("status", "running")
    # Who plays it: `turnscope runs` tells a live run from one whose process died (kill -9).
    store.set_meta("owner", {"host": socket.gethostname(), "pid": os.getpid()})
    try:
        result = await play_conversations(plan, config, caller, store, on_record=on_record)
    finally:
        if cache is not None:
            cache.close()
    store.set_meta("status", "finished")
    store.set_meta("finished_at", datetime.now(UTC).isoformat())
    return RunOutcome(plan, result, caller.requests_sent, caller.cache_hits)
