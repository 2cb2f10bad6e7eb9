"""Named suites: built-in ones shipped as package data, plus plugins; and suite resolution."""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from turnscope.suites.loader import (
    LoadedSuite,
    SuiteError,
    build_suite,
    load_suite_file,
    read_raw_items,
)

DEFAULT_SUITE = "starter"


@dataclass(frozen=True)
class SuiteInfo:
    name: str
    summary: str
    load: Callable[[bool], LoadedSuite]
    """Build the suite; the flag is --skip-invalid."""


_SUITES: dict[str, SuiteInfo] = {}
_plugins_loaded = False


def register_suite(
    name: str, *, summary: str
) -> Callable[[Callable[[bool], LoadedSuite]], Callable[[bool], LoadedSuite]]:
    """Decorator: a loader `(skip_invalid) -> LoadedSuite` becomes the suite `name`."""

    def decorate(load: Callable[[bool], LoadedSuite]) -> Callable[[bool], LoadedSuite]:
        _SUITES[name] = SuiteInfo(name, summary, load)
        return load

    return decorate


def _packaged_file(filename: str) -> Path:
    return Path(str(importlib.resources.files("turnscope.suites") / "data" / filename))


@register_suite(
    "starter",
    summary="20 short conversations (3-5 turns): recall, arithmetic chains, format rules, "
    "follow-ups; every turn checked by code.",
)
def _starter(skip_invalid: bool) -> LoadedSuite:
    raws = read_raw_items(_packaged_file("starter.yaml"))
    return build_suite("starter", raws, skip_invalid=skip_invalid)


def _load_plugins() -> None:
    global _plugins_loaded
    if not _plugins_loaded:
        _plugins_loaded = True
        for ep in entry_points(group="turnscope.suites"):
            ep.load()


def suites() -> list[SuiteInfo]:
    """Every named suite."""
    _load_plugins()
    return list(_SUITES.values())


def resolve_suite(ref: str, *, skip_invalid: bool = False) -> LoadedSuite:
    """A suite by built-in name, or from a .jsonl/.yaml path."""
    _load_plugins()
    info = _SUITES.get(ref)
    if info is not None:
        return info.load(skip_invalid)
    path = Path(ref).expanduser()
    if not path.exists() and path.suffix == "":
        known = ", ".join(sorted(_SUITES))
        raise SuiteError(f"{ref}: no built-in suite of that name (known: {known}) and no such file")
    return load_suite_file(path, skip_invalid=skip_invalid)
