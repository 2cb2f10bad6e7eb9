"""HTML reports and run comparison: `turnscope report` and `compare`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from turnscope.analysis.compare import NoCommonItems, compare_runs
from turnscope.analysis.multiturn import analyse
from turnscope.cli._app import (
    Command,
    app,
    console,
    err_console,
    fail,
    open_run,
    print_json,
)
from turnscope.report.html import (
    changed_conversations,
    render_comparison_report,
    write_atomically,
    write_run_report,
)
from turnscope.report.safe import markup
from turnscope.report.terminal import render_comparison


@app.command(
    cls=Command,
    epilog=(
        "Examples:\n\n"
        "  turnscope report turnscope-runs/20261122-101500-llamacpp-core\n\n"
        "  turnscope report RUN_DIR -o /tmp/report.html"
    ),
)
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.", metavar="RUN_DIR")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="File to write (default: RUN_DIR/report.html).", metavar="FILE"
        ),
    ] = None,
) -> None:
    """(Re)build a run's self-contained HTML report: headline figures, plots, worst transcripts."""
    with open_run(run_dir) as store:
        try:
            path = write_run_report(store, output)
        except OSError as exc:
            fail(f"cannot write {output or run_dir}: {exc.strerror or exc}")
    console.print(f"report: [bold]{markup(path)}[/bold]")


@app.command(
    cls=Command,
    epilog=(
        "Examples:\n\n"
        "  turnscope compare turnscope-runs/RUN_A turnscope-runs/RUN_B\n\n"
        "  turnscope compare RUN_A RUN_B -o ab.html --resamples 5000\n\n"
        "  turnscope compare RUN_A RUN_B --json > ab.json"
    ),
)
def compare(
    run_a: Annotated[Path, typer.Argument(help="The baseline run directory (A).", metavar="RUN_A")],
    run_b: Annotated[
        Path, typer.Argument(help="The run compared against it (B).", metavar="RUN_B")
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="HTML file to write (default: compare-A-vs-B.html in RUN_A).",
            metavar="FILE",
        ),
    ] = None,
    resamples: Annotated[
        int, typer.Option(min=100, help="Bootstrap resamples.", metavar="N")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap resamples.", metavar="N")] = 0,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the comparison and both runs' analyses as JSON instead of the table "
            "(the HTML report only with -o).",
            metavar="",
        ),
    ] = False,
) -> None:
    """Compare two runs item by item: B minus A per family and overall, paired test, the
    conversations that changed most, HTML."""
    with open_run(run_a) as store_a, open_run(run_b) as store_b:
        records_a, items_a = store_a.turn_scores(), store_a.items()
        records_b, items_b = store_b.turn_scores(), store_b.items()
        serving_a, serving_b = store_a.serving_scores(), store_b.serving_scores()
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
                serving_a=serving_a,
                serving_b=serving_b,
            )
        except NoCommonItems as exc:
            fail(str(exc))
        # Only the transcripts of the conversations shown are read.
        changed = changed_conversations(
            comparison,
            [*items_a, *items_b],
            store_a.conversation_records,
            store_b.conversation_records,
        )
    analysis_a = analyse(records_a, items_a, serving=serving_a, resamples=resamples, seed=seed)
    analysis_b = analyse(records_b, items_b, serving=serving_b, resamples=resamples, seed=seed)
    if as_json:
        print_json(
            {
                "comparison": comparison.model_dump(mode="json"),
                "a": {"run": label_a, "analysis": analysis_a.model_dump(mode="json")},
                "b": {"run": label_b, "analysis": analysis_b.model_dump(mode="json")},
            }
        )
        if output is None:
            return
    else:
        render_comparison(comparison, console)
    html = render_comparison_report(
        comparison,
        analysis_a,
        analysis_b,
        config_a=config_a,
        config_b=config_b,
        changed=changed,
    )
    # In the baseline run's directory, not the runs directory: that one holds runs only.
    target = output or run_a.resolve() / f"compare-{label_a}-vs-{label_b}.html"
    try:
        write_atomically(target, html)
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror or exc}")
    (err_console if as_json else console).print(f"comparison report: [bold]{markup(target)}[/bold]")
