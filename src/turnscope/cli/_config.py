"""Defaults from a project file and secrets from `.env`.

`turnscope.toml` in the working directory (or a `[tool.turnscope]` table in its
`pyproject.toml`, or the file named by `--config`) holds defaults for any command's options,
one table per command, keys named like the options:

    [run]
    model = "openai:my-model@http://127.0.0.1:8080/v1"
    concurrency = 16
    condition = ["own", "gold"]
    max-tokens = 256

What the command line says wins over the file. A `.env` file in the working directory sets
environment variables that are not set already (API keys: `OPENAI_API_KEY=...`), so keys stay
out of the project file and out of every run directory."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import typer

CONFIG_FILE = "turnscope.toml"
ALIASES = {"condition": "variant", "conditions": "variant", "variants": "variant"}
"""Keys that read more naturally than the option's parameter name."""


class ConfigError(ValueError):
    """The project file cannot be used; the message is one line naming file and key."""


def find_config(explicit: Path | None, directory: Path) -> tuple[Path, dict[str, Any]] | None:
    """The defaults file and its table of commands: `explicit`, else turnscope.toml, else
    pyproject.toml's [tool.turnscope]; None when there is none."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"{explicit}: no such config file")
        return explicit, _read(explicit)
    own = directory / CONFIG_FILE
    if own.is_file():
        return own, _read(own)
    project = directory / "pyproject.toml"
    if project.is_file():
        table = _read(project).get("tool", {}).get("turnscope")
        if isinstance(table, dict):
            return project, table
    return None


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def default_map(path: Path, table: dict[str, Any], group: Any) -> dict[str, dict[str, Any]]:
    """Click's default map for the commands of `group` from a config table; ConfigError for a
    command or option the CLI does not have (a typo must not pass silently)."""
    commands = group.commands
    defaults: dict[str, dict[str, Any]] = {}
    for command_name, values in table.items():
        command = commands.get(command_name)
        if command is None:
            raise ConfigError(
                f"{path}: [{command_name}] is not a turnscope command "
                f"(commands: {', '.join(sorted(commands))})"
            )
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: {command_name} must be a table of option defaults")
        names = {p.name for p in command.params if p.name}
        multiple = {p.name for p in command.params if getattr(p, "multiple", False)}
        settings: dict[str, Any] = {}
        for key, value in values.items():
            name = ALIASES.get(key, key.replace("-", "_"))
            if name not in names:
                known = ", ".join(sorted(n.replace("_", "-") for n in names))
                raise ConfigError(
                    f"{path}: [{command_name}] {key!r} is not an option of "
                    f"`turnscope {command_name}` (options: {known})"
                )
            # A repeatable option given once in the file: `model = "llamacpp"`.
            settings[name] = [value] if name in multiple and isinstance(value, str) else value
        defaults[command_name] = settings
    return defaults


def load_dotenv_file(directory: Path) -> None:
    """Set the variables of `directory/.env` that the environment does not set already."""
    from dotenv import dotenv_values

    path = directory / ".env"
    if not path.is_file():
        return
    for key, value in dotenv_values(path).items():
        if value is not None and key not in os.environ:
            os.environ[key] = value


def apply(ctx: typer.Context, explicit: Path | None) -> None:
    """Load .env, then the defaults file, into the command context (ConfigError on a bad one)."""
    directory = Path.cwd()
    load_dotenv_file(directory)
    found = find_config(explicit, directory)
    if found is not None:
        ctx.default_map = default_map(*found, ctx.command)
