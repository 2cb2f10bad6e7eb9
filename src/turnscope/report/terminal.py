"""The terminal summary: the headline per conversation, per family and by turn, errors."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from turnscope.analysis import (
    MIN_TEST_PAIRS,
    SMALL_SAMPLE,
    Comparison,
    Estimate,
    FlagReport,
    InstructionReport,
    JudgeReport,
    MultiTurnAnalysis,
    RunSummary,
    ordered_conditions,
)
from turnscope.report.safe import cell, markup


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


SMALL_NOTE = (
    f"n: items behind a figure; * small sample: fewer than {SMALL_SAMPLE} items, too few for "
    "the figure to generalise"
)


def _n(e: Estimate) -> str:
    """ "n=N", marked when the estimate rests on a small sample."""
    return f"n={e.n}, small" if e.small else f"n={e.n}"


def estimate_cell(e: Estimate | None) -> str:
    """A table cell: "mean n=N", a star after N for a small sample, or "-" with no value.
    Short words, so that a narrow terminal wraps the cell instead of cutting it."""
    if e is None or e.mean is None:
        return "-"
    return f"{e.mean:.3f} n={e.n}{'*' if e.small else ''}"


def _estimate_table(
    first: str, rows: dict[str, dict[str, Estimate]], conditions: list[str]
) -> Table:
    """Rows x conditions of estimates (row name -> condition -> estimate)."""
    table = Table()
    # The row names stay whole in a narrow terminal; the figures wrap instead.
    width = min(40, max((len(key) for key in rows), default=0))
    table.add_column(first, justify="right", min_width=width)
    for condition in conditions:
        table.add_column(cell(condition), justify="right")
    for key, by_condition in rows.items():
        table.add_row(cell(key), *(estimate_cell(by_condition.get(c)) for c in conditions))
    return table


def _family_table(analysis: MultiTurnAnalysis) -> Table:
    """One row per family and condition played: a run of the core suite has nine conditions,
    too many columns for a terminal, while each family is played under two or three."""
    table = Table()
    table.add_column("family")
    table.add_column("condition")
    for column in ("score", "95 % interval", "n", "failed turns"):
        table.add_column(column, justify="right")
    rows = [
        (family, condition, e)
        for condition, cells in analysis.by_family.items()
        for family, e in cells.items()
    ]
    order = {c: i for i, c in enumerate(ordered_conditions(analysis.by_family))}
    for family, condition, e in sorted(rows, key=lambda r: (r[0], order[r[1]])):
        known = e.mean is not None and e.low is not None and e.high is not None
        table.add_row(
            cell(family),
            cell(condition),
            f"{e.mean:.3f}" if e.mean is not None else "-",
            f"[{e.low:.3f}, {e.high:.3f}]" if known else "-",
            f"{e.n}*" if e.small else str(e.n),
            str(e.errors),
        )
    return table


def render_summary(
    summary: RunSummary, analysis: MultiTurnAnalysis, console: Console, *, title: str
) -> None:
    """The headline per conversation (key turns), per family, by turn index (key turns only),
    then the run's counts and errors."""
    conditions = ordered_conditions(analysis.overall)
    console.print(f"[bold]{markup(title)}[/bold]")
    console.print(
        "[bold]score per conversation (key turns): mean over items, 95 % bootstrap interval[/bold]"
    )
    for condition, e in analysis.overall.items():
        console.print(f"  score ({markup(condition)}): {_interval(e)}", highlight=False)
    console.print("[bold]score per family, per conversation (key turns)[/bold]")
    console.print(_family_table(analysis))
    turns: dict[int, dict[str, Estimate]] = {}
    for condition, by_turn in analysis.by_turn.items():
        for turn, e in by_turn.items():
            turns.setdefault(turn, {})[condition] = e
    console.print(
        "[bold]score by turn index, per turn (key turns only: mean turn score over the items "
        "for which the turn is a key turn)[/bold]"
    )
    console.print(_estimate_table("turn", {str(t): turns[t] for t in sorted(turns)}, conditions))
    console.print(f"[dim]{markup(SMALL_NOTE)}[/dim]")
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
            errors.add_row(str(count), cell(message))
        console.print(errors)


def render_run_location(run_dir: Path, console: Console) -> None:
    console.print(f"run directory: [bold]{markup(run_dir)}[/bold]")


def render_instruction_report(report: InstructionReport, console: Console) -> None:
    """Instruction following: PIF by turn (strict/loose), all-followed rate, PIF-N-K, types."""
    console.print("[bold]instruction following by turn (strict / loose)[/bold]")
    table = Table()
    table.add_column("condition")
    table.add_column("turn", justify="right")
    table.add_column("answers", justify="right")
    table.add_column("instr. followed (PIF)", justify="right")
    table.add_column("all followed", justify="right")
    for condition, cells in report.by_turn.items():
        rows = [*((str(t), c) for t, c in cells.items()), ("all", report.overall[condition])]
        for turn, accuracy in rows:
            table.add_row(
                cell(condition),
                turn,
                str(accuracy.answers),
                f"{accuracy.instruction_strict:.3f} / {accuracy.instruction_loose:.3f}",
                f"{accuracy.all_followed_strict:.3f} / {accuracy.all_followed_loose:.3f}",
            )
    console.print(table)
    if report.samples > 1:
        n = report.samples
        ks = ", ".join(
            f"{markup(condition)}: " + " ".join(f"K={k}:{share:.3f}" for k, share in shares.items())
            for condition, shares in report.pif_n_k.items()
        )
        console.print(f"PIF-{n}-K (share of item turns where >= K of {n} samples follow all): {ks}")
    console.print("[bold]instruction types, most failed first[/bold]")
    types = Table()
    types.add_column("instruction")
    types.add_column("checks", justify="right")
    types.add_column("strict", justify="right")
    types.add_column("loose", justify="right")
    for row in report.by_type[:15]:
        types.add_row(
            cell(row.instruction), str(row.checks), f"{row.strict:.3f}", f"{row.loose:.3f}"
        )
    console.print(types)


def render_comparison(comparison: Comparison, console: Console) -> None:
    """The paired table: per condition and family, A, B, B - A with its interval, p-value."""
    table = Table(
        title=(
            f"{markup(comparison.label_b)} minus {markup(comparison.label_a)} "
            "(paired by item; score per conversation, key turns)"
        ),
        title_justify="left",
    )
    for column in ("condition", "family", "items", "A", "B", "B - A [95 %]", "p"):
        table.add_column(column, justify="left" if column in ("condition", "family") else "right")
    for row in comparison.rows:
        d = row.difference
        diff = (
            f"{d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}]"
            if d.mean is not None and d.low is not None and d.high is not None
            else "-"
        )
        table.add_row(
            cell(row.condition),
            cell(row.family),
            f"{row.n} (small)" if d.small else str(row.n),
            f"{row.mean_a:.3f}",
            f"{row.mean_b:.3f}",
            diff,
            f"{row.p_value:.4f}" if row.p_value is not None else "-",
            style="bold" if row.family == "all" else None,
        )
    console.print(table)
    console.print(
        f"test: {comparison.test}, made on {MIN_TEST_PAIRS} or more items (p '-' below); "
        f"intervals: paired bootstrap over items; small: fewer than {SMALL_SAMPLE} items"
    )
    if comparison.changed:
        changed = Table(
            title="conversations whose score (key turns) changed most", title_justify="left"
        )
        for column in ("condition", "item", "family", "A", "B", "B - A"):
            changed.add_column(column, justify="right" if len(column) < 6 else "left")
        for c in comparison.changed:
            changed.add_row(
                cell(c.condition),
                cell(c.item_id),
                cell(c.family),
                f"{c.score_a:.3f}",
                f"{c.score_b:.3f}",
                f"{c.score_b - c.score_a:+.3f}",
            )
        console.print(changed)
    if comparison.only_a or comparison.only_b:
        console.print(
            f"left out: {comparison.only_a} items only in A, {comparison.only_b} only in B"
        )
    for label, errors in (("A", comparison.errors_a), ("B", comparison.errors_b)):
        console.print(
            f"{label}: {errors.turns} turns, turn errors: {errors.turn_errors}, "
            f"scorer errors: {errors.scorer_errors}"
        )


def interval_text(e: Estimate | None) -> str:
    """An estimate as the terminal shows it: mean [low, high] (n=N)."""
    return _interval(e)


def paired_text(e: Estimate | None, p_value: float | None) -> str:
    """A paired difference with its interval and, where a test was made, its p-value."""
    text = _interval(e, signed=True)
    return f"{text} p={p_value:.3f}" if p_value is not None and text != "-" else text


def _interval(e: Estimate | None, *, signed: bool = False) -> str:
    if e is None or e.mean is None or e.low is None or e.high is None:
        return "-"
    sign = "+" if signed else ""
    dropped = f", {e.errors} failed turns left out" if e.errors else ""
    small = " sample" if e.small else ""
    return f"{e.mean:{sign}.3f} [{e.low:{sign}.3f}, {e.high:{sign}.3f}] ({_n(e)}{small}{dropped})"


def render_multiturn(analysis: MultiTurnAnalysis, console: Console) -> None:
    """Gaps, flip rate, success at k and spread with 95 % intervals over items (the score per
    condition is render_summary's); lines without data are left out."""
    lines = []
    for name, gap in analysis.gaps.items():
        lines.append(f"{markup(name)}: {_interval(gap.overall.difference, signed=True)}")
    for condition, flips in analysis.flip_rate.items():
        lines.append(
            f"flip rate ({markup(condition)}): {_interval(flips.rate)}, "
            f"{flips.flips} of {flips.conversations} correct answers abandoned"
        )
    for condition, curve in analysis.success_at_k.items():
        ks = " ".join(f"@{k}={e.mean:.3f}" for k, e in curve.by_k.items() if e.mean is not None)
        last = curve.by_k[max(curve.by_k)] if curve.by_k else None
        n = f" ({_n(last)})" if last is not None else ""
        lines.append(f"success at k ({markup(condition)}): {ks}{n}")
    for condition, aptitude in analysis.aptitude.items():
        lines.append(
            f"aptitude ({markup(condition)}, 90th pct over samples): {_interval(aptitude)}"
        )
        spread = analysis.unreliability.get(condition)
        lines.append(f"unreliability ({markup(condition)}, 90th - 10th pct): {_interval(spread)}")
    console.print("[bold]multi-turn figures (95 % bootstrap intervals over items)[/bold]")
    for line in lines:
        console.print(f"  {line}", highlight=False)
    console.print(
        f"  turn errors: {analysis.turn_errors}  scorer errors: {analysis.scorer_errors}",
        highlight=False,
    )
    render_simulator_errors(analysis, console)


def render_simulator_errors(analysis: MultiTurnAnalysis, console: Console) -> None:
    """Serving roles' failures and audit findings, apart from the target's: what they wrote,
    what failed, and the conversations they spoilt (left out of the scores above)."""
    if not analysis.serving and not analysis.spoilt and not analysis.findings:
        return
    console.print("[bold]simulator errors (not the target's failures)[/bold]")
    for role, stats in analysis.serving.items():
        console.print(
            f"  {markup(role)}: {stats.records} messages, {stats.errors} errors, "
            f"{stats.flagged} flagged by the audit",
            highlight=False,
        )
    if analysis.findings:
        found = ", ".join(f"{markup(f)} {n}" for f, n in analysis.findings.items())
        console.print(f"  findings: {found}", highlight=False)
    if analysis.spoilt:
        spoilt = ", ".join(f"{c} {n}" for c, n in analysis.spoilt.items())
        console.print(f"  spoilt conversations, left out of the scores: {spoilt}", highlight=False)


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
            cell(stats.judge),
            str(stats.judgments),
            str(stats.errors),
            str(stats.requests),
            str(stats.retried),
            cell(", ".join(f"{label}: {n}" for label, n in stats.verdicts.items()) or "-"),
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
            console.print(
                f"  {markup(kind)}: {alpha.method} = {value} over {alpha.n_items} answers"
            )
    if report.pairwise is not None:
        pw = report.pairwise
        rate = "-" if pw.inconsistency_rate is None else f"{pw.inconsistency_rate:.3f}"
        console.print(
            f"pairwise: {pw.comparisons} comparisons, {pw.decided} decided, "
            f"position-inconsistent {pw.inconsistent} (rate {rate}, counted as ties)"
        )
    if report.error_messages:
        where = "--pairwise" if report.pairwise is not None else "--item ID"
        console.print(f"[bold]judge errors[/bold] (raw text: turnscope show RUN {where})")
        errors = Table()
        errors.add_column("count", justify="right")
        errors.add_column("message")
        for message, count in list(report.error_messages.items())[:10]:
            errors.add_row(str(count), cell(message))
        console.print(errors)


def render_flag_report(report: FlagReport, console: Console) -> None:
    """Tool calls, tool errors, sandbox limits, rule tests and feedback leaks per condition:
    how often each flag was set, and per played conversation."""
    console.print(
        "[bold]tools, sandbox and feedback[/bold] (times a flag was set; per played conversation)"
    )
    table = Table()
    table.add_column("flag")
    conditions = ordered_conditions(report.by_condition)
    for condition in conditions:
        table.add_column(
            f"{markup(condition)} ({report.conversations[condition]} conv.)", justify="right"
        )
    for flag in report.flags:
        cells = []
        for condition in conditions:
            tally = report.by_condition[condition].get(flag)
            cells.append(
                "-" if tally is None else f"{tally.occurrences} ({tally.per_conversation:.2f})"
            )
        table.add_row(cell(flag), *cells)
    console.print(table)
