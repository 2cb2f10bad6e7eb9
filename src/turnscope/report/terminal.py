"""The terminal summary: score by turn index and by category, errors, where the run lives."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from turnscope.analysis import Cell, InstructionReport, JudgeReport, RunSummary


def fmt_cell(cell: Cell | None) -> str:
    if cell is None or cell.mean is None:
        return "-"
    return f"{cell.mean:.3f} (n={cell.scored})"


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def render_summary(summary: RunSummary, console: Console, *, title: str) -> None:
    """Print tables: by turn index (one column per variant), by category, errors."""
    variants = list(summary.by_turn)
    turns = sorted({t for cells in summary.by_turn.values() for t in cells})
    console.print(f"[bold]{escape(title)}[/bold]")
    console.print("[bold]mean score by turn index[/bold]")
    by_turn = Table()
    by_turn.add_column("turn", justify="right")
    for variant in variants:
        by_turn.add_column(variant, justify="right")
    for turn in turns:
        by_turn.add_row(str(turn), *(fmt_cell(summary.by_turn[v].get(turn)) for v in variants))
    by_turn.add_row("all", *(fmt_cell(summary.by_variant.get(v)) for v in variants), style="bold")
    console.print(by_turn)

    categories = sorted({c for cells in summary.by_category.values() for c in cells})
    console.print("[bold]mean score by category[/bold]")
    by_cat = Table()
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
        f"cached: {summary.cached}  tokens: {_count(summary.prompt_tokens)} prompt / "
        f"{_count(summary.completion_tokens)} completion"
    )
    if summary.error_messages:
        console.print("[bold]errors[/bold]")
        errors = Table()
        errors.add_column("count", justify="right")
        errors.add_column("message")
        for message, count in list(summary.error_messages.items())[:10]:
            errors.add_row(str(count), message)
        console.print(errors)


def render_run_location(run_dir: Path, console: Console) -> None:
    console.print(f"run directory: [bold]{run_dir}[/bold]")


def render_instruction_report(report: InstructionReport, console: Console) -> None:
    """Instruction following: PIF by turn (strict/loose), all-followed rate, PIF-N-K, types."""
    console.print("[bold]instruction following by turn (strict / loose)[/bold]")
    table = Table()
    table.add_column("variant")
    table.add_column("turn", justify="right")
    table.add_column("answers", justify="right")
    table.add_column("instr. followed (PIF)", justify="right")
    table.add_column("all followed", justify="right")
    for variant, cells in report.by_turn.items():
        rows = [*((str(t), c) for t, c in cells.items()), ("all", report.overall[variant])]
        for turn, cell in rows:
            table.add_row(
                variant,
                turn,
                str(cell.answers),
                f"{cell.instruction_strict:.3f} / {cell.instruction_loose:.3f}",
                f"{cell.all_followed_strict:.3f} / {cell.all_followed_loose:.3f}",
            )
    console.print(table)
    if report.samples > 1:
        n = report.samples
        ks = ", ".join(
            f"{variant}: " + " ".join(f"K={k}:{share:.3f}" for k, share in shares.items())
            for variant, shares in report.pif_n_k.items()
        )
        console.print(f"PIF-{n}-K (share of item turns where >= K of {n} samples follow all): {ks}")
    console.print("[bold]instruction types, most failed first[/bold]")
    types = Table()
    types.add_column("instruction")
    types.add_column("checks", justify="right")
    types.add_column("strict", justify="right")
    types.add_column("loose", justify="right")
    for row in report.by_type[:15]:
        types.add_row(row.instruction, str(row.checks), f"{row.strict:.3f}", f"{row.loose:.3f}")
    console.print(types)


def render_judge_report(report: JudgeReport, console: Console) -> None:
    """Judges: judgments, errors and retries per judge, verdict distribution, agreement,
    position inconsistency, and the judge error messages."""
    console.print("[bold]judges[/bold]")
    table = Table()
    table.add_column("judge")
    for column in ("judgments", "judge errors", "requests", "retried"):
        table.add_column(column, justify="right")
    table.add_column("verdicts")
    for stats in report.by_judge:
        table.add_row(
            escape(stats.judge),
            str(stats.judgments),
            str(stats.errors),
            str(stats.requests),
            str(stats.retried),
            ", ".join(f"{label}: {n}" for label, n in stats.verdicts.items()) or "-",
        )
    console.print(table)
    if report.jury is not None:
        exact = "-" if report.jury.exact is None else f"{report.jury.exact:.3f}"
        console.print(
            f"jury agreement: all judges gave the same verdict on {exact} of "
            f"{report.jury.answers} answers judged by all"
        )
        for kind, alpha in report.jury.alpha.items():
            value = "-" if alpha.value is None else f"{alpha.value:.3f}"
            console.print(f"  {kind}: {alpha.method} = {value} over {alpha.n_items} answers")
    if report.pairwise is not None:
        pw = report.pairwise
        rate = "-" if pw.inconsistency_rate is None else f"{pw.inconsistency_rate:.3f}"
        console.print(
            f"pairwise: {pw.comparisons} comparisons, {pw.decided} decided, "
            f"position-inconsistent {pw.inconsistent} (rate {rate}, counted as ties)"
        )
    if report.error_messages:
        console.print("[bold]judge errors[/bold] (raw text: turnscope show RUN --item ID)")
        errors = Table()
        errors.add_column("count", justify="right")
        errors.add_column("message")
        for message, count in list(report.error_messages.items())[:10]:
            errors.add_row(str(count), escape(message))
        console.print(errors)
