"""`turnscope run`: play a suite (or resume a run), judge alongside, print the summary."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from turnscope.analysis import (
    flag_report,
    instruction_report,
    judge_report,
    played_conversations,
    summarise,
)
from turnscope.analysis.multiturn import analyse
from turnscope.cli._app import (
    DEFAULT_MAX_TOKENS,
    RUNS_DIR_ENV,
    app,
    console,
    err_console,
    fail,
    open_run,
    runs_root,
)
from turnscope.cli._options import (
    JudgeAttemptsOption,
    JudgeConcurrencyOption,
    JudgeKeyOption,
    JudgeMaxTokensOption,
    JudgeOption,
    Jury,
    JuryOption,
    judge_settings,
    print_judge_calls,
    role_options,
    serving_roles,
)
from turnscope.core import (
    TARGET_ROLE,
    GenerationParams,
    Item,
    RunConfig,
    TurnRecord,
)
from turnscope.engine import RunPlan, plan_run
from turnscope.models import ModelClient, ModelConfigError
from turnscope.protocols import check_conditions, check_protocols, get_protocol
from turnscope.report import (
    render_flag_report,
    render_instruction_report,
    render_judge_report,
    render_run_location,
    render_summary,
)
from turnscope.report.html import write_run_report
from turnscope.report.terminal import render_multiturn
from turnscope.run import (
    DEFAULT_RUNS_ROOT,
    check_available,
    check_roles,
    client_for,
    create_run,
    default_cache_path,
    execute_run,
    judge_clients_for,
    judged_turns,
    role_clients_for,
)
from turnscope.store import (
    RunStore,
)
from turnscope.suites import DEFAULT_SUITE, SuiteError, resolve_suite


class _ProgressDisplay:
    """A live bar over turns; finished turns of a resumed run start it off."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("turns", total=None)
        self.errors = 0
        self.judged: TaskID | None = None

    def on_plan(self, plan: RunPlan, already_done: int) -> None:
        self.progress.update(self.task, total=plan.total_turns, completed=already_done)

    def on_record(self, record: TurnRecord) -> None:
        self.errors += record.error is not None
        label = f"turns ({self.errors} errors)" if self.errors else "turns"
        self.progress.update(self.task, advance=1, description=label)

    def on_judged(self, record: TurnRecord) -> None:
        if self.judged is None:
            self.judged = self.progress.add_task("judged turns", total=None)
        self.progress.update(self.judged, advance=1)


def _play(
    client: ModelClient,
    make_store: Callable[[], RunStore],
    judge_clients: Sequence[ModelClient] = (),
    role_clients: dict[str, ModelClient] | None = None,
) -> RunStore:
    """Check the model, the serving roles and the judges, then open the store (so a bad model
    leaves no run behind) and play, judging alongside."""
    roles = role_clients or {}
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )
    display = _ProgressDisplay(progress)
    opened: list[RunStore] = []

    async def go() -> None:
        try:
            await client.preflight()
            for served in (*roles.values(), *judge_clients):
                await served.preflight()
            opened.append(make_store())
            # The bar starts only once the model answered the preflight: a bad spec or an
            # unreachable server leaves a single error line, not a dead progress bar.
            progress.start()
            outcome = await execute_run(
                opened[0],
                client,
                role_clients=roles,
                judge_clients=judge_clients,
                on_plan=display.on_plan,
                on_record=display.on_record,
                on_judged=display.on_judged,
            )
            if judge_clients:
                print_judge_calls(outcome.judge_requests_sent, outcome.judge_cache_hits)
        finally:
            if progress.live.is_started:
                progress.stop()
            await client.aclose()
            for served in (*roles.values(), *judge_clients):
                await served.aclose()

    try:
        asyncio.run(go())
    except ModelConfigError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        if not opened:
            raise typer.Exit(130) from None
        run_dir = opened[0].run_dir
        err_console.print(
            f"\n[yellow]interrupted.[/yellow] Every finished turn is saved in {run_dir}.\n"
            f"Resume with:  turnscope run --resume {run_dir}"
        )
        raise typer.Exit(130) from None
    return opened[0]


def _print_summary(store: RunStore) -> None:
    config = store.config()
    items = store.items()
    categories = {item.id: item.category for item in items}
    # Both analyses read every record: decode them from the store once.
    records = list(store.records())
    summary = summarise(records, categories)
    render_summary(summary, console, title=f"{config.model} on {config.suite}")
    instructions = instruction_report(records)
    if instructions is not None:
        render_instruction_report(instructions, console)
    judges = judge_report(store.all_judgments())
    if judges is not None:
        render_judge_report(judges, console)
    skipped = store.meta("skipped_invalid") or 0
    if skipped:
        console.print(f"[yellow]{skipped} invalid items were skipped (--skip-invalid)[/yellow]")
    suite_left_out = store.meta("suite_left_out") or {}
    for reason, count in suite_left_out.items() if isinstance(suite_left_out, dict) else ():
        console.print(f"[yellow]left out: {count} items: {escape(str(reason))}[/yellow]")
    left_out = store.meta("skipped") or {}
    for line in left_out_lines(left_out if isinstance(left_out, dict) else {}):
        console.print(f"[yellow]{escape(line)}[/yellow]")
    render_multiturn(analyse(records, items), console)
    flags = flag_report(store.turn_flags(), played_conversations(records))
    if flags is not None:
        render_flag_report(flags, console)
    _write_report(store)
    render_run_location(store.run_dir, console)


def suite_conditions(defaults: Sequence[str] | None, items: Sequence[Item]) -> list[str]:
    """The conditions a suite is played under when the user names none: its own defaults that
    some of the items to play can be played under (core's tools and env conditions are
    dropped when --limit keeps no compute or hidden-rule item), else own."""
    playable = {c for item in items for c in get_protocol(item.protocol).item_conditions(item)}
    kept = [c for c in defaults or () if c in playable]
    return kept or list(defaults or ["own"])


_NOT_PLAYED = re.compile(r"^(?P<condition>.+): (?P<why>not played by the .+ protocol)$")


def left_out_lines(left_out: dict[str, int]) -> list[str]:
    """One line per reason conversations were left out; a protocol that does not play several
    of the run's conditions (scripted items under tools, no-tools, env) gets one line for all
    of them, since it leaves out the same items under each."""
    lines: list[str] = []
    grouped: dict[tuple[str, int], list[str]] = {}
    for reason, count in left_out.items():
        match = _NOT_PLAYED.match(str(reason))
        if match is None:
            noun = "item" if count == 1 else "items"
            lines.append(f"left out: {count} {noun} under {reason}")
        else:
            grouped.setdefault((match["why"], count), []).append(match["condition"])
    for (why, count), conditions in grouped.items():
        noun = "item" if count == 1 else "items"
        lines.append(f"left out: {count} {noun} under {', '.join(conditions)}: {why}")
    return lines


def _write_report(store: RunStore) -> None:
    """Write RUN_DIR/report.html after a run; a failure to write it never loses the run."""
    try:
        path = write_run_report(store)
    except OSError as exc:
        err_console.print(f"[yellow]could not write the HTML report: {escape(str(exc))}[/yellow]")
        return
    console.print(f"report: [bold]{path}[/bold]")


@app.command(
    epilog=(
        "Examples:\n\n"
        "  turnscope run                                   # core suite, embedded model\n\n"
        "  turnscope run -s core:7 --limit 14              # another seed, 2 items per family\n\n"
        "  turnscope run -s my_suite.yaml -v own -v gold -v single\n\n"
        "  turnscope run -m openai:llama@http://127.0.0.1:8080/v1 -c 16\n\n"
        "  turnscope run --resume turnscope-runs/20261122-101500-llamacpp-starter"
    )
)
def run(
    suite: Annotated[
        str,
        typer.Option(
            "--suite",
            "-s",
            help="Built-in suite name (see `turnscope suites`) or a .jsonl/.yaml file.",
        ),
    ] = DEFAULT_SUITE,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Model spec (see `turnscope "
            "models`): llamacpp, llamacpp:FILE.gguf, "
            "openai:NAME@URL.",
        ),
    ] = "llamacpp",
    variant: Annotated[
        list[str] | None,
        typer.Option(
            "--variant",
            "--condition",
            "-v",
            metavar="CONDITION",
            help="Condition to play every item under (repeat for several). Scripted: own "
            "(own history), gold (reference history), single (single-turn twin), user-only "
            "(earlier answers dropped), restated (instructions restated each turn); other "
            "protocols add theirs. Default: the suite's own (core and full: own, gold, "
            "single), else own.",
        ),
    ] = None,
    samples: Annotated[int, typer.Option(min=1, help="Times each conversation is played.")] = 1,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            help="Conversations "
            "in flight (the embedded model plays one at a "
            "time to keep its cache warm).",
        ),
    ] = 8,
    seed: Annotated[
        int,
        typer.Option(
            help="Run seed; per-request seeds derive from it (a generated suite's own seed is "
            "given as core:N).",
        ),
    ] = 0,
    max_tokens: Annotated[
        int | None,
        typer.Option(
            min=1,
            help=f"Max tokens per answer (default: the suite's own, else {DEFAULT_MAX_TOKENS}).",
        ),
    ] = None,
    temperature: Annotated[float, typer.Option(min=0.0, help="0 is greedy.")] = 0.0,
    limit: Annotated[int | None, typer.Option(min=1, help="Play only the first N items.")] = None,
    runs_dir: Annotated[
        Path | None,
        typer.Option(
            help=f"Where run directories go (default ${RUNS_DIR_ENV} or ./{DEFAULT_RUNS_ROOT})."
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Continue a run directory at the first unfinished turn of each conversation."
        ),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option("--no-cache", help="Do not reuse or store answers in the response cache."),
    ] = False,
    timeout: Annotated[float, typer.Option(min=0.1, help="Per-request timeout, seconds.")] = 120.0,
    max_retries: Annotated[int, typer.Option(min=0, help="Retries of a transient failure.")] = 4,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            help="Environment variable holding the API key (default OPENAI_API_KEY; never stored)."
        ),
    ] = None,
    n_ctx: Annotated[int, typer.Option(min=256, help="Context size of the embedded model.")] = 4096,
    model_option: Annotated[
        list[str] | None,
        typer.Option(
            "--model-option",
            "-M",
            metavar="[ROLE.]KEY=VALUE",
            help="Backend option of the model under test (or of ROLE: user, feedback, judge), "
            "e.g. -M n_threads=2, -M user.n_ctx=2048, -M max_concurrency=1. Repeatable.",
        ),
    ] = None,
    role: Annotated[
        list[str] | None,
        typer.Option(
            "--role",
            metavar="NAME=SPEC",
            help="A model for a serving role a protocol needs, e.g. --role user=llamacpp "
            "(the simulated user of `protocol: simulated` items with an llm-user). Repeatable.",
        ),
    ] = None,
    role_param: Annotated[
        list[str] | None,
        typer.Option(
            "--role-param",
            metavar="NAME.KEY=VALUE",
            help="Generation setting of a serving role: max_tokens, temperature, top_p, "
            "concurrency, seed, api_key_env, e.g. --role-param user.max_tokens=96.",
        ),
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option(help="Skip invalid items instead of stopping; the count is reported.")
    ] = False,
    judge: JudgeOption = None,
    judge_concurrency: JudgeConcurrencyOption = 4,
    jury: JuryOption = Jury.MEAN,
    judge_max_tokens: JudgeMaxTokensOption = 512,
    judge_attempts: JudgeAttemptsOption = 3,
    judge_api_key_env: JudgeKeyOption = None,
) -> None:
    """Play a suite against a model, score every turn, print a summary and the run directory.

    Turns scored `type: judge` are judged by the --judge models while the run plays."""
    if resume is not None:
        with open_run(resume) as store:
            config = store.config()
            try:
                check_available(plan_run(store.items(), config))
                client = client_for(config)
                role_clients = role_clients_for(config)
                judge_clients = judge_clients_for(config.judging, config.timeout_s)
            except (ModelConfigError, ValueError) as exc:
                fail(str(exc))
            err_console.print(f"resuming {store.run_dir}: {store.answered_count()} turns done")
            _play(client, lambda: store, judge_clients, role_clients)
            _print_summary(store)
        return

    try:
        loaded = resolve_suite(suite, skip_invalid=skip_invalid)
    except SuiteError as exc:
        fail(str(exc))
    for message in loaded.skipped:
        err_console.print(f"[yellow]skipped:[/yellow] {escape(message)}")
    for reason, count in loaded.left_out.items():
        err_console.print(f"[yellow]left out:[/yellow] {count} items: {escape(reason)}")
    items = loaded.suite.items[:limit] if limit else loaded.suite.items
    try:
        check_protocols(items)
    except ValueError as exc:
        fail(f"{suite}: {exc}")
    needs_judge = judged_turns(items)
    if needs_judge and not judge:
        fail(
            f"{needs_judge} turns of suite {suite!r} are scored by `type: judge`: "
            "give a judge model, e.g. --judge llamacpp or --judge openai:NAME@URL"
        )
    if judge and not needs_judge:
        err_console.print(
            "[yellow]no turn of this suite is scored by `type: judge`: --judge is ignored "
            "(to compare runs: `turnscope pairwise`)[/yellow]"
        )
    conditions = tuple(dict.fromkeys(variant or suite_conditions(loaded.conditions, items)))
    try:
        check_conditions(conditions, items)
    except ValueError as exc:
        fail(str(exc))
    root = runs_root(runs_dir)
    options = role_options(model_option or [])
    judging = judge_settings(
        (judge or []) if needs_judge else [],
        judge_concurrency,
        jury,
        judge_max_tokens,
        judge_attempts,
        judge_api_key_env,
        n_ctx,
    )
    if options.get("judge"):
        judging = judging.model_copy(update={"options": {**judging.options, **options["judge"]}})
    target_options = {"n_ctx": n_ctx} if model.startswith("llamacpp") else {}
    config = RunConfig(
        model=model,
        api_key_env=api_key_env,
        suite=suite,
        conditions=conditions,
        samples=samples,
        params=GenerationParams(
            max_tokens=max_tokens or loaded.max_tokens or DEFAULT_MAX_TOKENS,
            temperature=temperature,
        ),
        seed=seed,
        concurrency=concurrency,
        max_retries=max_retries,
        timeout_s=timeout,
        use_cache=not no_cache,
        cache_path=None if no_cache else str(default_cache_path(root)),
        model_options={**target_options, **options.get(TARGET_ROLE, {})},
        created_at=datetime.now(UTC),
        judging=judging,
        roles=serving_roles(role or [], role_param or [], options),
    )
    try:
        check_available(check_roles(items, config))
        client = client_for(config)
        role_clients = role_clients_for(config)
        judge_clients = judge_clients_for(judging, timeout)
    except (ModelConfigError, ValueError) as exc:
        fail(str(exc))

    def make_store() -> RunStore:
        store = create_run(config, items, root)
        if loaded.skipped:
            store.set_meta("skipped_invalid", len(loaded.skipped))
        if loaded.left_out:
            store.set_meta("suite_left_out", loaded.left_out)
        return store

    store = _play(client, make_store, judge_clients, role_clients)
    try:
        _print_summary(store)
    finally:
        store.close()
