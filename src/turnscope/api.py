"""The Python API: `turnscope.evaluate(...)` plays a suite against a model the way
`turnscope run` does and returns what it measured.

    import turnscope

    result = turnscope.evaluate("core", model="llamacpp", conditions=["own", "gold"])
    print(result.scores["own"].mean, result.run_dir)
    result.analysis.gaps["own − gold"].overall.difference

A suite is a built-in name, a file path, a Python file with `@turnscope.suite` functions, or
the items themselves (`Item` objects or dicts in the suite-file format). The run is stored in
a run directory like any other, so `turnscope show`, `report`, `compare` and `--resume` work
on it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from turnscope.analysis import Estimate, MultiTurnAnalysis, analyse
from turnscope.core import (
    GenerationParams,
    Item,
    JudgeSettings,
    RoleSettings,
    RunConfig,
    Suite,
    judge_prompts_of,
)
from turnscope.engine import run_loop
from turnscope.models import ModelClient
from turnscope.protocols import check_conditions
from turnscope.run import (
    DEFAULT_RUNS_ROOT,
    RunOutcome,
    check_roles,
    client_for,
    create_run,
    default_cache_path,
    execute_run,
    judge_clients_for,
    role_clients_for,
)
from turnscope.store import RunStore
from turnscope.suites import LoadedSuite, SuiteError, resolve_suite
from turnscope.suites.loader import RawItem, build_suite

DEFAULT_MAX_TOKENS = 192
"""The answer budget when neither the caller nor the suite gives one (as `turnscope run`)."""

SuiteArgument = str | Path | Suite | Sequence[Item | Mapping[str, Any]]


@dataclass(frozen=True)
class Evaluation:
    """What one `evaluate` call played and measured."""

    run_dir: Path
    """The run directory: `turnscope show/report/compare` read it, `--resume` continues it."""
    config: RunConfig
    """The run's configuration as stored."""
    outcome: RunOutcome
    """What the play did: turns recorded, errors, requests, cache hits."""
    analysis: MultiTurnAnalysis
    """Every multi-turn figure, with 95 % intervals over items."""
    failed: int
    """Turns and judgments that failed (`turnscope run --resume RUN_DIR` asks them again)."""

    @property
    def scores(self) -> dict[str, Estimate]:
        """Condition -> mean conversation score over items (the headline), with its interval."""
        return dict(self.analysis.overall)


def _loaded(suite: SuiteArgument) -> LoadedSuite:
    if isinstance(suite, str | Path):
        return resolve_suite(str(suite))
    if isinstance(suite, Suite):
        return LoadedSuite(suite)
    where = Path("<python>")
    raws = [
        RawItem(item.model_dump(mode="json") if isinstance(item, Item) else dict(item), where, n)
        for n, item in enumerate(suite, start=1)
    ]
    return build_suite("python", raws)


def evaluate(
    suite: SuiteArgument = "core",
    model: str = "llamacpp",
    *,
    conditions: Sequence[str] | None = None,
    samples: int = 1,
    max_tokens: int | None = None,
    temperature: float = 0.0,
    top_p: float = 1.0,
    stop: Sequence[str] = (),
    seed: int = 0,
    concurrency: int = 8,
    limit: int | None = None,
    judges: Sequence[str] = (),
    roles: Mapping[str, str | RoleSettings] | None = None,
    model_options: Mapping[str, Any] | None = None,
    api_key_env: str | None = None,
    runs_dir: str | Path | None = None,
    use_cache: bool = True,
) -> Evaluation:
    """Play `suite` against `model` (a model spec, as `--model`) and analyse the run.

    Raises SuiteError or ValueError (a bad suite, condition, role or spec) before anything is
    played; model failures during the run are recorded on their turns (see `failed`)."""
    loaded = _loaded(suite)
    items = loaded.suite.items[:limit] if limit else loaded.suite.items
    chosen = tuple(dict.fromkeys(conditions or loaded.conditions or ("own",)))
    check_conditions(chosen, items)
    root = Path(runs_dir) if runs_dir is not None else DEFAULT_RUNS_ROOT
    serving = {
        name: value if isinstance(value, RoleSettings) else RoleSettings(model=value)
        for name, value in (roles or {}).items()
    }
    config = RunConfig(
        model=model,
        api_key_env=api_key_env,
        suite=str(suite) if isinstance(suite, str | Path) else loaded.suite.name,
        conditions=chosen,
        samples=samples,
        params=GenerationParams(
            max_tokens=max_tokens or loaded.max_tokens or DEFAULT_MAX_TOKENS,
            temperature=temperature,
            top_p=top_p,
            stop=tuple(stop),
        ),
        seed=seed,
        concurrency=concurrency,
        use_cache=use_cache,
        cache_path=str(default_cache_path(root)) if use_cache else None,
        model_options=dict(model_options or {}),
        created_at=datetime.now(UTC),
        judging=JudgeSettings(judges=tuple(judges)),
        roles=serving,
        judge_prompts=judge_prompts_of(items) if judges else None,
    )
    check_roles(items, config)
    client = client_for(config)
    role_clients = role_clients_for(config)
    judge_clients = judge_clients_for(config.judging, config.timeout_s)
    store, outcome = run_loop(_play(config, items, root, client, role_clients, judge_clients))
    try:
        return Evaluation(
            run_dir=store.run_dir,
            config=store.config(),
            outcome=outcome,
            analysis=analyse(store.turn_scores(), store.items()),
            failed=store.unfinished_count(),
        )
    finally:
        store.close()


async def _play(
    config: RunConfig,
    items: Sequence[Item],
    root: Path,
    client: ModelClient,
    role_clients: Mapping[str, ModelClient],
    judge_clients: Sequence[ModelClient],
) -> tuple[RunStore, RunOutcome]:
    served = (client, *role_clients.values(), *judge_clients)
    try:
        for each in served:
            await each.preflight()
        store = create_run(config, items, root)
        outcome = await execute_run(
            store, client, role_clients=role_clients, judge_clients=judge_clients
        )
        return store, outcome
    finally:
        for each in served:
            await each.aclose()


__all__ = ["Evaluation", "SuiteError", "evaluate"]
