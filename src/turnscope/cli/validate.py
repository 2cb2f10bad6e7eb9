"""Checking a suite's task data: `turnscope validate`."""

from __future__ import annotations

from typing import Annotated

import typer

from turnscope.cli._app import Command, app, console, fail
from turnscope.report.safe import markup
from turnscope.suites import SuiteError, resolve_suite
from turnscope.suites.validate import FINDING_KINDS, Finding, count_kinds, validate_suite


def _line(finding: Finding) -> str:
    """One finding as one line: where, which item and turn, kind, what is wrong."""
    message = " ".join(finding.message.split())
    if finding.item_id is None:
        return f"{finding.kind}: {message}"  # the loader's message names file and line
    turn = f", turn {finding.turn}" if finding.turn is not None else ""
    return f"{finding.where}: item {finding.item_id!r}{turn}: {finding.kind}: {message}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@app.command(
    cls=Command,
    epilog=(
        "Examples:\n\n"
        "  turnscope validate my-suite.yaml\n\n"
        "  turnscope validate ifeval:input_data.jsonl\n\n"
        "Exit code: 0 no finding, 1 findings, 2 the suite cannot be read.\n\n"
        "Kinds of finding: " + "; ".join(f"{k}: {v}" for k, v in FINDING_KINDS.items()) + "."
    ),
)
def validate(
    suite: Annotated[
        str,
        typer.Argument(
            help="A suite to check: a .jsonl/.yaml file, a built-in name, or an adapter "
            "(ifeval:PATH, mt-bench:PATH ...), as for `run --suite`.",
            metavar="SUITE",
        ),
    ],
) -> None:
    """Check a suite's task data: references that fail their own scorers, instruction
    arguments that contradict the prompt, instructions that cannot hold together, duplicate
    items, empty turns, scorers on turns never answered, turns that do not exist."""
    try:
        loaded = resolve_suite(suite, skip_invalid=True)
    except SuiteError as exc:
        fail(str(exc))
    findings = validate_suite(loaded)
    for finding in findings:
        console.print(markup(_line(finding)), highlight=False, soft_wrap=True)
    items = len(loaded.suite.items) + len(loaded.skipped)
    if not findings:
        console.print(f"{markup(suite)}: {items} items, no findings", highlight=False)
        return
    concerned = len({f.item_id or f.message for f in findings})
    kinds = ", ".join(f"{kind} {n}" for kind, n in count_kinds(findings).items())
    console.print(
        f"{markup(suite)}: {_count(len(findings), 'finding')} in {concerned} of {items} items "
        f"({markup(kinds)})",
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(1)
