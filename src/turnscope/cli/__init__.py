"""The `turnscope` command: one module per group of commands, all on one Typer app.

The modules register their commands when imported, which happens on first use of `app`;
`--help` lists them in this order. `turnscope --version` answers before any of them is
imported: they bring in the data model, the scorers and numpy, most of a second of start-up."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from turnscope import __version__

if TYPE_CHECKING:
    import typer


def _commands() -> typer.Typer:
    """The app with every command registered."""
    # isort: off
    from turnscope.cli import run, browse, catalog, reports, judging, validate, view  # noqa: F401

    # isort: on
    from turnscope.cli._app import app

    return app


def __getattr__(name: str) -> Any:
    if name == "app":
        return _commands()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:] == ["--version"]:
        print(f"turnscope {__version__}")
        return
    _commands()()


__all__ = ["app", "main"]
