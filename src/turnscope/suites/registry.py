"""Named suites: built-in ones shipped as package data, benchmark adapters, plugins."""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from turnscope.core import gc_paused
from turnscope.suites.loader import (
    LoadedSuite,
    SuiteError,
    build_suite,
    load_suite_file,
    read_raw_items,
)
from turnscope.suites.python_suites import load_python_suite

DEFAULT_SUITE = "core"

SuiteLoader = Callable[[str | None, bool], LoadedSuite]
"""Builds a suite from the text after "name:" (None if absent) and the --skip-invalid flag."""


@dataclass(frozen=True)
class SuiteInfo:
    """A named suite and how to load it."""

    name: str
    summary: str
    load: SuiteLoader
    usage: str
    """How to name it on the command line, e.g. "ifeval[:PATH|OWNER/NAME]"."""


_SUITES: dict[str, SuiteInfo] = {}
_plugins_loaded = False


def register_suite(
    name: str, *, summary: str, usage: str = ""
) -> Callable[[SuiteLoader], SuiteLoader]:
    """Decorator: a loader `(argument, skip_invalid) -> LoadedSuite` becomes the suite `name`,
    used as `--suite name` or `--suite name:argument`."""

    def decorate(load: SuiteLoader) -> SuiteLoader:
        _SUITES[name] = SuiteInfo(name, summary, load, usage or name)
        return load

    return decorate


def _packaged_file(filename: str) -> Path:
    return Path(str(importlib.resources.files("turnscope.suites") / "data" / filename))


@register_suite(
    "starter",
    summary="20 short conversations (3-5 turns): recall, arithmetic chains, format rules, "
    "follow-ups; every turn checked by code.",
)
def _starter(argument: str | None, skip_invalid: bool) -> LoadedSuite:
    if argument:
        raise SuiteError(f"starter:{argument}: the starter suite takes no argument")
    raws = read_raw_items(_packaged_file("starter.yaml"))
    return build_suite("starter", raws, skip_invalid=skip_invalid)


def parse_seed(name: str, argument: str | None) -> int:
    """The seed in `name:SEED` (0 when absent); SuiteError unless it is a whole number >= 0."""
    if argument is None:
        return 0
    if not (argument.isascii() and argument.isdigit()):
        raise SuiteError(f"{name}:{argument}: the seed must be a whole number >= 0 (e.g. {name}:7)")
    return int(argument)


def builtin_suite(name: str, seed: int) -> LoadedSuite:
    """A generated built-in suite (core, full, persona) for a seed, with the conditions and
    answer budget it is meant to be played with."""
    from turnscope.suites.builtin import RECIPES, build

    recipe = RECIPES[name]
    return LoadedSuite(
        build(recipe, seed), conditions=recipe.conditions, max_tokens=recipe.max_tokens
    )


def _register_builtin(name: str) -> None:
    from turnscope.suites.builtin import RECIPES

    @register_suite(name, summary=RECIPES[name].summary, usage=f"{name}[:SEED]")
    def _load(argument: str | None, skip_invalid: bool) -> LoadedSuite:
        return builtin_suite(name, parse_seed(name, argument))


_register_builtin("core")
_register_builtin("full")
_register_builtin("persona")


def _load_plugins() -> None:
    global _plugins_loaded
    if not _plugins_loaded:
        _plugins_loaded = True
        import turnscope.suites.adapters  # noqa: F401  (registers the benchmark adapters)

        for ep in entry_points(group="turnscope.suites"):
            ep.load()


def suites() -> list[SuiteInfo]:
    """Every named suite."""
    _load_plugins()
    return list(_SUITES.values())


def _is_path(ref: str) -> bool:
    """Whether `ref` names an existing file or directory; a name the file system refuses
    (longer than it allows, such as a built-in suite with a very long argument) does not."""
    try:
        return Path(ref).exists()
    except OSError:
        return False


def resolve_suite(ref: str, *, skip_invalid: bool = False) -> LoadedSuite:
    """A suite by name (`name` or `name:argument`), from a .jsonl/.yaml path, or from a Python
    file's `@turnscope.suite` function (`file.py` or `file.py:NAME`)."""
    # A suite is thousands of small objects that all stay alive: the cycle collector would
    # only traverse them again and again while they are built.
    with gc_paused():
        return _resolve(ref, skip_invalid)


def _resolve(ref: str, skip_invalid: bool) -> LoadedSuite:
    _load_plugins()
    python_file, dotpy, suite_name = ref.partition(".py")
    if dotpy and (not suite_name or suite_name.startswith(":")):
        path = Path(python_file + dotpy).expanduser()
        if not path.is_file():
            raise SuiteError(f"{path}: no such file")
        return load_python_suite(path, suite_name[1:] or None, skip_invalid=skip_invalid)
    name, colon, argument = ref.partition(":")
    info = _SUITES.get(name)
    if info is not None and not _is_path(ref):
        return info.load(argument if colon else None, skip_invalid)
    path = Path(ref).expanduser()
    if not path.exists() and path.suffix == "":
        known = ", ".join(sorted(_SUITES))
        raise SuiteError(f"{ref}: no built-in suite of that name (known: {known}) and no such file")
    return load_suite_file(path, skip_invalid=skip_invalid)
