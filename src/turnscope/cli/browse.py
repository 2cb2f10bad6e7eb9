"""Reading runs: `turnscope runs`, `show` and `export`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from turnscope.cli._app import (
    app,
    console,
    err_console,
    fail,
    open_run,
    runs_root,
)
from turnscope.core import (
    TARGET_ROLE,
    Item,
    TurnRecord,
    content_text,
)
from turnscope.protocols import get_protocol
from turnscope.store import (
    EXPORT_FORMATS,
    STORE_FILE,
    RunStore,
    StoredJudgment,
    StoreError,
    export_records,
)


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


def _turns_at_most(item: Item, condition: str) -> int:
    """Target turns a conversation of the item can record, as its protocol says."""
    return get_protocol(item.protocol).max_turns(item, condition)


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
        else f"parsed: {escape(j.verdict.label)}"
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
            for column in ("item", "category", "condition", "sample", "turns", "mean", "errors"):
                table.add_column(column)
            grouped: dict[tuple[str, str, int], list[TurnRecord]] = {}
            for record in store.records():
                key = (record.item_id, record.condition, record.sample)
                grouped.setdefault(key, []).append(record)
            for (item_id, condition, sample), records in grouped.items():
                values = [r.score for r in records if r.score is not None]
                mean = f"{sum(values) / len(values):.3f}" if values else "-"
                errs = sum(r.error is not None for r in records)
                table.add_row(
                    escape(item_id),
                    escape(items[item_id].category),
                    escape(condition),
                    str(sample),
                    f"{len(records)}/{_turns_at_most(items[item_id], condition)}",
                    mean,
                    str(errs),
                )
            console.print(table)
            console.print("See one conversation with --item ID")
            return
        if item not in items:
            fail(f"{run_dir}: no item {item!r} in this run")
        records = list(store.records(item_id=item, role=None))
        if not records:
            console.print(f"item {escape(repr(item))} has no recorded turns yet")
            return
        judgments: dict[tuple[str, int, int], list[StoredJudgment]] = {}
        for stored in store.all_judgments(item_id=item):
            judgments.setdefault((stored.condition, stored.sample, stored.turn), []).append(stored)
        for record in records:
            who = "" if record.role == TARGET_ROLE else f" | {record.role}"
            console.rule(
                escape(
                    f"{item} | {record.condition} | sample {record.sample} | turn {record.turn}"
                    + who
                )
            )
            for message in record.new_messages:
                label: str = message.role
                if message.role == "tool":
                    label = f"tool result · {message.name or message.tool_call_id or '?'}"
                console.print(
                    f"[bold]{escape(label)}:[/bold] {escape(content_text(message.content))}"
                )
            speaker = "assistant" if record.role == TARGET_ROLE else record.role
            if record.response is not None:
                console.print(
                    f"[bold green]{escape(speaker)}:[/bold green] {escape(record.response)}"
                )
            for call in record.tool_calls or ():
                console.print(
                    f"[bold cyan]tool call · {escape(call.function.name)}:[/bold cyan] "
                    f"{escape(call.function.arguments)}"
                )
            if record.flags:
                console.print(f"[dim]flags:[/dim] {escape(', '.join(record.flags))}")
            console.print(f"[dim]score:[/dim] {_score_text(record)}")
            meta = (
                f"tokens {record.prompt_tokens}/{record.completion_tokens}, "
                f"latency {record.latency_s:.2f}s, retries {record.retries}"
                + (", cached" if record.cached else "")
            )
            console.print(f"[dim]{meta}[/dim]")
            if record.role != TARGET_ROLE:
                continue
            for stored in judgments.get((record.condition, record.sample, record.turn), []):
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
    """Export one record per turn: item, turn, condition, role, sample, answer, error, scores."""
    if fmt not in EXPORT_FORMATS:
        fail(f"unknown format {fmt!r}: use {' or '.join(EXPORT_FORMATS)}")
    with open_run(run_dir) as store:
        if output is None:
            export_records(store.records(role=None), fmt, sys.stdout)
            return
        try:
            with output.open("w", encoding="utf-8", newline="") as handle:
                count = export_records(store.records(role=None), fmt, handle)
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror}")
        err_console.print(f"wrote {count} records to {output}")
