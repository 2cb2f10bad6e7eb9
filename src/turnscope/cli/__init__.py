"""The `turnscope` command: one module per group of commands, all on one Typer app.

The modules register their commands when imported; `--help` lists them in this order."""

# isort: off
from turnscope.cli import run, browse, catalog, reports, judging  # noqa: F401

# isort: on
from turnscope.cli._app import app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
