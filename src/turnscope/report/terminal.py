"""The terminal summary: score by turn index and by category, errors, where the run lives."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from turnscope.analysis import Cell, RunSummary


def fmt_cell(cell: Cell | None) -> str:
    if cell is None or cell.mean is None:
        return "-"
    return f"{cell.mean:.3f} (n={cell.scored})"


def render_summary(summary: RunSummary, console: Console, *, title: str) -> None:
    """Print tables: by turn index (one column per variant), by category, errors."""
    variants = list(summary.by_turn)
    turns = sorted({t for cells in summary.by_turn.values() for t in cells})
    console.print(f"[bold]{escape(title)}[/bold]")
    by_turn = Table(title="mean score by turn index", title_justify="left")
    by_turn.add_column("turn", justify="right")
    for variant in variants:
        by_turn.add_column(variant, justify="right")
    for turn in turns:
        by_turn.add_row(str(turn), *(fmt_cell(summary.by_turn[v].get(turn)) for v in variants))
    by_turn.add_row("all", *(fmt_cell(summary.by_variant.get(v)) for v in variants), style="bold")
    console.print(by_turn)

    categories = sorted({c for cells in summary.by_category.values() for c in cells})
    by_cat = Table(title="mean score by category", title_justify="left")
    by_cat.add_column("category")
    for variant in variants:
        by_cat.add_column(variant, justify="right")
    for category in categories:
        by_cat.add_row(
            category, *(fmt_cell(summary.by_category[v].get(category)) for v in variants)
        )
    console.print(by_cat)

    console.print(
        f"turns: {summary.turns}  answered: {summary.answered}  "
        f"turn errors: {summary.turn_errors}  scorer errors: {summary.scorer_errors}  "
        f"cached: {summary.cached}  tokens: {summary.prompt_tokens} prompt / "
        f"{summary.completion_tokens} completion"
    )
    if summary.error_messages:
        errors = Table(title="errors", title_justify="left")
        errors.add_column("count", justify="right")
        errors.add_column("message")
        for message, count in list(summary.error_messages.items())[:10]:
            errors.add_row(str(count), message)
        console.print(errors)


def render_run_location(run_dir: Path, console: Console) -> None:
    console.print(f"run directory: [bold]{run_dir}[/bold]")
