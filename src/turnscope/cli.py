"""The `turnscope` command."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
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
from rich.table import Table

from turnscope import __version__
from turnscope.analysis import instruction_report, judge_report, summarise
from turnscope.analysis.compare import NoCommonItems, compare_runs
from turnscope.analysis.multiturn import analyse
from turnscope.analysis.ratings import RatingError
from turnscope.core import (
    GenerationParams,
    Item,
    JudgeSettings,
    JuryMethod,
    RunConfig,
    TurnRecord,
    Variant,
    content_text,
)
from turnscope.engine import Judge, ResponseCache, RetryPolicy, RunPlan
from turnscope.engine.judging import verdict_label
from turnscope.models import ModelClient, ModelConfigError, backends
from turnscope.pairwise import PairwiseResult, compare_all, judge_runs, rate, run_name
from turnscope.protocols import check_protocols
from turnscope.report import (
    render_instruction_report,
    render_judge_report,
    render_run_location,
    render_summary,
)
from turnscope.report.html import render_comparison_report, write_run_report
from turnscope.report.terminal import render_comparison, render_multiturn
from turnscope.run import (
    DEFAULT_RUNS_ROOT,
    client_for,
    create_run,
    default_cache_path,
    execute_run,
    judge_clients_for,
    judged_turns,
    make_judges,
)
from turnscope.store import (
    EXPORT_FORMATS,
    PAIRWISE_FILE,
    STORE_FILE,
    PairRecord,
    PairwiseStore,
    RunStore,
    StoredJudgment,
    StoreError,
    export_records,
)
from turnscope.suites import DEFAULT_SUITE, SuiteError, parse_seed, resolve_suite, suites

app = typer.Typer(
    name="turnscope",
    help=(
        "Evaluate language models turn by turn in multi-turn conversations.\n\n"
        "Quick start (offline, embedded model):  turnscope run\n\n"
        "Against a server:  turnscope run -m openai:MODEL@http://127.0.0.1:8080/v1"
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Piped output (logs, CI) is read in files, not 80-column terminals: do not fold tables there.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
RUNS_DIR_ENV = "TURNSCOPE_RUNS_DIR"
T = TypeVar("T")
DEFAULT_MAX_TOKENS = 192


def fail(message: str, code: int = 2) -> NoReturn:
    """One clear line on stderr and a non-zero exit: no traceback for a user's mistake."""
    err_console.print(
        f"[bold red]error:[/bold red] {escape(message)}",
        highlight=False,
        emoji=False,
        soft_wrap=True,  # one line, however long: scripts and tests read it as one
    )
    raise typer.Exit(code)


def runs_root(option: Path | None) -> Path:
    if option is not None:
        return option
    return Path(os.environ.get(RUNS_DIR_ENV) or DEFAULT_RUNS_ROOT)


@contextmanager
def open_run(run_dir: Path) -> Iterator[RunStore]:
    try:
        store = RunStore.open(run_dir)
    except StoreError as exc:
        fail(str(exc))
    try:
        yield store
    finally:
        store.close()


def version_callback(value: bool) -> None:
    if value:
        console.print(f"turnscope {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """turnscope: play conversations against a model, score every turn, see where it degrades."""


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
) -> RunStore:
    """Check the model and the judges, then open the store (so a bad model leaves no run
    behind) and play, judging alongside."""
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
            for judge in judge_clients:
                await judge.preflight()
            opened.append(make_store())
            # The bar starts only once the model answered the preflight: a bad spec or an
            # unreachable server leaves a single error line, not a dead progress bar.
            progress.start()
            outcome = await execute_run(
                opened[0],
                client,
                judge_clients=judge_clients,
                on_plan=display.on_plan,
                on_record=display.on_record,
                on_judged=display.on_judged,
            )
            if judge_clients:
                _print_judge_calls(outcome.judge_requests_sent, outcome.judge_cache_hits)
        finally:
            if progress.live.is_started:
                progress.stop()
            await client.aclose()
            for judge in judge_clients:
                await judge.aclose()

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
    no_reference = store.meta("skipped_without_reference") or 0
    if no_reference:
        console.print(
            f"[yellow]{no_reference} items were left out of the gold variant: a turn has no "
            "reference answer[/yellow]"
        )
    not_applicable = store.meta("skipped_feedback") or 0
    if not_applicable:
        console.print(
            f"[yellow]{not_applicable} feedback conversations were left out of the gold and "
            "single variants: the feedback protocol plays own history only[/yellow]"
        )
    render_multiturn(analyse(records, items), console)
    _write_report(store)
    render_run_location(store.run_dir, console)


# --- the judge role: options shared by run, pairwise and leaderboard ---------------------------

JudgeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--judge",
        help="Judge model spec (same syntax as --model) for turns scored `type: judge`; "
        "repeat for a jury.",
    ),
]
JudgeConcurrencyOption = Annotated[
    int, typer.Option(min=1, help="Judge requests in flight per judge (apart from --concurrency).")
]


class Jury(StrEnum):
    """--jury choices: how a jury's verdicts on one answer become one score."""

    MEAN = "mean"
    MEDIAN = "median"
    MAJORITY = "majority"


JuryOption = Annotated[
    Jury, typer.Option(help="How a jury's verdicts on one answer become one score.")
]
JudgeMaxTokensOption = Annotated[int, typer.Option(min=1, help="Max tokens per judge answer.")]
JudgeAttemptsOption = Annotated[
    int,
    typer.Option(
        min=1, help="Judge requests per judgment before unparseable text is a judge error."
    ),
]
JudgeKeyOption = Annotated[
    str | None,
    typer.Option(help="Environment variable holding the judges' API key (never stored)."),
]


def _print_judge_calls(sent: int, cached: int) -> None:
    err_console.print(f"judge requests: {sent} sent, {cached} answered from the cache")


def _judge_settings(
    judges: Sequence[str],
    concurrency: int,
    jury: Jury,
    max_tokens: int,
    attempts: int,
    api_key_env: str | None,
    n_ctx: int,
) -> JudgeSettings:
    methods: dict[Jury, JuryMethod] = {
        Jury.MEAN: "mean",
        Jury.MEDIAN: "median",
        Jury.MAJORITY: "majority",
    }
    return JudgeSettings(
        judges=tuple(dict.fromkeys(judges)),
        api_key_env=api_key_env,
        params=GenerationParams(max_tokens=max_tokens),
        concurrency=concurrency,
        jury=methods[jury],
        max_attempts=attempts,
        options={"n_ctx": n_ctx} if any(j.startswith("llamacpp") for j in judges) else {},
    )


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
        list[Variant] | None,
        typer.Option(
            "--variant",
            "-v",
            help="own (own history), gold (reference history), single "
            "(single-turn twin). Repeat to play several. Default: the suite's own "
            "(core and full: all three), else own.",
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
                client = client_for(config)
                judge_clients = judge_clients_for(config.judging, config.timeout_s)
            except ModelConfigError as exc:
                fail(str(exc))
            err_console.print(f"resuming {store.run_dir}: {store.answered_count()} turns done")
            _play(client, lambda: store, judge_clients)
            _print_summary(store)
        return

    try:
        loaded = resolve_suite(suite, skip_invalid=skip_invalid)
    except SuiteError as exc:
        fail(str(exc))
    for message in loaded.skipped:
        err_console.print(f"[yellow]skipped:[/yellow] {escape(message)}")
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
    root = runs_root(runs_dir)
    judging = _judge_settings(
        (judge or []) if needs_judge else [],
        judge_concurrency,
        jury,
        judge_max_tokens,
        judge_attempts,
        judge_api_key_env,
        n_ctx,
    )
    config = RunConfig(
        model=model,
        api_key_env=api_key_env,
        suite=suite,
        variants=tuple(dict.fromkeys(variant or loaded.variants or [Variant.OWN])),
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
        model_options={"n_ctx": n_ctx} if model.startswith("llamacpp") else {},
        created_at=datetime.now(UTC),
        judging=judging,
    )
    try:
        client = client_for(config)
        judge_clients = judge_clients_for(judging, timeout)
    except ModelConfigError as exc:
        fail(str(exc))

    def make_store() -> RunStore:
        store = create_run(config, items, root)
        if loaded.skipped:
            store.set_meta("skipped_invalid", len(loaded.skipped))
        return store

    store = _play(client, make_store, judge_clients)
    try:
        _print_summary(store)
    finally:
        store.close()


def _run_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / STORE_FILE).is_file())


@app.command(epilog="Example:  turnscope runs --runs-dir /data/turnscope-runs")
def runs(
    runs_dir: Annotated[
        Path | None, typer.Option(help="Directory holding run directories.")
    ] = None,
) -> None:
    """List run directories with model, suite, date, turns and mean score."""
    root = runs_root(runs_dir)
    dirs = _run_dirs(root)
    if not dirs:
        console.print(f"no runs under {root}")
        return
    table = Table(title=f"runs under {root}", title_justify="left")
    table.add_column("run", no_wrap=True)
    counts = ("turns", "errors", "judge errors")
    for column in ("model", "suite", "started", *counts, "mean", "status"):
        table.add_column(column, justify="right" if column in counts else "left")
    for run_dir in dirs:
        try:
            store = RunStore.open(run_dir)
        except StoreError as exc:
            table.add_row(run_dir.name, "-", "-", "-", "-", "-", "-", "-", f"unreadable: {exc}")
            continue
        try:
            config = store.config()
            mean = store.mean_score()
            errors = store.turn_count() - store.answered_count()
            table.add_row(
                run_dir.name,
                config.model,
                config.suite,
                f"{config.created_at:%m-%d %H:%M}",
                str(store.turn_count()),
                str(errors),
                str(store.judge_error_count()),
                f"{mean:.3f}" if mean is not None else "-",
                store.status(),
            )
        finally:
            store.close()
    console.print(table)


def _turns_at_most(item: Item) -> int:
    """Turns a conversation of the item can record (a feedback item: its attempt budget)."""
    return item.feedback.budget if item.feedback is not None else len(item.turns)


def _score_text(record: TurnRecord) -> str:
    if record.error:
        return f"[red]error: {escape(record.error)}[/red]"
    parts = []
    for score in record.scores:
        if score.error:
            parts.append(f"[red]{score.scorer}: error: {escape(score.error)}[/red]")
        else:
            detail = f" ({escape(score.detail)})" if score.detail else ""
            parts.append(f"{score.scorer}={score.value:.2f}{detail}")
    return "; ".join(parts) or "not scored"


def _print_judgment(stored: StoredJudgment) -> None:
    """One judgment as `show` audits it: the parsed verdict (or the error) next to the raw
    text of every attempt."""
    j = stored.judgment
    parsed = (
        f"[red]judge error: {escape(j.error or 'no verdict')}[/red]"
        if j.verdict is None
        else f"parsed: {escape(verdict_label(j.verdict))}"
    )
    console.print(f"[bold magenta]judge {escape(j.judge)}[/bold magenta] ({j.kind}): {parsed}")
    for number, attempt in enumerate(j.attempts, start=1):
        raw = escape(attempt.text) if attempt.text is not None else "[dim](no text)[/dim]"
        note = " (cached)" if attempt.cached else ""
        console.print(f"  [dim]attempt {number}{note} raw:[/dim] {raw}")
        if attempt.error:
            console.print(f"    [red]-> {escape(attempt.error)}[/red]")


@app.command(
    epilog=(
        "Examples:\n\n"
        "  turnscope show turnscope-runs/20261122-101500-llamacpp-starter\n\n"
        "  turnscope show turnscope-runs/20261122-101500-llamacpp-starter --item recall-pet"
    )
)
def show(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    item: Annotated[
        str | None, typer.Option(help="Show this item's conversation turn by turn.")
    ] = None,
) -> None:
    """Show a run: per-item scores, or one conversation with per-turn scores and errors."""
    with open_run(run_dir) as store:
        items = {it.id: it for it in store.items()}
        if item is None:
            table = Table(title=f"{run_dir}: items", title_justify="left")
            for column in ("item", "category", "variant", "sample", "turns", "mean", "errors"):
                table.add_column(column)
            grouped: dict[tuple[str, str, int], list[TurnRecord]] = {}
            for record in store.records():
                key = (record.item_id, record.variant.value, record.sample)
                grouped.setdefault(key, []).append(record)
            for (item_id, var, sample), records in grouped.items():
                values = [r.score for r in records if r.score is not None]
                mean = f"{sum(values) / len(values):.3f}" if values else "-"
                errs = sum(r.error is not None for r in records)
                table.add_row(
                    item_id,
                    items[item_id].category,
                    var,
                    str(sample),
                    f"{len(records)}/{_turns_at_most(items[item_id])}",
                    mean,
                    str(errs),
                )
            console.print(table)
            console.print("See one conversation with --item ID")
            return
        if item not in items:
            fail(f"{run_dir}: no item {item!r} in this run")
        records = list(store.records(item_id=item))
        if not records:
            console.print(f"item {item!r} has no recorded turns yet")
            return
        judgments: dict[tuple[Variant, int, int], list[StoredJudgment]] = {}
        for stored in store.all_judgments(item_id=item):
            judgments.setdefault((stored.variant, stored.sample, stored.turn), []).append(stored)
        for record in records:
            console.rule(
                f"{item} | {record.variant.value} | sample {record.sample} | turn {record.turn}"
            )
            for message in record.new_messages:
                console.print(
                    f"[bold]{message.role}:[/bold] {escape(content_text(message.content))}"
                )
            if record.response is not None:
                console.print(f"[bold green]assistant:[/bold green] {escape(record.response)}")
            console.print(f"[dim]score:[/dim] {_score_text(record)}")
            meta = (
                f"tokens {record.prompt_tokens}/{record.completion_tokens}, "
                f"latency {record.latency_s:.2f}s, retries {record.retries}"
                + (", cached" if record.cached else "")
            )
            console.print(f"[dim]{meta}[/dim]")
            for stored in judgments.get((record.variant, record.sample, record.turn), []):
                _print_judgment(stored)


@app.command(
    epilog=(
        "Examples:\n\n"
        "  turnscope export RUN_DIR > turns.jsonl\n\n"
        "  turnscope export RUN_DIR --format csv -o turns.csv"
    )
)
def export(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="jsonl or csv.")] = "jsonl",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write (default: standard output)."),
    ] = None,
) -> None:
    """Export one record per turn (item_id, turn, variant, sample, response, error, scores ...)."""
    if fmt not in EXPORT_FORMATS:
        fail(f"unknown format {fmt!r}: use {' or '.join(EXPORT_FORMATS)}")
    with open_run(run_dir) as store:
        if output is None:
            export_records(store.records(), fmt, sys.stdout)
            return
        try:
            with output.open("w", encoding="utf-8", newline="") as handle:
                count = export_records(store.records(), fmt, handle)
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror}")
        err_console.print(f"wrote {count} records to {output}")


@app.command(
    epilog="Example:  turnscope models && turnscope run -m openai:NAME@http://127.0.0.1:8080/v1"
)
def models() -> None:
    """List model backends, whether they are ready, and spec examples."""
    for info in backends():
        console.print(f"[bold]{info.name}[/bold]  {escape(info.summary)}")
        console.print(f"  status:   {escape(info.status())}", soft_wrap=True)
        for example in info.examples:
            console.print(f"  example:  --model {escape(example)}", soft_wrap=True)
    console.print("Use a spec with:  turnscope run --model SPEC")


@app.command(name="suites", epilog="Example:  turnscope suites && turnscope run -s core:7")
def list_suites() -> None:
    """List the built-in suites (any .jsonl/.yaml file works too: --suite FILE)."""
    table = Table(title="built-in suites", title_justify="left")
    table.add_column("--suite", no_wrap=True)
    table.add_column("what")
    for info in suites():
        table.add_row(
            info.usage + (" (default)" if info.name == DEFAULT_SUITE else ""), info.summary
        )
    console.print(table)


# --- HTML reports and run comparison -------------------------------------------------------


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
        "  turnscope report turnscope-runs/20261122-101500-llamacpp-core\n\n"
        "  turnscope report RUN_DIR -o /tmp/report.html"
    )
)
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write (default: RUN_DIR/report.html)."),
    ] = None,
) -> None:
    """(Re)build a run's self-contained HTML report: headline figures, plots, worst transcripts."""
    with open_run(run_dir) as store:
        try:
            path = write_run_report(store, output)
        except OSError as exc:
            fail(f"cannot write {output or run_dir}: {exc.strerror or exc}")
    console.print(f"report: [bold]{path}[/bold]")


@app.command(
    epilog=(
        "Examples:\n\n"
        "  turnscope compare turnscope-runs/RUN_A turnscope-runs/RUN_B\n\n"
        "  turnscope compare RUN_A RUN_B -o ab.html --resamples 5000"
    )
)
def compare(
    run_a: Annotated[Path, typer.Argument(help="The baseline run directory (A).")],
    run_b: Annotated[Path, typer.Argument(help="The run compared against it (B).")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="HTML file to write (default: compare-A-vs-B.html next to RUN_B).",
        ),
    ] = None,
    resamples: Annotated[int, typer.Option(min=100, help="Bootstrap resamples.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap resamples.")] = 0,
) -> None:
    """Compare two runs item by item: B minus A per family and overall, paired test, HTML."""
    with open_run(run_a) as store_a, open_run(run_b) as store_b:
        records_a, items_a = store_a.turn_scores(), store_a.items()
        records_b, items_b = store_b.turn_scores(), store_b.items()
        config_a, config_b = store_a.config(), store_b.config()
    label_a, label_b = run_a.resolve().name, run_b.resolve().name
    try:
        comparison = compare_runs(
            records_a,
            items_a,
            records_b,
            items_b,
            label_a=label_a,
            label_b=label_b,
            resamples=resamples,
            seed=seed,
        )
    except NoCommonItems as exc:
        fail(str(exc))
    render_comparison(comparison, console)
    html = render_comparison_report(
        comparison,
        analyse(records_a, items_a, resamples=resamples, seed=seed),
        analyse(records_b, items_b, resamples=resamples, seed=seed),
        config_a=config_a,
        config_b=config_b,
    )
    target = output or run_b.resolve().parent / f"compare-{label_a}-vs-{label_b}.html"
    try:
        target.write_text(html, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror or exc}")
    console.print(f"comparison report: [bold]{target}[/bold]")


# --- end of HTML reports and run comparison ------------------------------------------------


# --- the judge role: pairwise comparisons and leaderboards ------------------------------------


def _pairwise_root(runs_dir: Path | None, first_run: Path) -> Path:
    """Where pairwise.sqlite and the response cache live: --runs-dir, else the first run's
    parent (the runs directory it was made in)."""
    return runs_dir if runs_dir is not None else first_run.resolve().parent


def _judge_pairs(
    run_dirs: Sequence[Path],
    settings: JudgeSettings,
    root: Path,
    compare: Callable[
        [list[RunStore], list[Judge], PairwiseStore, Callable[[PairRecord], None]], Awaitable[T]
    ],
) -> T:
    """Open the runs, check the judges, and run `compare` with judges that share the
    response cache under `root`; pairwise verdicts go to root/pairwise.sqlite. `compare`
    reports each new comparison to the callback it is given (a live count)."""
    stores: list[RunStore] = []
    try:
        for run_dir in run_dirs:
            try:
                stores.append(RunStore.open(run_dir))
            except StoreError as exc:
                fail(str(exc))
        names = [run_name(s) for s in stores]
        if len(set(names)) != len(names):
            fail("two runs have the same directory name; give each run once")
        try:
            clients = judge_clients_for(settings, timeout_s=120.0)
        except ModelConfigError as exc:
            fail(str(exc))
        cache = ResponseCache(default_cache_path(root))
        pairs = PairwiseStore(root / PAIRWISE_FILE)
        progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
        )
        task = progress.add_task("new comparisons", total=None)

        async def go() -> T:
            try:
                for client in clients:
                    await client.preflight()
                judges = make_judges(settings, clients, RetryPolicy(), cache)
                progress.start()
                result = await compare(
                    stores, judges, pairs, lambda _: progress.update(task, advance=1)
                )
                progress.stop()
                _print_judge_calls(
                    sum(j.caller.requests_sent for j in judges),
                    sum(j.caller.cache_hits for j in judges),
                )
                return result
            finally:
                if progress.live.is_started:
                    progress.stop()
                for client in clients:
                    await client.aclose()

        try:
            return asyncio.run(go())
        except ModelConfigError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            err_console.print(
                f"\n[yellow]interrupted.[/yellow] Comparisons made so far are stored in "
                f"{pairs.path}; the same command continues from there."
            )
            raise typer.Exit(130) from None
        finally:
            cache.close()
            pairs.close()
    finally:
        for store in stores:
            store.close()


def _pairwise_settings(
    judges: Sequence[str] | None,
    concurrency: int,
    max_tokens: int,
    attempts: int,
    api_key_env: str | None,
) -> JudgeSettings:
    """The judges of `pairwise` and `leaderboard` (one verdict per judge: no jury method)."""
    if not judges:
        fail("give a judge model: --judge SPEC (e.g. --judge llamacpp)")
    return _judge_settings(judges, concurrency, Jury.MEAN, max_tokens, attempts, api_key_env, 4096)


def _render_pairs(results: Sequence[PairwiseResult]) -> None:
    table = Table(
        title="pairwise comparisons (both orders per judge and turn)", title_justify="left"
    )
    for column in (
        "run A",
        "run B",
        "A wins",
        "B wins",
        "ties",
        "inconsistent",
        "judge errors",
        "reused",
        "skipped items",
    ):
        table.add_column(column, justify="left" if column.startswith("run") else "right")
    for r in results:
        table.add_row(
            r.run_a,
            r.run_b,
            str(r.count("a")),
            str(r.count("b")),
            str(r.count("tie")),
            str(r.inconsistent),
            str(r.errors),
            str(r.reused),
            str(r.skipped_items),
        )
    console.print(table)
    report = judge_report(pairs=[rec for r in results for rec in r.records])
    if report is not None:
        render_judge_report(report, console)


@app.command(
    epilog=(
        "Examples:\n\n"
        "  turnscope pairwise RUN_A RUN_B --judge llamacpp\n\n"
        "  turnscope pairwise RUN_A RUN_B --judge openai:judge@http://127.0.0.1:8080/v1 "
        "--judge-concurrency 16"
    )
)
def pairwise(
    run_a: Annotated[Path, typer.Argument(help="A run directory.")],
    run_b: Annotated[Path, typer.Argument(help="Another run directory, of the same suite.")],
    judge: JudgeOption = None,
    judge_concurrency: JudgeConcurrencyOption = 4,
    judge_max_tokens: JudgeMaxTokensOption = 512,
    judge_attempts: JudgeAttemptsOption = 3,
    judge_api_key_env: JudgeKeyOption = None,
    runs_dir: Annotated[
        Path | None,
        typer.Option(help="Where pairwise.sqlite and the cache live (default: RUN_A's parent)."),
    ] = None,
) -> None:
    """Judge two runs' answers turn by turn, each pair in both orders (position swap)."""
    settings = _pairwise_settings(
        judge, judge_concurrency, judge_max_tokens, judge_attempts, judge_api_key_env
    )

    async def compare(
        stores: list[RunStore],
        judges: list[Judge],
        pairs: PairwiseStore,
        on_pair: Callable[[PairRecord], None],
    ) -> PairwiseResult:
        return await judge_runs(stores[0], stores[1], judges, settings, pairs, on_pair=on_pair)

    root = _pairwise_root(runs_dir, run_a)
    result = _judge_pairs([run_a, run_b], settings, root, compare)
    if not result.records:
        fail(f"{run_a} and {run_b} have no answered turn of the same item in common")
    _render_pairs([result])
    console.print(f"pairwise verdicts: [bold]{root / PAIRWISE_FILE}[/bold]")


@app.command(
    name="leaderboard",
    epilog=(
        "Examples:\n\n"
        "  turnscope leaderboard RUN_A RUN_B RUN_C --judge llamacpp\n\n"
        "  turnscope leaderboard turnscope-runs/*mt-bench* --judge openai:judge@URL"
    ),
)
def leaderboard_command(
    run_dirs: Annotated[list[Path], typer.Argument(help="Two or more run directories.")],
    judge: JudgeOption = None,
    judge_concurrency: JudgeConcurrencyOption = 4,
    judge_max_tokens: JudgeMaxTokensOption = 512,
    judge_attempts: JudgeAttemptsOption = 3,
    judge_api_key_env: JudgeKeyOption = None,
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap resamples of items.")] = 1000,
    runs_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where pairwise.sqlite and the cache live (default: first run's parent)."
        ),
    ] = None,
) -> None:
    """Rate runs by Bradley–Terry over pairwise judgments of every pair (95 % intervals)."""
    settings = _pairwise_settings(
        judge, judge_concurrency, judge_max_tokens, judge_attempts, judge_api_key_env
    )
    if len(run_dirs) < 2:
        fail("a leaderboard needs two or more runs")

    async def compare(
        stores: list[RunStore],
        judges: list[Judge],
        pairs: PairwiseStore,
        on_pair: Callable[[PairRecord], None],
    ) -> tuple[list[PairwiseResult], dict[str, str]]:
        models = {run_name(s): s.config().model for s in stores}
        return await compare_all(stores, judges, settings, pairs, on_pair=on_pair), models

    root = _pairwise_root(runs_dir, run_dirs[0])
    results, models = _judge_pairs(run_dirs, settings, root, compare)
    _render_pairs(results)
    try:
        ratings = rate(results, sorted(models), bootstrap=bootstrap)
    except RatingError as exc:
        fail(f"no ratings: {exc}")
    table = Table(title="leaderboard (Bradley–Terry, 1000 = average)", title_justify="left")
    for column in ("rank", "run", "model", "rating", "95% interval", "wins", "losses", "ties"):
        table.add_column(column, justify="left" if column in ("run", "model") else "right")
    for rank, rating in enumerate(ratings, start=1):
        table.add_row(
            str(rank),
            rating.model,
            models.get(rating.model, "?"),
            f"{rating.rating:.0f}",
            f"{rating.low:.0f} – {rating.high:.0f}",
            str(rating.wins),
            str(rating.losses),
            str(rating.ties),
        )
    console.print(table)


@app.command(
    epilog=(
        "Examples:\n\n"
        "  turnscope generate core -o core.jsonl\n\n"
        "  turnscope generate full --seed 7 -o full-7.jsonl && turnscope run -s full-7.jsonl"
    )
)
def generate(
    suite: Annotated[
        str, typer.Argument(help="A generated built-in suite: core or full (or core:SEED).")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The JSONL file to write (one item a line).")
    ],
    seed: Annotated[
        int, typer.Option(min=0, help="Suite seed: the same seed gives the same file.")
    ] = 0,
) -> None:
    """Write a generated built-in suite as JSONL, for inspection or reuse (--suite FILE)."""
    from turnscope.suites.builtin import RECIPES, build, write_jsonl

    name, colon, argument = suite.partition(":")
    if name not in RECIPES:
        fail(f"{suite}: not a generated suite (generated: {', '.join(RECIPES)})")
    if colon:
        try:
            named_seed = parse_seed(name, argument)
        except SuiteError as exc:
            fail(str(exc))
        if seed not in (0, named_seed):
            fail(f"{suite} and --seed {seed} name two different seeds: give one")
        seed = named_seed
    built = build(RECIPES[name], seed)
    try:
        count = write_jsonl(built.items, output)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    turns = sum(len(item.turns) for item in built.items)
    err_console.print(f"wrote {count} items ({turns} turns) of {built.name} to {output}")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
