"""Suites declared in Python: a function decorated with `@turnscope.suite` returns (or yields)
the items, as `Item` objects or dicts in the suite-file format, and `turnscope run -s
my_suites.py` (or `-s my_suites.py:NAME` when the file declares several) plays them.

    from turnscope import suite

    @suite(conditions=("own", "gold"), max_tokens=64)
    def capitals():
        for country, capital in [("France", "Paris"), ("Peru", "Lima")]:
            yield {"id": f"capital-{country}", "turns": [
                {"user": f"What is the capital of {country}?", "reference": capital,
                 "scorers": [{"type": "contains"}]},
            ]}

Every item is validated exactly like a suite file's (errors name the file, the function and
the item), so a Python suite is a suite file whose items are computed."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from turnscope.core import Item
from turnscope.suites.loader import LoadedSuite, RawItem, SuiteError, build_suite

F = TypeVar("F", bound=Callable[..., Iterable[Item | dict[str, Any]]])
_MARK = "__turnscope_suite__"


@dataclass(frozen=True)
class SuiteDeclaration:
    """What `@suite` records on the function it decorates."""

    name: str
    """The suite's name (the function's, unless given)."""
    conditions: tuple[str, ...] | None
    """Conditions to play when the user names none."""
    max_tokens: int | None
    """Answer budget when the user gives none."""


def suite(
    name: str | None = None,
    *,
    conditions: Sequence[str] | None = None,
    max_tokens: int | None = None,
) -> Callable[[F], F]:
    """Decorator: the function's items become a suite that `turnscope run -s FILE.py` plays."""

    def decorate(function: F) -> F:
        declaration = SuiteDeclaration(
            name or function.__name__,
            tuple(conditions) if conditions is not None else None,
            max_tokens,
        )
        setattr(function, _MARK, declaration)
        return function

    return decorate


def _module(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"turnscope_suite_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise SuiteError(f"{path}: cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's module: any failure is reported in one line
        raise SuiteError(f"{path}: importing it failed: {type(exc).__name__}: {exc}") from None
    return module


def declared_suites(path: Path) -> dict[str, Callable[[], Iterable[Any]]]:
    """The `@suite` functions of a Python file, by suite name."""
    module = _module(path)
    found = {}
    for value in vars(module).values():
        declaration = getattr(value, _MARK, None)
        if isinstance(declaration, SuiteDeclaration):
            found[declaration.name] = value
    return found


def load_python_suite(path: Path, name: str | None, *, skip_invalid: bool) -> LoadedSuite:
    """The items of the `@suite` function `name` in `path` (the only one, when `name` is None)."""
    found = declared_suites(path)
    if not found:
        raise SuiteError(f"{path}: no function decorated with @turnscope.suite")
    if name is None:
        if len(found) > 1:
            raise SuiteError(
                f"{path}: declares several suites ({', '.join(sorted(found))}): "
                f"name one, e.g. {path}:{sorted(found)[0]}"
            )
        (name,) = found
    function = found.get(name)
    if function is None:
        raise SuiteError(f"{path}: no suite {name!r} (declared: {', '.join(sorted(found))})")
    declaration: SuiteDeclaration = getattr(function, _MARK)
    where = Path(f"{path}:{name}")
    try:
        produced = list(function())
    except Exception as exc:  # the user's function: any failure is reported in one line
        raise SuiteError(
            f"{where}: the suite function failed: {type(exc).__name__}: {exc}"
        ) from None
    raws = [
        RawItem(item.model_dump(mode="json") if isinstance(item, Item) else item, where, number)
        for number, item in enumerate(produced, start=1)
    ]
    loaded = build_suite(f"{path}:{name}", raws, skip_invalid=skip_invalid)
    return LoadedSuite(
        loaded.suite,
        loaded.skipped,
        conditions=declaration.conditions,
        max_tokens=declaration.max_tokens,
        origins=loaded.origins,
    )
