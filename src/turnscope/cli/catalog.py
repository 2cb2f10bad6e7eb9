"""What turnscope offers: `turnscope models`, `suites` and `generate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from turnscope.cli._app import (
    Command,
    app,
    console,
    err_console,
    fail,
)
from turnscope.models import backends
from turnscope.report.safe import cell, markup
from turnscope.suites import DEFAULT_SUITE, SuiteError, parse_seed, suites


@app.command(
    cls=Command,
    epilog="Example:  turnscope models && turnscope run -m openai:NAME@http://127.0.0.1:8080/v1",
)
def models() -> None:
    """List model backends, whether they are ready, and spec examples."""
    for info in backends():
        console.print(f"[bold]{markup(info.name)}[/bold]  {markup(info.summary)}")
        console.print(f"  status:   {markup(info.status())}", soft_wrap=True)
        for example in info.examples:
            console.print(f"  example:  --model {markup(example)}", soft_wrap=True)
        for key, what in (info.options or {}).items():
            console.print(f"  option:   -M {markup(key)}=...  {markup(what)}", soft_wrap=True)
    console.print("Use a spec with:  turnscope run --model SPEC")


@app.command(
    cls=Command, name="suites", epilog="Example:  turnscope suites && turnscope run -s core:7"
)
def list_suites() -> None:
    """List the built-in suites (any .jsonl/.yaml file works too: --suite FILE)."""
    table = Table(title="built-in suites", title_justify="left")
    table.add_column("--suite", no_wrap=True)
    table.add_column("what")
    for info in suites():
        table.add_row(
            cell(info.usage + (" (default)" if info.name == DEFAULT_SUITE else "")),
            cell(info.summary),
        )
    console.print(table)


@app.command(
    cls=Command,
    epilog=(
        "Examples:\n\n"
        "  turnscope generate core -o core.jsonl\n\n"
        "  turnscope generate full --seed 7 -o full-7.jsonl && turnscope run -s full-7.jsonl"
    ),
)
def generate(
    suite: Annotated[
        str,
        typer.Argument(
            help="A generated built-in suite: core or full (or core:SEED).", metavar="SUITE"
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="The JSONL file to write (one item a line).", metavar="FILE"
        ),
    ],
    seed: Annotated[
        int, typer.Option(min=0, help="Suite seed: the same seed gives the same file.", metavar="N")
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
    err_console.print(
        f"wrote {count} items ({turns} turns) of {markup(built.name)} to {markup(output)}"
    )
