"""Reading runs: `turnscope runs`, `show` and `export`."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TextIO, cast

import typer
from rich.table import Table

from turnscope.analysis import SMALL_SAMPLE, HeadlineScore, quick_headline_scores
from turnscope.cli._app import (
    DAMAGE,
    HEADLINE_META,
    REPLICAS_META,
    Command,
    app,
    console,
    damaged,
    err_console,
    fail,
    open_run,
    print_json,
    runs_root,
)
from turnscope.core import (
    TARGET_ROLE,
    Item,
    Judgment,
    Message,
    ToolCall,
    TurnRecord,
    content_text,
)
from turnscope.export import (
    EXPORT_FORMATS,
    EXPORT_UNITS,
    ROW_FORMATS,
    STREAM_FORMATS,
    ExportError,
    write_csv,
    write_eee,
    write_inspect,
    write_jsonl,
    write_parquet,
)
from turnscope.protocols import get_protocol
from turnscope.report.safe import TerminalWriter, cell, markup
from turnscope.store import (
    PAIRWISE_FILE,
    STORE_FILE,
    PairwiseStore,
    RunStore,
    StoredJudgment,
    StoreError,
    TurnScores,
)

OWN = "own"
"""The condition `runs` lists: the model answering from its own history."""
PLAYED_THROUGH = ("finished", "incomplete")
"""Run statuses whose stored headline is current (a run resumed since may have more turns)."""


def _run_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / STORE_FILE).is_file())


@app.command(
    cls=Command,
    epilog=(
        "Examples:\n\n"
        "  turnscope runs --runs-dir /data/turnscope-runs\n\n"
        "  turnscope runs --json > runs.json"
    ),
)
def runs(
    runs_dir: Annotated[
        Path | None, typer.Option(help="Directory holding run directories.", metavar="DIR")
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the list as JSON (one object per run).", metavar=""),
    ] = False,
) -> None:
    """List run directories with model, suite, date, turns and the headline score."""
    root = runs_root(runs_dir)
    facts = [_run_facts(run_dir) for run_dir in _run_dirs(root)]
    if as_json:
        print_json(facts)
        return
    if not facts:
        console.print(f"no runs under {markup(root)}")
        return
    table = Table(title=f"runs under {markup(root)}", title_justify="left")
    table.add_column("run", no_wrap=True)
    counts = ("turns", "errors", "judge errors")
    for column in ("model", "suite", "started", *counts, "score", "status"):
        table.add_column(column, justify="right" if column in counts else "left")
    for run in facts:
        if "unreadable" in run:
            table.add_row(cell(run["run"]), *"-------", cell(f"unreadable: {run['unreadable']}"))
            continue
        table.add_row(
            cell(run["run"]),
            cell(run["model"]),
            cell(run["suite"]),
            f"{datetime.fromisoformat(run['started']):%m-%d %H:%M}",
            str(run["turns"]),
            str(run["errors"]),
            str(run["judge_errors"]),
            cell(_headline_text(run["headline"])),
            run["status"],
        )
    console.print(table)
    console.print(
        "score: per conversation (key turns), mean over items, own history (else the condition "
        f"named); small: fewer than {SMALL_SAMPLE} items"
    )


def run_headlines(store: RunStore) -> dict[str, HeadlineScore]:
    """Condition -> the run's score per conversation (key turns) with its n. Read from the
    run's meta once the run is played through; a run still playing (or stopped, or resumed
    since), or one played before the headline was stored, gets it from its scores (never its
    transcripts)."""
    stored = store.meta(HEADLINE_META)
    if isinstance(stored, dict) and store.status() in PLAYED_THROUGH:
        return {c: HeadlineScore.model_validate(h) for c, h in stored.items()}
    return quick_headline_scores(store.turn_scores(), store.items(), store.serving_scores())


def _headline(store: RunStore) -> dict[str, Any] | None:
    """The run's headline as `runs` lists it: the own condition's (else the first's)."""
    known = {c: h for c, h in run_headlines(store).items() if h.mean is not None}
    if not known:
        return None
    condition = OWN if OWN in known else next(iter(known))
    headline = known[condition]
    return {
        "condition": condition,
        "mean": headline.mean,
        "n": headline.n,
        "small": headline.n < SMALL_SAMPLE,
    }


def _headline_text(headline: dict[str, Any] | None) -> str:
    if headline is None:
        return "-"
    named = "" if headline["condition"] == OWN else f"{headline['condition']}, "
    small = ", small" if headline["small"] else ""
    return f"{headline['mean']:.3f} ({named}n={headline['n']}{small})"


def replica_text(served: dict[str, int], kept: Any) -> str | None:
    """One line on the replicas that played a run (embedded workers, pool servers, Ray
    actors): turns each answered, and the requests and errors each had as the run's meta
    kept them; None for a run of one replica."""
    totals: dict[str, Any] = kept if isinstance(kept, dict) else {}
    found = totals.get("by_replica")
    by_replica: dict[str, Any] = found if isinstance(found, dict) else {}
    labels = list(dict.fromkeys([*served, *by_replica]))
    if not labels:
        return None
    parts = []
    for label in labels:
        counts = by_replica.get(label)
        sent = (
            f" ({counts.get('requests', 0)} requests, {counts.get('errors', 0)} errors)"
            if isinstance(counts, dict)
            else ""
        )
        parts.append(f"{label} {served.get(label, 0)} turns{sent}")
    tail = [
        f"{what} {totals[key]}"
        for key, what in (("moved", "moved"), ("restarts", "restarted"))
        if isinstance(totals.get(key), int) and totals[key]
    ]
    return "served by: " + "; ".join([*parts, *tail])


def _run_facts(run_dir: Path) -> dict[str, Any]:
    """What `turnscope runs` says about one run; {"run", "path", "unreadable"} when it
    cannot be read."""
    try:
        store = RunStore.open(run_dir)
    except StoreError as exc:
        return {"run": run_dir.name, "path": str(run_dir), "unreadable": str(exc)}
    except DAMAGE as exc:
        return {"run": run_dir.name, "path": str(run_dir), "unreadable": damaged(run_dir, exc)}
    try:
        config = store.config()
        turns = store.turn_count()
        return {
            "run": run_dir.name,
            "path": str(run_dir),
            "model": config.model,
            "suite": config.suite,
            "started": config.created_at.isoformat(),
            "turns": turns,
            "errors": turns - store.answered_count(),
            "judge_errors": store.judge_error_count(),
            "headline": _headline(store),
            "status": store.status(),
            "replicas": store.meta(REPLICAS_META),
        }
    except StoreError as exc:
        return {"run": run_dir.name, "path": str(run_dir), "unreadable": str(exc)}
    except DAMAGE as exc:
        return {"run": run_dir.name, "path": str(run_dir), "unreadable": damaged(run_dir, exc)}
    finally:
        store.close()


def _print_tool_calls(calls: tuple[ToolCall, ...] | None) -> None:
    for call in calls or ():
        console.print(
            f"[bold yellow]tool call[/bold yellow] {markup(call.function.name)} "
            f"[dim](id {markup(call.id)})[/dim]: {markup(call.function.arguments)}"
        )


def _print_message(message: Message) -> None:
    """One message of a turn's history; tool results and tool calls stand out from text."""
    text = markup(content_text(message.content))
    if message.role == "tool":
        name = f" {markup(message.name)}" if message.name else ""
        call = markup(message.tool_call_id or "?")
        console.print(f"[bold cyan]tool result[/bold cyan]{name} [dim](call {call})[/dim]: {text}")
        return
    if text or not message.tool_calls:
        console.print(f"[bold]{message.role}:[/bold] {text}")
    _print_tool_calls(message.tool_calls)


class _PlayedHistory:
    """Prints, before each target answer, what its history added since the previous answer,
    as the protocol rebuilds it: the history each turn was actually played from. Where the
    history holds something other than the answer shown before it (a reference under gold, a
    fixed answer), that is said."""

    def __init__(self, store: RunStore, item: Item) -> None:
        self.store = store
        self.item = item
        self.shown: dict[tuple[str, int], int] = {}
        self.answers: dict[tuple[str, int], Message | None] = {}

    def print_before(self, record: TurnRecord) -> None:
        key = (record.condition, record.sample)
        try:
            turns = self.store.finished_turns(self.item.id, record.condition, record.sample)
            history = get_protocol(self.item.protocol).history(
                self.item, record.condition, turns, record.turn
            )
        except (KeyError, ValueError):
            # An earlier turn is missing from the store: show what this turn added.
            history = record.new_messages
            self.shown[key] = 0
        start = self.shown.get(key, 0)
        # The turn's own new messages close the history; what comes before them is history
        # the model was given: the answer printed above, or something in its place.
        own_start = len(history) - len(record.new_messages)
        previous = self.answers.get(key)
        for index, message in enumerate(history[start:], start):
            if message.role != "assistant" or index >= own_start:
                _print_message(message)
                continue
            if index == start and previous is not None and _same_answer(message, previous):
                continue  # the answer printed above, as the history holds it
            text = markup(content_text(message.content))
            console.print(f"[bold]assistant (in the history, not asked):[/bold] {text}")
            _print_tool_calls(message.tool_calls)
        self.shown[key] = len(history)
        self.answers[key] = record.answer


def _same_answer(message: Message, answer: Message) -> bool:
    return content_text(message.content) == content_text(answer.content) and (
        message.tool_calls or None
    ) == (answer.tool_calls or None)


def _turns_at_most(item: Item, condition: str) -> int:
    """Target turns a conversation of the item can record, as its protocol says."""
    return get_protocol(item.protocol).max_turns(item, condition)


PENDING = "judgment pending (resume to finish)"


def _judgment_pending(item: Item, record: TurnRecord) -> bool:
    """Whether an answered target turn still waits for a judge's scores (a run stopped before
    its judge pass finished): its record holds fewer scores than its turn has specs."""
    if record.role != TARGET_ROLE or record.response is None:
        return False
    turn = get_protocol(item.protocol).scored_turn(item, record.condition, record.turn)
    if not 1 <= turn <= len(item.turns):
        return False  # a turn the item does not have (an edited store): no spec waits for it
    return len(record.scores) < len(item.turns[turn - 1].scorers)


def _score_text(record: TurnRecord, pending: bool = False) -> str:
    if record.error:
        return f"[red]error: {markup(record.error)}[/red]"
    parts = []
    for score in record.scores:
        if score.error:
            parts.append(f"[red]{markup(score.scorer)}: error: {markup(score.error)}[/red]")
        elif score.value is None:
            parts.append(f"{markup(score.scorer)}: not scored ({markup(score.detail or '')})")
        else:
            detail = f" ({markup(score.detail)})" if score.detail else ""
            parts.append(f"{markup(score.scorer)}={score.value:.2f}{detail}")
    if pending:
        parts.append(PENDING)
    return "; ".join(parts) or "not scored"


def _print_judgment(j: Judgment, order: str = "") -> None:
    """One judgment as `show` audits it: the parsed verdict (or the error) next to the raw
    text of every attempt; `order` says which answer a pairwise judge saw first."""
    parsed = (
        f"[red]judge error: {markup(j.error or 'no verdict')}[/red]"
        if j.verdict is None
        else f"parsed: {markup(j.verdict.label)}"
    )
    console.print(
        f"[bold magenta]judge {markup(j.judge)}[/bold magenta] ({markup(j.kind)})"
        f"{markup(order)}: {parsed}"
    )
    for number, attempt in enumerate(j.attempts, start=1):
        raw = markup(attempt.text) if attempt.text is not None else "[dim](no text)[/dim]"
        note = " (cached)" if attempt.cached else ""
        console.print(f"  [dim]attempt {number}{note} raw:[/dim] {raw}")
        if attempt.error:
            console.print(f"    [red]-> {markup(attempt.error)}[/red]")


_OUTCOMES = {"a": "A wins", "b": "B wins", "tie": "tie"}


def _show_pairwise(store: RunStore, root: Path, item: str | None) -> None:
    """Every stored pairwise comparison of the run (of one item with `item`): who was A and
    B, the outcome or the full error, and each order's judgment with its raw text."""
    path = root / PAIRWISE_FILE
    name = store.run_dir.name
    if not path.is_file():
        console.print(f"no pairwise comparisons: {markup(path)} does not exist")
        return
    try:
        pairs = PairwiseStore(path)
        try:
            records = [
                r
                for r in pairs.records()
                if name in (r.run_a, r.run_b) and (item is None or r.item_id == item)
            ]
        finally:
            pairs.close()
    except DAMAGE as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        fail(f"{path}: the pairwise store is damaged ({detail[:200]})")
    if not records:
        what = f" of item {item!r}" if item is not None else ""
        console.print(f"no pairwise comparisons{markup(what)} of {markup(name)} in {markup(path)}")
        return
    for r in records:
        j = r.judgment
        console.rule(
            markup(f"{r.item_id} | {r.condition} | sample {r.sample} | turn {r.turn} | {r.judge}")
        )
        console.print(f"A: {markup(r.run_a)}  B: {markup(r.run_b)}", highlight=False)
        if j.outcome is None:
            console.print(f"[red]no outcome: {markup(j.error or 'no verdict')}[/red]")
        else:
            flipped = " (the verdict flipped with the order)" if j.consistent is False else ""
            console.print(f"outcome: {_OUTCOMES[j.outcome]}{flipped}")
        _print_judgment(j.ab, " A shown first")
        _print_judgment(j.ba, " B shown first")
    failed = sum(r.judgment.outcome is None for r in records)
    console.print(f"{len(records)} comparisons, {failed} without an outcome (judge errors)")


@app.command(
    cls=Command,
    epilog=(
        "Examples:\n\n"
        "  turnscope show turnscope-runs/20261122-101500-llamacpp-starter\n\n"
        "  turnscope show turnscope-runs/20261122-101500-llamacpp-starter --item recall-pet\n\n"
        "  turnscope show turnscope-runs/20261122-101500-llamacpp-starter --pairwise"
    ),
)
def show(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.", metavar="RUN_DIR")],
    item: Annotated[
        str | None,
        typer.Option(help="Show this item's conversation turn by turn.", metavar="ITEM_ID"),
    ] = None,
    pairwise: Annotated[
        bool,
        typer.Option(
            "--pairwise",
            help="Show the run's pairwise comparisons (with --item, of that item): each "
            "judge's verdict in both orders, with its raw text and errors.",
            metavar="",
        ),
    ] = False,
    runs_dir: Annotated[
        Path | None,
        typer.Option(
            help="With --pairwise: where pairwise.sqlite lives (default: the run's parent).",
            metavar="DIR",
        ),
    ] = None,
) -> None:
    """Show a run: per-item scores, one conversation with per-turn scores and errors, or its
    pairwise comparisons."""
    with open_run(run_dir) as store:
        if pairwise:
            _show_pairwise(store, runs_dir or run_dir.resolve().parent, item)
            return
        items = {it.id: it for it in store.items()}
        if item is None:
            table = Table(title=f"{markup(run_dir)}: items", title_justify="left")
            for column in ("item", "category", "condition", "sample", "turns", "score", "errors"):
                table.add_column(column)
            # Scores and errors only: the transcripts are not needed for the table.
            grouped: dict[tuple[str, str, int], list[TurnScores]] = {}
            for row in store.turn_scores():
                grouped.setdefault((row.item_id, row.condition, row.sample), []).append(row)
            for (item_id, condition, sample), rows in grouped.items():
                # Turn errors and failed scores or judgments alike: each leaves a turn unscored.
                failed = {
                    r.turn
                    for r in rows
                    if r.error is not None or any(sc.error is not None for sc in r.scores)
                }
                errs = len(failed)
                values = {r.turn: None if r.turn in failed else r.score for r in rows}
                score = get_protocol(items[item_id].protocol).conversation_score(
                    items[item_id], condition, values
                )
                mean = "-" if score is None else f"{score:.3f}"
                table.add_row(
                    cell(item_id),
                    cell(items[item_id].category),
                    cell(condition),
                    str(sample),
                    f"{len(rows)}/{_turns_at_most(items[item_id], condition)}",
                    mean,
                    str(errs),
                )
            console.print(table)
            console.print(
                "score: the conversation's score (its key turns), as every summary counts it; "
                "see one conversation with --item ID"
            )
            replicas = replica_text(store.served_counts(), store.meta(REPLICAS_META))
            if replicas:
                console.print(markup(replicas))
            judge_prompts = store.config().judge_prompts
            if judge_prompts:
                console.print(f"judge prompts: {markup(judge_prompts)}", highlight=False)
            return
        if item not in items:
            fail(f"{run_dir}: no item {item!r} in this run")
        records = list(store.records(item_id=item, role=None))
        if not records:
            console.print(f"item {markup(repr(item))} has no recorded turns yet")
            return
        judgments: dict[tuple[str, int, int], list[StoredJudgment]] = {}
        for stored in store.all_judgments(item_id=item):
            judgments.setdefault((stored.condition, stored.sample, stored.turn), []).append(stored)
        played = _PlayedHistory(store, items[item])
        for record in records:
            who = "" if record.role == TARGET_ROLE else f" | {record.role}"
            console.rule(
                markup(
                    f"{item} | {record.condition} | sample {record.sample} | turn {record.turn}"
                    + who
                )
            )
            if record.role == TARGET_ROLE:
                played.print_before(record)
            else:
                for message in record.new_messages:
                    _print_message(message)
            speaker = "assistant" if record.role == TARGET_ROLE else record.role
            if record.response is not None and (record.response or not record.tool_calls):
                console.print(
                    f"[bold green]{markup(speaker)}:[/bold green] {markup(record.response)}"
                )
            _print_tool_calls(record.tool_calls)
            if record.flags:
                console.print(f"[yellow]flags: {markup(', '.join(record.flags))}[/yellow]")
            pending = _judgment_pending(items[item], record)
            console.print(f"[dim]score:[/dim] {_score_text(record, pending)}")
            meta = (
                f"tokens {record.prompt_tokens}/{record.completion_tokens}, "
                f"latency {record.latency_s:.2f}s, retries {record.retries}"
                + (", cached" if record.cached else "")
            )
            console.print(f"[dim]{meta}[/dim]")
            if record.role != TARGET_ROLE:
                continue
            for stored in judgments.get((record.condition, record.sample, record.turn), []):
                _print_judgment(stored.judgment)


def _write_export(store: RunStore, fmt: str, per: str, output: Path | None) -> str | None:
    """Write the export; returns what to tell the user about the files it wrote."""
    if fmt == "eee":
        assert output is not None
        files = write_eee(store, output)
        return f"wrote {files.rows} sample rows: {files.aggregate} and {files.samples.name}"
    if fmt == "inspect":
        assert output is not None
        return f"wrote {write_inspect(store, output)} conversations to {output}"
    if fmt == "parquet":
        assert output is not None
        return f"wrote {write_parquet(store, per, output)} {per}s to {output}"
    write = write_jsonl if fmt == "jsonl" else write_csv
    if output is None:
        # On a terminal the rows are read, not parsed: escape what could drive it (a pipe or
        # a file gets the data as it is).
        out = cast(TextIO, TerminalWriter(sys.stdout)) if sys.stdout.isatty() else sys.stdout
        write(store, per, out)
        return None
    with output.open("w", encoding="utf-8", newline="") as handle:
        return f"wrote {write(store, per, handle)} {per}s to {output}"


@app.command(
    cls=Command,
    epilog=(
        "Examples:\n\n"
        "  turnscope export RUN_DIR > turns.jsonl\n\n"
        "  turnscope export RUN_DIR --format csv -o turns.csv\n\n"
        "  turnscope export RUN_DIR -f parquet --per conversation -o conversations.parquet\n\n"
        "  turnscope export RUN_DIR --format eee -o eee-out\n\n"
        "  turnscope export RUN_DIR --format inspect -o run.eval"
    ),
)
def export(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.", metavar="RUN_DIR")],
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help=f"{', '.join(EXPORT_FORMATS)}.", metavar="FORMAT"),
    ] = "jsonl",
    per: Annotated[
        str,
        typer.Option(
            help="One row per turn (every record of every role) or per played conversation "
            "(jsonl, csv, parquet).",
            metavar="turn|conversation",
        ),
    ] = "turn",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="File to write (default: standard output, for jsonl and csv); for eee, a "
            "directory (the files go under PATH/data/...).",
            metavar="PATH",
        ),
    ] = None,
) -> None:
    """Export a run's turns (or conversations) with scores, judgments, family and metadata."""
    if fmt not in EXPORT_FORMATS:
        fail(f"unknown format {fmt!r}: use {', '.join(EXPORT_FORMATS)}")
    if per not in EXPORT_UNITS:
        fail(f"unknown --per {per!r}: use {' or '.join(EXPORT_UNITS)}")
    if per != "turn" and fmt not in ROW_FORMATS:
        fail(f"--per is for {', '.join(ROW_FORMATS)}; --format {fmt} has its own layout")
    if output is None and fmt not in STREAM_FORMATS:
        fail(f"--format {fmt} cannot go to standard output: give -o PATH")
    with open_run(run_dir) as store:
        try:
            done = _write_export(store, fmt, per, output)
        except ExportError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror or exc}")
        if done is not None:
            err_console.print(markup(done), soft_wrap=True)
