"""The `turnscope` Typer app and what every command shares: consoles, one-line errors, the
runs directory, opening a run."""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
import typer.core
from pydantic import ValidationError
from rich.console import Console

# Typer raises the usage errors of the Click it vendors.
from typer._click import exceptions as _cli_errors

from turnscope import __version__
from turnscope.report.safe import markup
from turnscope.run import (
    DEFAULT_RUNS_ROOT,
)
from turnscope.store import (
    RunStore,
    StoreError,
)


class _QuietHelp:
    """`--help` is a flag: show it without a value placeholder, like every other flag."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.metavar = ""
        return option


class Command(_QuietHelp, typer.core.TyperCommand):
    """Every turnscope command (declared with `cls=Command`): its usage line names a required
    argument plainly (`RUN_DIR`, not Typer's `{RUN_DIR}`)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)
        return [re.sub(r"^\{(.+?)\}", r"\1", piece) for piece in pieces]

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        for param in params:
            if isinstance(param, typer.core.TyperArgument):
                # The argument's name says what it is; Typer would add its Python type.
                param.display_type_rich = _no_type  # type: ignore[method-assign]
        return params


def _no_type(ctx: Any) -> None:
    return None


class _OneLineErrors(_QuietHelp, typer.core.TyperGroup):
    """The command group: a bad option value or usage (`--concurrency 0`, an unknown option)
    ends in one `error:` line and exit code 2, like every other bad input, instead of Click's
    boxed usage message."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        def run() -> Any:
            return super(_OneLineErrors, self).main(
                args, prog_name, complete_var, False, windows_expand_args, **extra
            )

        if not standalone_mode:
            return run()
        try:
            result = run()
        except _cli_errors.NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(0)
        except _cli_errors.ClickException as exc:
            hint = ""
            context = getattr(exc, "ctx", None)
            if isinstance(exc, _cli_errors.UsageError) and context is not None:
                hint = f" (see: {context.command_path} --help)"
            _print_error(exc.format_message() + hint)
            sys.exit(exc.exit_code)
        except typer.Abort:
            err_console.print("aborted")
            sys.exit(1)
        except OSError as exc:
            # A path the user gave that the file system refuses before any command can look
            # at it (a name longer than the file system allows, a symlink loop ...).
            if exc.filename is None or exc.errno not in _PATH_ERRNOS:
                raise
            _print_error(f"{exc.strerror}: {exc.filename}")
            sys.exit(2)
        except ValueError as exc:
            # A run or suite naming a protocol no installed package registers, met by a
            # command that did not check for it (show or report on a plugin's run).
            from turnscope.protocols.base import UnknownProtocol

            if not isinstance(exc, UnknownProtocol):
                raise
            _print_error(f"{exc}: is the package that provides it installed here?")
            sys.exit(2)
        sys.exit(result if isinstance(result, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
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
HEADLINE_META = "headline"
"""Run meta key of the headline per condition (score per conversation, key turns; n), stored
at the end of a run so that `turnscope runs` lists it without reading every score."""
REPLICAS_META = "replicas"
"""Meta key of the requests and errors per replica (embedded worker or pool server), summed
over the run's passes, with the requests moved and the workers restarted."""
T = TypeVar("T")
DEFAULT_MAX_TOKENS = 192
DEFAULT_ROLE_N_CTX = 4096
MAX_ERROR_CHARS = 2000
"""An error line longer than this (a server that sends a whole page back) is cut."""


_PATH_ERRNOS = frozenset({errno.ENAMETOOLONG, errno.ELOOP, errno.ENOTDIR})
"""Errors of a path itself, whichever command meets it: the user's input, not a bug."""


def _print_error(message: str) -> None:
    line = " ".join(message.split())  # one line, whatever the message held
    if len(line) > MAX_ERROR_CHARS:
        line = line[:MAX_ERROR_CHARS] + " …"
    err_console.print(
        f"[bold red]error:[/bold red] {markup(line)}", highlight=False, emoji=False, soft_wrap=True
    )


class _WarningLines(logging.Handler):
    """turnscope's library warnings (a server with fewer slots than the run's concurrency ...)
    as one yellow line each on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        err_console.print(
            f"[yellow]warning:[/yellow] {markup(record.getMessage())}",
            highlight=False,
            soft_wrap=True,
        )


logging.getLogger("turnscope").addHandler(_WarningLines(logging.WARNING))


def fail(message: str, code: int = 2) -> NoReturn:
    """One clear line on stderr and a non-zero exit: no traceback for a user's mistake."""
    _print_error(message)
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    """What a `--json` option prints: the data as indented JSON on stdout, text as it is
    (JSON escapes what needs escaping; nothing is read as console markup)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def runs_root(option: Path | None) -> Path:
    if option is not None:
        return option
    return Path(os.environ.get(RUNS_DIR_ENV) or DEFAULT_RUNS_ROOT)


DAMAGE = (sqlite3.DatabaseError, ValidationError, UnicodeDecodeError)
"""What reading a damaged run store raises: SQLite's "malformed", a record that no longer
parses (flipped bytes in its JSON), text that is no longer UTF-8."""


def damaged(run_dir: Path, exc: Exception) -> str:
    """The one-line message for a run store that fails while being read."""
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{run_dir}: the run store is damaged ({detail[:200]}); its other runs are unaffected"


@contextmanager
def open_run(run_dir: Path) -> Iterator[RunStore]:
    """Open a run for a command; a store that is not a run, or is damaged anywhere the
    command reads, ends the command with one line instead of a traceback."""
    try:
        store = RunStore.open(run_dir)
    except StoreError as exc:
        fail(str(exc))
    except DAMAGE as exc:
        fail(damaged(run_dir, exc))
    try:
        yield store
    except DAMAGE as exc:
        fail(damaged(run_dir, exc))
    except StoreError as exc:
        fail(str(exc))
    finally:
        store.close()


def version_callback(value: bool) -> None:
    if value:
        console.print(f"turnscope {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=version_callback,
            is_eager=True,
            help="Print the version.",
            metavar="",
        ),
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            help="Defaults for any command's options (default: ./turnscope.toml, else "
            "[tool.turnscope] in ./pyproject.toml); a .env file beside sets API keys.",
            metavar="FILE",
        ),
    ] = None,
) -> None:
    """turnscope: play conversations against a model, score every turn, see where it degrades."""
    from turnscope.cli._config import ConfigError, apply

    try:
        apply(ctx, config)
    except ConfigError as exc:
        fail(str(exc))
