"""The judge role between runs: `turnscope pairwise` and `leaderboard`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from turnscope.analysis import judge_report
from turnscope.analysis.ratings import Rating, RatingError
from turnscope.cli._app import (
    Command,
    T,
    app,
    console,
    err_console,
    fail,
    print_json,
)
from turnscope.cli._options import (
    JudgeAttemptsOption,
    JudgeConcurrencyOption,
    JudgeKeyOption,
    JudgeMaxTokensOption,
    JudgeOption,
    Jury,
    judge_settings,
    print_judge_calls,
)
from turnscope.core import (
    JudgeSettings,
)
from turnscope.engine import EventLoopError, Judge, ResponseCache, RetryPolicy, run_loop
from turnscope.models import ModelConfigError
from turnscope.pairwise import PairwiseResult, compare_all, judge_runs, rate, run_name
from turnscope.report import (
    render_judge_report,
)
from turnscope.report.safe import cell, markup
from turnscope.run import (
    default_cache_path,
    judge_clients_for,
    make_judges,
)
from turnscope.store import (
    PAIRWISE_FILE,
    PairRecord,
    PairwiseStore,
    RunStore,
    StoreError,
)

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
                print_judge_calls(
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
            return run_loop(go())
        except (ModelConfigError, EventLoopError) as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            err_console.print(
                f"\n[yellow]interrupted.[/yellow] Comparisons made so far are stored in "
                f"{markup(pairs.path)}; the same command continues from there."
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
    return judge_settings(judges, concurrency, Jury.MEAN, max_tokens, attempts, api_key_env, 4096)


def _render_pairs(results: Sequence[PairwiseResult], root: Path) -> None:
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
            cell(r.run_a),
            cell(r.run_b),
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
    console.print(markup(_failed_line(results, root)), highlight=False)


def _failed_line(results: Sequence[PairwiseResult], root: Path) -> str:
    """How many comparisons were made and how many failed (left out of every count and
    rating), with the command that shows the failures in full."""
    made = sum(len(r.records) for r in results)
    failed = sum(r.errors for r in results)
    line = f"{made} comparisons made, {failed} failed (judge errors; not in any count or rating)"
    if failed:
        line += f"; read them in full with: turnscope show RUN_DIR --pairwise --runs-dir {root}"
    return line


@app.command(
    cls=Command,
    epilog=(
        "Examples:\n\n"
        "  turnscope pairwise RUN_A RUN_B --judge llamacpp\n\n"
        "  turnscope pairwise RUN_A RUN_B --judge openai:judge@http://127.0.0.1:8080/v1 "
        "--judge-concurrency 16"
    ),
)
def pairwise(
    run_a: Annotated[Path, typer.Argument(help="A run directory.", metavar="RUN_A")],
    run_b: Annotated[
        Path, typer.Argument(help="Another run directory, of the same suite.", metavar="RUN_B")
    ],
    judge: JudgeOption = None,
    judge_concurrency: JudgeConcurrencyOption = 4,
    judge_max_tokens: JudgeMaxTokensOption = 512,
    judge_attempts: JudgeAttemptsOption = 3,
    judge_api_key_env: JudgeKeyOption = None,
    runs_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where pairwise.sqlite and the cache live (default: RUN_A's parent).",
            metavar="DIR",
        ),
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
    _render_pairs([result], root)
    console.print(f"pairwise verdicts: [bold]{markup(root / PAIRWISE_FILE)}[/bold]")


def _leaderboard_json(
    results: Sequence[PairwiseResult], ratings: Sequence[Rating], models: dict[str, str]
) -> dict[str, Any]:
    """What `leaderboard --json` prints: the ratings in rank order, each pair's counts, and
    the judges' figures."""
    report = judge_report(pairs=[rec for r in results for rec in r.records])
    return {
        "ratings": [
            {"rank": rank, "run": r.model, "model": models.get(r.model), **r.model_dump()}
            for rank, r in enumerate(ratings, start=1)
        ],
        "pairs": [
            {
                "run_a": r.run_a,
                "run_b": r.run_b,
                "a_wins": r.count("a"),
                "b_wins": r.count("b"),
                "ties": r.count("tie"),
                "inconsistent": r.inconsistent,
                "judge_errors": r.errors,
                "reused": r.reused,
                "skipped_items": r.skipped_items,
            }
            for r in results
        ],
        "judges": report.model_dump(mode="json") if report is not None else None,
    }


@app.command(
    cls=Command,
    name="leaderboard",
    epilog=(
        "Examples:\n\n"
        "  turnscope leaderboard RUN_A RUN_B RUN_C --judge llamacpp\n\n"
        "  turnscope leaderboard turnscope-runs/*mt-bench* --judge openai:judge@URL\n\n"
        "  turnscope leaderboard RUN_A RUN_B --judge llamacpp --json > board.json"
    ),
)
def leaderboard_command(
    run_dirs: Annotated[
        list[Path], typer.Argument(help="Two or more run directories.", metavar="RUN_DIR")
    ],
    judge: JudgeOption = None,
    judge_concurrency: JudgeConcurrencyOption = 4,
    judge_max_tokens: JudgeMaxTokensOption = 512,
    judge_attempts: JudgeAttemptsOption = 3,
    judge_api_key_env: JudgeKeyOption = None,
    bootstrap: Annotated[
        int, typer.Option(min=0, help="Bootstrap resamples of items.", metavar="N")
    ] = 1000,
    runs_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where pairwise.sqlite and the cache live (default: first run's parent).",
            metavar="DIR",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the ratings and pair counts as JSON instead of tables.",
            metavar="",
        ),
    ] = False,
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
    if not as_json:
        _render_pairs(results, root)
    try:
        ratings = rate(results, sorted(models), bootstrap=bootstrap)
    except RatingError as exc:
        # "no comparisons for ..." alone read as if nothing had been judged.
        fail(f"no ratings: {exc} among the decided comparisons; {_failed_line(results, root)}")
    if as_json:
        print_json(_leaderboard_json(results, ratings, models))
        return
    table = Table(title="leaderboard (Bradley–Terry, 1000 = average)", title_justify="left")
    for column in ("rank", "run", "model", "rating", "95% interval", "wins", "losses", "ties"):
        table.add_column(column, justify="left" if column in ("run", "model") else "right")
    for rank, rating in enumerate(ratings, start=1):
        table.add_row(
            str(rank),
            cell(rating.model),
            cell(models.get(rating.model, "?")),
            f"{rating.rating:.0f}",
            f"{rating.low:.0f} – {rating.high:.0f}",
            str(rating.wins),
            str(rating.losses),
            str(rating.ties),
        )
    console.print(table)
