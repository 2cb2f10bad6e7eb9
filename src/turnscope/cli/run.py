"""`turnscope run`: play a suite (or resume a run), judge alongside, print the summary."""

from __future__ import annotations

import os
import re
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
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

from turnscope.analysis import (
    flag_report,
    headline_scores,
    instruction_report,
    item_families,
    judge_report,
    played_conversations,
    summarise,
)
from turnscope.analysis.compare import NoCommonItems, compare_runs
from turnscope.analysis.multiturn import MultiTurnAnalysis, analyse
from turnscope.analysis.rows import ScoredTurn
from turnscope.cli._app import (
    DEFAULT_MAX_TOKENS,
    HEADLINE_META,
    REPLICAS_META,
    RUNS_DIR_ENV,
    Command,
    _print_error,
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
from turnscope.cli.browse import run_headlines
from turnscope.core import (
    TARGET_ROLE,
    GenerationParams,
    Item,
    JudgeSettings,
    RoleSettings,
    RunConfig,
    TurnRecord,
    judge_prompts_of,
)
from turnscope.distributed import (
    RayOptions,
    RayUnavailable,
    check_room,
    connect,
    disconnect,
)
from turnscope.distributed_judging import JudgeActorCounts, check_judge_room
from turnscope.engine import EventLoopError, RunPlan, plan_run, run_loop
from turnscope.models import ModelClient, ModelConfigError
from turnscope.models.llamacpp import DEFAULT_N_CTX, embedded_path
from turnscope.models.machine import default_workers, worker_memory
from turnscope.models.pool import EndpointPool
from turnscope.models.workers import WorkerPool
from turnscope.protocols import check_conditions, check_protocols, get_protocol
from turnscope.report import (
    RunTallies,
    render_flag_report,
    render_instruction_report,
    render_judge_report,
    render_run_location,
    render_summary,
)
from turnscope.report.html import write_run_report
from turnscope.report.safe import cell, markup
from turnscope.report.terminal import interval_text, paired_text, render_multiturn
from turnscope.run import (
    DEFAULT_RUNS_ROOT,
    RunOutcome,
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
from turnscope.store import RunStore, StoreError, TurnScores, gc_paused
from turnscope.suites import DEFAULT_SUITE, SuiteError, resolve_suite

MAX_SAMPLES = 1000
"""Plays per conversation at most: more is a mistake (a typo of 100), and it is planned up front."""
MAX_RETRY_FOR_S = 86400.0
MAX_WORKERS = 256
"""Embedded worker processes at most: each loads the model, so more is a typo."""
WORKERS_ENV = "TURNSCOPE_WORKERS"
"""The environment variable that sets --workers for every run (the test suite pins 1)."""


PROGRESS_PUSH_S = 0.1
"""How often finished turns are handed to the bar at most: it redraws ten times a second, and
updating it for every turn was a measurable share of a turn's CPU against a fast server."""


class _ProgressDisplay:
    """A live bar over turns; finished turns of a resumed run start it off."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("turns", total=None)
        self.errors = 0
        self.judged: TaskID | None = None
        self.store: RunStore | None = None
        self._unshown = 0
        self._pushed = 0.0

    def on_plan(self, plan: RunPlan, already_done: int) -> None:
        if self.store is not None:
            _print_header(self.store, plan, already_done)
        self.progress.update(self.task, total=plan.total_turns, completed=already_done)

    def on_turn(self, role: str, failed: bool) -> None:
        if role != TARGET_ROLE:
            return  # the bar counts the target's turns; a simulated user's are not in its total
        self.errors += failed
        self._unshown += 1
        now = time.monotonic()
        if now - self._pushed >= PROGRESS_PUSH_S:
            self._pushed = now
            self.flush()

    def flush(self) -> None:
        """Show every finished turn counted so far."""
        label = f"turns ({self.errors} errors)" if self.errors else "turns"
        self.progress.update(self.task, advance=self._unshown, description=label)
        self._unshown = 0

    def on_turns_left_out(self, count: int) -> None:
        self._unshown += count
        self.flush()

    def on_judged(self, record: TurnRecord) -> None:
        if self.judged is None:
            self.judged = self.progress.add_task("judged turns", total=None)
        self.progress.update(self.judged, advance=1)


def _play(
    client: ModelClient,
    make_store: Callable[[], RunStore],
    judge_clients: Sequence[ModelClient] = (),
    role_clients: dict[str, ModelClient] | None = None,
    items: Sequence[Item] | None = None,
    *,
    ray: RayOptions | None = None,
) -> RunStore:
    """Check the model, the serving roles and the judges, then open the store (so a bad model
    leaves no run behind) and play, judging alongside (on Ray actors with `ray`)."""
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
            display.store = opened[0]
            # The bar starts only once the model answered the preflight: a bad spec or an
            # unreachable server leaves a single error line, not a dead progress bar.
            progress.start()
            outcome = await execute_run(
                opened[0],
                client,
                role_clients=roles,
                judge_clients=judge_clients,
                on_plan=display.on_plan,
                on_turn=display.on_turn,
                on_turns_left_out=display.on_turns_left_out,
                on_judged=display.on_judged,
                items=items,
                ray=ray,
            )
            if outcome.served_by:
                _print_served(outcome)
            if outcome.judge_actors is not None:
                _print_judged_by(outcome.judge_actors)
            if judge_clients:
                print_judge_calls(outcome.judge_requests_sent, outcome.judge_cache_hits)
            if isinstance(client, EndpointPool | WorkerPool):
                _print_pool(client)
                _keep_replica_counts(opened[0], client)
        finally:
            if progress.live.is_started:
                display.flush()
                progress.stop()
            await client.aclose()
            for served in (*roles.values(), *judge_clients):
                await served.aclose()

    try:
        run_loop(go())
    except (ModelConfigError, StoreError, RayUnavailable, EventLoopError) as exc:
        fail(str(exc))
    except (sqlite3.OperationalError, OSError) as exc:
        # The disk filled up, or the run or cache directory became read-only, mid-run: every
        # turn committed before is safe; say so and how to continue.
        where = f" in {opened[0].run_dir}" if opened else ""
        resume = f"; then resume with: turnscope run --resume {opened[0].run_dir}" if opened else ""
        fail(
            f"cannot write the run store or the response cache{where}: {exc}; free some space "
            f"or fix the permissions{resume}"
        )
    except KeyboardInterrupt:
        if not opened:
            raise typer.Exit(130) from None
        run_dir = opened[0].run_dir
        err_console.print(
            f"\n[yellow]interrupted.[/yellow] Every finished turn is saved in {markup(run_dir)}.\n"
            f"Resume with:  turnscope run --resume {markup(run_dir)}"
        )
        raise typer.Exit(130) from None
    return opened[0]


def _print_served(outcome: RunOutcome) -> None:
    """Turns each Ray actor played in this pass, and the actors lost on the way."""
    parts = [f"{markup(label)} {count} turns" for label, count in sorted(outcome.served_by.items())]
    lost = (
        f"; {outcome.actors_lost} actors lost, their conversations finished on the others"
        if outcome.actors_lost
        else ""
    )
    err_console.print(f"served by: {'; '.join(parts)}{lost}", highlight=False)


def _print_judged_by(counts: JudgeActorCounts) -> None:
    """Judge requests each Ray judge actor served, and the actors lost on the way."""
    parts = [f"{markup(label)} {n} requests" for label, n in sorted(counts.served_by.items())]
    lost = (
        f"; {counts.lost} judge actors lost, {counts.resent} requests sent again"
        if counts.lost
        else ""
    )
    err_console.print(f"judged by: {'; '.join(parts) or 'no request'}{lost}", highlight=False)


LOCAL_RAY = "local"
"""What `--ray` without an address stands for: start Ray on this machine."""


def _ray_options(
    address: str | None,
    actors: int | None,
    resources: Sequence[str],
    judge_actors: int | None = None,
    judge_resources: Sequence[str] = (),
) -> RayOptions | None:
    """The Ray settings of --ray, --ray-actors, --ray-resource and their --ray-judge-*
    counterparts; one-line errors."""
    if address is None:
        if actors is not None or resources or judge_actors is not None or judge_resources:
            fail("--ray-actors, --ray-resource and --ray-judge-* need --ray")
        return None
    return RayOptions(
        address=None if address == LOCAL_RAY else address,
        actors=actors,
        resources=_ray_resources("--ray-resource", resources, {"CPU": 1.0}),
        judge_actors=judge_actors,
        judge_resources=_ray_resources("--ray-judge-resource", judge_resources, {}),
    )


def _ray_resources(option: str, entries: Sequence[str], base: dict[str, float]) -> dict[str, float]:
    """`base` with each NAME=AMOUNT of `option` set; one-line errors."""
    asked = dict(base)
    for entry in entries:
        name, sep, amount = entry.partition("=")
        try:
            value = float(amount)
        except ValueError:
            value = -1.0
        if not sep or not name.strip() or not 0 <= value < 1e9:
            fail(f"{option} {entry[:100]!r}: expected NAME=AMOUNT, e.g. GPU=1 or CPU=0.5")
        asked[name.strip()] = value
    return asked


RAY_CONNECT_TIMEOUT_S = 60.0
"""How long joining a Ray cluster may take: a head that accepts connections but does not answer
as Ray (another service on the port, or a cluster that wants a token) makes Ray retry for
minutes."""


@contextmanager
def _ray_connected(options: RayOptions | None) -> Iterator[None]:
    """Ray joined (or started) for the block when the run plays on it: an unreachable or
    silent cluster is one error line before any run directory is made."""
    if options is None:
        yield
        return
    # Ray's own processes write their retries to the standard error, many lines a second:
    # they are held aside while Ray starts, and the last one is quoted if it never does.
    with tempfile.TemporaryFile() as said:
        saved = os.dup(2)
        sys.stderr.flush()
        os.dup2(said.fileno(), 2)

        def restored() -> str:
            os.dup2(saved, 2)
            said.seek(0)
            lines = said.read()[-2000:].decode("utf-8", "replace").strip().splitlines()
            return lines[-1].split("] ", 1)[-1] if lines else ""

        def give_up() -> None:
            last = restored()
            where = str(options.address)[:200]
            _print_error(
                f"no answer from Ray at {where!r} within {RAY_CONNECT_TIMEOUT_S:.0f} s"
                + (f": {last[:300]}" if last else "")
                + " (a cluster with token authentication needs RAY_AUTH_MODE=token)"
            )
            sys.stderr.flush()
            os._exit(2)  # Ray's connection attempt cannot be cancelled from Python

        # Only joining a cluster can hang this way; starting Ray here fails by itself.
        watchdog = threading.Timer(RAY_CONNECT_TIMEOUT_S, give_up)
        watchdog.daemon = True
        if options.address is not None:
            watchdog.start()
        made = False
        try:
            made = connect(options.address)
            check_room(options)
            check_judge_room(options)
        except RayUnavailable as exc:
            refused: RayUnavailable | None = exc
            if made:
                disconnect()
        else:
            refused = None
        finally:
            watchdog.cancel()
            restored()
            os.close(saved)
    if refused is not None:
        fail(str(refused))
    try:
        yield
    finally:
        if made:
            disconnect()


def _print_pool(pool: EndpointPool | WorkerPool) -> None:
    """Requests and errors per server of a pool or per embedded worker, and how many requests
    had to move to another server or worker than their conversation's."""
    parts = [
        f"{markup(label)} {sent} requests ({errors} errors)"
        for label, sent, errors in pool.counts()
    ]
    if isinstance(pool, WorkerPool):
        err_console.print(
            f"workers: {'; '.join(parts)}; restarted: {pool.restarts}; history sent again: "
            f"{pool.moved}"
        )
        return
    err_console.print(f"servers: {'; '.join(parts)}; moved to another server: {pool.moved}")


def _keep_replica_counts(store: RunStore, pool: EndpointPool | WorkerPool) -> None:
    """Add this pass's requests and errors per replica to the run's meta, where a resumed
    pass adds its own: `turnscope show` and `runs --json` give the run's totals."""
    kept = store.meta(REPLICAS_META)
    totals: dict[str, Any] = kept if isinstance(kept, dict) else {}
    by_replica = totals.setdefault("by_replica", {})
    for label, sent, errors in pool.counts():
        counts = by_replica.setdefault(label, {"requests": 0, "errors": 0})
        counts["requests"] += sent
        counts["errors"] += errors
    totals["kind"] = "workers" if isinstance(pool, WorkerPool) else "servers"
    totals["moved"] = totals.get("moved", 0) + pool.moved
    totals["restarts"] = totals.get("restarts", 0) + (
        pool.restarts if isinstance(pool, WorkerPool) else 0
    )
    store.set_meta(REPLICAS_META, totals)


def _chosen(
    items: Sequence[Item], ids: Sequence[str], families: Sequence[str], suite: str
) -> tuple[Item, ...]:
    """The items --item and --family select (all when neither is given); one-line error for
    an id or family the suite does not have."""
    known_ids = {it.id for it in items}
    missing = [i for i in ids if i not in known_ids]
    if missing:
        fail(f"{suite}: no item {missing[0]!r} (see `turnscope generate` or the suite file)")

    family_of = item_families(items)
    known_families = set(family_of.values())
    unknown = [f for f in families if f not in known_families]
    if unknown:
        fail(f"{suite}: no family {unknown[0]!r} (families: {', '.join(sorted(known_families))})")
    return tuple(
        it
        for it in items
        if (not ids or it.id in ids) and (not families or family_of[it.id] in families)
    )


def _print_header(store: RunStore, plan: RunPlan, already_done: int) -> None:
    """What is about to be played and where it goes, before the first turn."""
    config = store.config()
    items = len({c.item.id for c in plan.conversations})
    resumed = f", {already_done} already done" if already_done else ""
    err_console.print(
        f"[bold]{markup(config.model)}[/bold] on [bold]{markup(config.suite)}[/bold]: "
        f"{items} items × conditions {markup(', '.join(config.conditions))} × "
        f"{config.samples} sample(s) = {len(plan.conversations)} conversations, up to "
        f"{plan.total_turns} turns{resumed}"
        + (f", judge prompts: {markup(config.judge_prompts)}" if config.judge_prompts else "")
        + f"\nrun directory: {markup(store.run_dir)}",
        highlight=False,
    )


def _duration(text: str, option: str) -> float:
    """Seconds from "90", "90s", "5m" or "1h"; one-line error otherwise."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if match is None:
        fail(f"{option} {text!r}: expected a duration such as 90s, 5m or 1h")
    seconds = float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]
    if not 0 < seconds <= MAX_RETRY_FOR_S:
        fail(f"{option} {text!r}: must be more than 0 s and at most 24 h")
    return seconds


def _print_summary(store: RunStore, items: Sequence[Item] | None = None) -> None:
    config = store.config()
    items = store.items() if items is None else items
    # Every figure comes from the turns' scores and errors, read once; transcripts are read
    # only for the conversations the report shows, so memory does not grow with the answers.
    with gc_paused():
        rows = store.turn_scores()
    analysis = analyse(rows, items, serving=store.serving_scores())
    summary = summarise(rows, store.turn_totals())
    render_summary(summary, analysis, console, title=f"{config.model} on {config.suite}")
    instructions = instruction_report(rows)
    if instructions is not None:
        render_instruction_report(instructions, console)
    tallies = RunTallies(
        judges=judge_report(store.all_judgments()),
        flags=flag_report(store.turn_flags(), played_conversations(rows)),
    )
    if tallies.judges is not None:
        render_judge_report(tallies.judges, console)
    skipped = store.meta("skipped_invalid") or 0
    if skipped:
        console.print(f"[yellow]{skipped} invalid items were skipped (--skip-invalid)[/yellow]")
    suite_left_out = store.meta("suite_left_out") or {}
    for reason, count in suite_left_out.items() if isinstance(suite_left_out, dict) else ():
        console.print(f"[yellow]left out: {count} items: {markup(reason)}[/yellow]")
    left_out = store.meta("skipped") or {}
    for line in left_out_lines(left_out if isinstance(left_out, dict) else {}):
        console.print(f"[yellow]{markup(line)}[/yellow]")
    render_multiturn(analysis, console)
    if tallies.flags is not None:
        render_flag_report(tallies.flags, console)
    _write_report(store, rows, analysis, items, tallies)
    render_run_location(store.run_dir, console)
    failed, outages = store.failed_count(), store.judge_outage_count()
    if failed or outages:
        what = [f"{failed} turns failed, each ending its conversation there"] if failed else []
        if outages:
            what.append(f"{outages} judgments were lost to a judge outage")
        err_console.print(
            f"[yellow]incomplete:[/yellow] {'; '.join(what)} (see the errors above). Once the "
            "cause is fixed, play them with:\n"
            f"  turnscope run --resume {markup(store.run_dir)}"
        )


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


def _write_report(
    store: RunStore,
    rows: Sequence[ScoredTurn] | None = None,
    analysis: MultiTurnAnalysis | None = None,
    items: Sequence[Item] | None = None,
    tallies: RunTallies | None = None,
) -> None:
    """Keep the run's headline in its meta (what `turnscope runs` lists) and write
    RUN_DIR/report.html (from the summary's rows, analysis, items and tallies when it has
    them); a failure to write the report never loses the run."""
    if rows is None or analysis is None:
        with gc_paused():
            rows = store.turn_scores()
        analysis = analyse(rows, store.items(), serving=store.serving_scores())
    store.set_meta(
        HEADLINE_META,
        {c: h.model_dump() for c, h in headline_scores(analysis).items()},
    )
    try:
        path = write_run_report(store, rows=rows, analysis=analysis, items=items, tallies=tallies)
    except OSError as exc:
        err_console.print(f"[yellow]could not write the HTML report: {markup(exc)}[/yellow]")
        return
    console.print(f"report: [bold]{markup(path)}[/bold]")


class _RunCommand(Command):
    """`turnscope run`: `--ray` may come without a value (start Ray on this machine), which
    Click's options cannot say themselves: a bare `--ray` gets the value LOCAL_RAY."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        given = list(args)
        for at in reversed(range(len(given))):
            bare = at + 1 == len(given) or given[at + 1].startswith("-")
            if given[at] == "--ray" and bare:
                given.insert(at + 1, LOCAL_RAY)
        return super().parse_args(ctx, given)


@app.command(
    cls=_RunCommand,
    epilog=(
        "Examples:\n\n"
        "  turnscope run                                   # core suite, embedded model\n\n"
        "  turnscope run -s core:7 --limit 16              # another seed, 2 items per family\n\n"
        "  turnscope run -s my_suite.yaml -v own -v gold -v single\n\n"
        "  turnscope run -s core -v sharded -v full --role user=llamacpp   # a model plays the "
        "user\n\n"
        "  turnscope run -m openai:llama@http://127.0.0.1:8080/v1 -c 16\n\n"
        "  turnscope run --resume turnscope-runs/20261122-101500-llamacpp-starter"
    ),
)
def run(
    suite: Annotated[
        str,
        typer.Option(
            "--suite",
            "-s",
            help="Built-in suite name (see `turnscope suites`) or a .jsonl/.yaml file.",
            metavar="SUITE",
        ),
    ] = DEFAULT_SUITE,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="Model spec (see `turnscope models`): llamacpp, llamacpp:FILE.gguf, "
            "openai:NAME@URL. Repeat to play the same suite against several models (one run "
            "each, sharing the cache) and compare them. Default: llamacpp.",
            metavar="SPEC",
        ),
    ] = None,
    variant: Annotated[
        list[str] | None,
        typer.Option(
            "--variant",
            "--condition",
            "-v",
            metavar="CONDITION",
            help="Condition to play every item under (repeat for several). Scripted: own "
            "(own history), gold (reference history), single (single-turn twin), user-only "
            "(earlier answers dropped), restated (instructions restated each turn); "
            "simulated: sharded (a simulated user releases the task shard by shard), full, "
            "concat. Default: the suite's own (core and full: own, gold, single, full, "
            "concat, sharded), else own.",
        ),
    ] = None,
    samples: Annotated[
        int,
        typer.Option(
            min=1, max=MAX_SAMPLES, help="Times each conversation is played.", metavar="N"
        ),
    ] = 1,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            max=4096,
            help="Conversations "
            "in flight (the embedded model plays one at a "
            "time per worker, to keep its cache warm).",
            metavar="N",
        ),
    ] = 8,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=MAX_WORKERS,
            envvar=WORKERS_ENV,
            show_envvar=True,
            help="Processes of the embedded (llamacpp) model, each with its own llama.cpp "
            "context and a share of the cores, for every role that uses it; each "
            "conversation stays on one (-M ROLE.workers=N for one role). Default: one per "
            "physical core, as many as the available memory holds (1: in this process; "
            "1 with --ray, whose actors play side by side).",
            metavar="N",
        ),
    ] = None,
    seed: Annotated[
        int,
        typer.Option(
            help="Run seed; per-request seeds derive from it (a generated suite's own seed is "
            "given as core:N).",
            metavar="N",
        ),
    ] = 0,
    max_tokens: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=1_000_000,
            help=f"Max tokens per answer (default: the suite's own, else {DEFAULT_MAX_TOKENS}).",
            metavar="N",
        ),
    ] = None,
    temperature: Annotated[
        float, typer.Option(min=0.0, max=10.0, help="0 is greedy.", metavar="T")
    ] = 0.0,
    top_p: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Nucleus sampling mass.", metavar="P")
    ] = 1.0,
    stop: Annotated[
        list[str] | None,
        typer.Option(help="A stop string (repeatable), on top of the end of turn.", metavar="TEXT"),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Play only the first N items.", metavar="N")
    ] = None,
    item: Annotated[
        list[str] | None,
        typer.Option(
            "--item", help="Play only this item (repeatable); with --limit, of these.", metavar="ID"
        ),
    ] = None,
    family: Annotated[
        list[str] | None,
        typer.Option(
            "--family",
            help="Play only items of this family or category (repeatable).",
            metavar="NAME",
        ),
    ] = None,
    runs_dir: Annotated[
        Path | None,
        typer.Option(
            help=f"Where run directories go (default ${RUNS_DIR_ENV} or ./{DEFAULT_RUNS_ROOT}).",
            metavar="DIR",
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Continue a run directory at the first unfinished turn of each conversation.",
            metavar="RUN_DIR",
        ),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache", help="Do not reuse or store answers in the response cache.", metavar=""
        ),
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(min=0.1, max=86400.0, help="Per-request timeout, seconds.", metavar="SECONDS"),
    ] = 120.0,
    retry_for: Annotated[
        str,
        typer.Option(
            metavar="DURATION",
            help="How long a transient failure (timeout, 429, 5xx, reset) is retried with "
            "back-off before the turn is recorded as an error: 90s, 5m, 1h.",
        ),
    ] = "120s",
    max_retries: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Retries of one request at most (default: what --retry-for allows).",
            metavar="N",
        ),
    ] = None,
    fail_under: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            metavar="SCORE",
            help="A gate for CI: exit 3 when a model's headline (its first condition's score "
            "per conversation, key turns) is below SCORE, e.g. --fail-under 0.6.",
        ),
    ] = None,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            help="Environment variable holding the API key (default OPENAI_API_KEY; never stored).",
            metavar="VAR",
        ),
    ] = None,
    n_ctx: Annotated[
        int, typer.Option(min=256, help="Context size of the embedded model.", metavar="TOKENS")
    ] = 4096,
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
            "(the simulated user of `protocol: simulated` items: llm-user items need it, items "
            "naming no simulator use it when given). Repeatable.",
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
        bool,
        typer.Option(
            help="Skip invalid items instead of stopping; the count is reported.", metavar=""
        ),
    ] = False,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="[ADDRESS]",
            help="Play the conversations on Ray actors (pip install 'turnscope\\[ray]'): "
            "--ray alone starts Ray on this machine, --ray HOST:PORT joins a cluster's head "
            "(or auto). The run store stays with this process. See docs/ray.md.",
        ),
    ] = None,
    ray_actors: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=4096,
            help="Ray actors playing conversations (default: as many as the cluster's "
            "resources hold, given --ray-resource).",
            metavar="N",
        ),
    ] = None,
    ray_resource: Annotated[
        list[str] | None,
        typer.Option(
            "--ray-resource",
            metavar="NAME=AMOUNT",
            help="What each Ray actor asks for (default CPU=1): CPU, GPU, memory or a custom "
            "resource of the nodes, e.g. --ray-resource GPU=1. Repeatable.",
        ),
    ] = None,
    ray_judge_actors: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=4096,
            help="Ray actors serving the judge requests (default: one per node, or as many as "
            "--ray-judge-resource holds beside the play actors; 0: judge in this process).",
            metavar="N",
        ),
    ] = None,
    ray_judge_resource: Annotated[
        list[str] | None,
        typer.Option(
            "--ray-judge-resource",
            metavar="NAME=AMOUNT",
            help="What each Ray judge actor asks for (default nothing), e.g. GPU=1 for an "
            "embedded judge on each GPU. Repeatable.",
        ),
    ] = None,
    judge: JudgeOption = None,
    judge_concurrency: JudgeConcurrencyOption = 4,
    jury: JuryOption = Jury.MEAN,
    judge_max_tokens: JudgeMaxTokensOption = 512,
    judge_attempts: JudgeAttemptsOption = 3,
    judge_api_key_env: JudgeKeyOption = None,
) -> None:
    """Play a suite against a model, score every turn, print a summary and the run directory.

    Turns scored `type: judge` are judged by the --judge models while the run plays."""
    on_ray = _ray_options(
        ray, ray_actors, ray_resource or [], ray_judge_actors, ray_judge_resource or []
    )
    if resume is not None:
        with open_run(resume) as store:
            store.claim()
            config = store.config()
            try:
                check_available(plan_run(store.items(), config))
                client = client_for(config)
                role_clients = role_clients_for(config)
                judge_clients = judge_clients_for(config.judging, config.timeout_s)
            except (ModelConfigError, ValueError) as exc:
                fail(str(exc))
            err_console.print(
                f"resuming {markup(store.run_dir)}: {store.answered_count()} turns done"
            )
            with _ray_connected(on_ray):
                _play(client, lambda: store, judge_clients, role_clients, ray=on_ray)
            _print_summary(store)
            failed = store.unfinished_count()
        _exit_for(failed, [store.run_dir], fail_under)
        return

    try:
        loaded = resolve_suite(suite, skip_invalid=skip_invalid)
    except SuiteError as exc:
        fail(str(exc))
    for message in loaded.skipped:
        err_console.print(f"[yellow]skipped:[/yellow] {markup(message)}")
    for reason, count in loaded.left_out.items():
        err_console.print(f"[yellow]left out:[/yellow] {count} items: {markup(reason)}")
    items = _chosen(loaded.suite.items, item or [], family or [], suite)
    items = items[:limit] if limit else items
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
    roles = serving_roles(role or [], role_param or [], options)
    models = list(dict.fromkeys(model or ["llamacpp"]))
    if workers is None:
        workers = _default_workers(models, judging, roles, options, n_ctx, ray=on_ray is not None)
    elif workers > 1 and not any(s.startswith("llamacpp") for s in _specs(models, judging, roles)):
        err_console.print(
            "[yellow]no role is played by the embedded model (llamacpp): --workers is "
            "ignored (a server's replicas: -m openai:NAME@URL1,URL2)[/yellow]"
        )
    if workers > 1:
        judging, roles = embedded_workers(workers, judging, roles)
    template = RunConfig(
        model=models[0],
        api_key_env=api_key_env,
        suite=suite,
        conditions=conditions,
        samples=samples,
        params=GenerationParams(
            max_tokens=max_tokens or loaded.max_tokens or DEFAULT_MAX_TOKENS,
            temperature=temperature,
            top_p=top_p if top_p > 0 else 1.0,
            stop=tuple(stop or ()),
        ),
        seed=seed,
        concurrency=concurrency,
        max_retries=max_retries,
        retry_for_s=_duration(retry_for, "--retry-for"),
        timeout_s=timeout,
        use_cache=not no_cache,
        cache_path=None if no_cache else str(default_cache_path(root)),
        created_at=datetime.now(UTC),
        judging=judging,
        roles=roles,
        judge_prompts=judge_prompts_of(items) if needs_judge else None,
    )
    configs = [
        template.model_copy(
            update={
                "model": spec,
                "model_options": {
                    **({"n_ctx": n_ctx} if spec.startswith("llamacpp") else {}),
                    **({"workers": workers} if workers > 1 and spec.startswith("llamacpp") else {}),
                    **options.get(TARGET_ROLE, {}),
                },
            }
        )
        for spec in models
    ]
    if not variant:
        configs = [_without_unavailable(config, items) for config in configs]
    try:
        for config in configs:
            check_available(check_roles(items, config))
            client_for(config)  # every spec is checked before the first model plays
    except (ModelConfigError, ValueError) as exc:
        fail(str(exc))
    with _ray_connected(on_ray):
        played = [
            _play_config(
                config,
                items,
                root,
                len(loaded.skipped),
                loaded.left_out,
                summary=len(configs) == 1,
                ray=on_ray,
            )
            for config in configs
        ]
    if len(played) > 1:
        _print_model_table(played)
    _exit_for(sum(failed for _, failed in played), [run_dir for run_dir, _ in played], fail_under)


def _specs(
    models: Sequence[str], judging: JudgeSettings, roles: dict[str, RoleSettings]
) -> list[str]:
    """Every model spec of the run: models under test, judges, serving roles."""
    return [*models, *judging.judges, *(r.model for r in roles.values())]


def _default_workers(
    models: Sequence[str],
    judging: JudgeSettings,
    roles: dict[str, RoleSettings],
    options: dict[str, dict[str, Any]],
    n_ctx: int,
    *,
    ray: bool,
) -> int:
    """--workers when not given: one per physical core, within memory (machine.py), said in one
    line; 1 when no role without its own -M ROLE.workers plays the embedded model."""
    # One worker's memory for each role that would take the default count; the models under
    # test play one after another, so the largest of them counts.
    needs: list[int] = []
    target_options = options.get(TARGET_ROLE, {})
    if "workers" not in target_options:
        targets = [m for m in models if m.startswith("llamacpp")]
        sizes = [_worker_need(m, target_options.get("n_ctx", n_ctx)) for m in targets]
        needs += [max(sizes)] if sizes else []
    if "workers" not in judging.options:
        judge_ctx = judging.options.get("n_ctx", n_ctx)
        needs += [_worker_need(j, judge_ctx) for j in judging.judges if j.startswith("llamacpp")]
    needs += [
        _worker_need(r.model, r.options.get("n_ctx", DEFAULT_N_CTX))
        for r in roles.values()
        if r.model.startswith("llamacpp") and "workers" not in r.options
    ]
    if not needs:
        return 1
    if ray:
        err_console.print("embedded model: in each Ray actor's process (--workers N to choose)")
        return 1
    choice = default_workers(needs)
    where = "in this process" if choice.count == 1 else f"{choice.count} worker processes"
    err_console.print(
        f"embedded model: {where} ({markup(choice.reason)}; --workers N to choose)",
        highlight=False,
    )
    return choice.count


def _worker_need(spec: str, n_ctx: object) -> int:
    """One worker's bytes for the embedded model `spec`; 0 when its file cannot be read (the
    model check that follows says why in one line)."""
    try:
        path = embedded_path(spec.partition(":")[2])
        return worker_memory(path, int(str(n_ctx)))
    except (ModelConfigError, OSError, ValueError):
        return 0


def embedded_workers(
    workers: int, judging: JudgeSettings, roles: dict[str, RoleSettings]
) -> tuple[JudgeSettings, dict[str, RoleSettings]]:
    """--workers for the judges and serving roles played by the embedded model; a role's own
    -M ROLE.workers stays."""
    if any(spec.startswith("llamacpp") for spec in judging.judges):
        judging = judging.model_copy(update={"options": {"workers": workers, **judging.options}})
    roles = {
        name: settings.model_copy(update={"options": {"workers": workers, **settings.options}})
        if settings.model.startswith("llamacpp")
        else settings
        for name, settings in roles.items()
    }
    return judging, roles


def _without_unavailable(config: RunConfig, items: Sequence[Item]) -> RunConfig:
    """The config without the suite-default conditions this machine cannot play (core's tool
    conditions without bubblewrap), each said in one line: the default run still runs. A
    condition the user named is not dropped: it fails at the availability check instead."""
    plan = plan_run(items, config)
    missing: dict[str, str] = {}
    for conversation in plan.conversations:
        try:
            conversation.protocol.check_available(conversation.item, conversation.condition)
        except ValueError as exc:
            missing.setdefault(conversation.condition, str(exc))
    for condition, why in missing.items():
        err_console.print(f"[yellow]not played:[/yellow] {markup(condition)} — {markup(why)}")
    kept = tuple(c for c in config.conditions if c not in missing)
    return config.model_copy(update={"conditions": kept}) if missing else config


def _play_config(
    config: RunConfig,
    items: Sequence[Item],
    root: Path,
    invalid: int,
    left_out: dict[str, int],
    *,
    summary: bool,
    ray: RayOptions | None = None,
) -> tuple[Path, int]:
    """Create the run of `config` under `root`, play it, print its summary (or, with several
    models, where it went); (run directory, failed turns and judgments)."""
    try:
        client = client_for(config)
        role_clients = role_clients_for(config)
        judge_clients = judge_clients_for(config.judging, config.timeout_s)
    except ModelConfigError as exc:
        fail(str(exc))

    def make_store() -> RunStore:
        try:
            store = create_run(config, items, root)
        except OSError as exc:
            fail(
                f"cannot create a run directory under {root}: {exc.strerror or exc}; "
                "choose a writable directory with --runs-dir"
            )
        if invalid:
            store.set_meta("skipped_invalid", invalid)
        if left_out:
            store.set_meta("suite_left_out", left_out)
        return store

    store = _play(client, make_store, judge_clients, role_clients, items, ray=ray)
    try:
        if summary:
            _print_summary(store, items)
        else:
            _write_report(store)
        return store.run_dir, store.unfinished_count()
    finally:
        store.close()


def _print_model_table(played: Sequence[tuple[Path, int]]) -> None:
    """Several models on one suite: each model's headline per condition, then each model
    minus the first, paired by item (per conversation, key turns; 95 % intervals)."""
    runs = [(run_dir, failed, *_analysed(run_dir)) for run_dir, failed in played]
    conditions = list(dict.fromkeys(c for *_, a in runs for c in a.overall))
    table = Table(
        title="models on one suite: score per conversation (key turns), 95 % interval",
        title_justify="left",
    )
    table.add_column("model")
    for condition in conditions:
        table.add_column(cell(condition), justify="right")
    table.add_column("failed", justify="right")
    table.add_column("run directory")
    for run_dir, failed, _, _, config, analysis in runs:
        table.add_row(
            cell(config.model),
            *(interval_text(analysis.overall.get(c)) for c in conditions),
            str(failed),
            cell(run_dir.name),
        )
    console.print(table)
    base_dir, _, base_rows, base_items, base_config, _ = runs[0]
    differences = Table(
        title=f"minus {base_config.model} (paired by item; B - A [95 %], Wilcoxon p)",
        title_justify="left",
    )
    differences.add_column("model")
    for condition in conditions:
        differences.add_column(cell(condition), justify="right")
    for _, _, rows, items, config, _ in runs[1:]:
        try:
            comparison = compare_runs(base_rows, base_items, rows, items)
        except NoCommonItems:
            continue
        overall = {r.condition: r for r in comparison.rows if r.family == "all"}
        differences.add_row(
            cell(config.model),
            *(
                paired_text(overall[c].difference, overall[c].p_value) if c in overall else "-"
                for c in conditions
            ),
        )
    console.print(differences)
    console.print(f"compare any two in full:  turnscope compare {markup(base_dir)} RUN_B")


def _analysed(
    run_dir: Path,
) -> tuple[list[TurnScores], list[Item], RunConfig, MultiTurnAnalysis]:
    """A finished run's score rows, items, config and figures (scores only, no transcripts)."""
    store = RunStore.open(run_dir)
    try:
        rows, items, config = store.turn_scores(), store.items(), store.config()
        serving = store.serving_scores()
    finally:
        store.close()
    return rows, items, config, analyse(rows, items, serving=serving)


def _below_gate(run_dirs: Sequence[Path], fail_under: float) -> bool:
    """Whether any run's headline is below --fail-under (or has no score at all); each run's
    headline is printed against the gate."""
    below = False
    for run_dir in run_dirs:
        # The headline the run stored when it ended (the analysis is not run again).
        store = RunStore.open(run_dir)
        try:
            config, headlines = store.config(), run_headlines(store)
        finally:
            store.close()
        condition = next((c for c in config.conditions if c in headlines), None)
        mean = headlines[condition].mean if condition is not None else None
        shown = "no score" if mean is None else f"{mean:.3f}"
        where = f"{markup(config.model)}, {markup(condition or '-')} per conversation (key turns)"
        if mean is None or mean < fail_under:
            below = True
            err_console.print(f"[red]below --fail-under {fail_under:g}:[/red] {shown} ({where})")
        else:
            err_console.print(f"passes --fail-under {fail_under:g}: {shown} ({where})")
    return below


def _exit_for(failed: int, run_dirs: Sequence[Path], fail_under: float | None) -> None:
    """Exit code 1 when some turns or judgments failed (the summary said how many and how to
    resume); otherwise 3 when a headline is below the --fail-under gate."""
    if failed:
        raise typer.Exit(1)
    if fail_under is not None and _below_gate(run_dirs, fail_under):
        raise typer.Exit(3)
