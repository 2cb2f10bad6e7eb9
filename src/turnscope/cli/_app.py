"""The `turnscope` Typer app and what every command shares: consoles, one-line errors, the
runs directory, opening a run."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from turnscope import __version__
from turnscope.run import (
    DEFAULT_RUNS_ROOT,
)
from turnscope.store import (
    RunStore,
    StoreError,
)

app = typer.Typer(
    name="turnscope",
    help=(
        "Evaluate language models turn by turn in multi-turn conversations.\n\n"
        "Quick start (offline, embedded model):  turnscope run\n\n"
        "Against a server:  turnscope run -m openai:MODEL@http://127.0.0.1:8080/v1"
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Piped output (logs, CI) is read in files, not 80-column terminals: do not fold tables there.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
RUNS_DIR_ENV = "TURNSCOPE_RUNS_DIR"
T = TypeVar("T")
DEFAULT_MAX_TOKENS = 192
DEFAULT_ROLE_N_CTX = 4096


def fail(message: str, code: int = 2) -> NoReturn:
    """One clear line on stderr and a non-zero exit: no traceback for a user's mistake."""
    # soft_wrap: a long message (a path, the list of known protocols) stays one line.
    err_console.print(
        f"[bold red]error:[/bold red] {escape(message)}",
        highlight=False,
        emoji=False,
        soft_wrap=True,
    )
    raise typer.Exit(code)


def runs_root(option: Path | None) -> Path:
    if option is not None:
        return option
    return Path(os.environ.get(RUNS_DIR_ENV) or DEFAULT_RUNS_ROOT)


@contextmanager
def open_run(run_dir: Path) -> Iterator[RunStore]:
    try:
        store = RunStore.open(run_dir)
    except StoreError as exc:
        fail(str(exc))
    try:
        yield store
    finally:
        store.close()


def version_callback(value: bool) -> None:
    if value:
        console.print(f"turnscope {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """turnscope: play conversations against a model, score every turn, see where it degrades."""
