"""What every benchmark adapter shares: reading publisher rows, judge scorer specs."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from turnscope.suites.loader import RawItem, SuiteError

RowConverter = Callable[[Mapping[str, Any], str], dict[str, Any]]
"""Turns one publisher row (and "file:line" for messages) into an item dict."""


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line, row, parse error) for every row of a .jsonl or .csv file."""
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            for row in reader:
                yield reader.line_num, dict(row), None
        return
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, None, f"invalid JSON: {exc.msg} (column {exc.colno})"
                continue
            if isinstance(data, dict):
                yield number, data, None
            else:
                yield number, None, f"expected a JSON object, got {type(data).__name__}"


def raw_items(files: Sequence[Path], convert: RowConverter) -> list[RawItem]:
    """Every row of `files` converted into a raw item; a row that cannot be converted keeps
    its one-line error (reported, or skipped with --skip-invalid, by the suite loader)."""
    raws: list[RawItem] = []
    for path in files:
        for line, row, error in read_rows(path):
            if row is None:
                raws.append(RawItem(None, path, line, parse_error=error or "empty row"))
                continue
            where = f"{path}:{line}"
            try:
                raws.append(RawItem(convert(row, where), path, line))
            except SuiteError as exc:
                raws.append(RawItem(None, path, line, parse_error=_local(str(exc), where)))
    return raws


def _local(message: str, where: str) -> str:
    """The error without its "file:line: " prefix: the raw item adds the place back."""
    return message.removeprefix(f"{where}: ")


def judge_spec(
    kind: str = "grade",
    *,
    guidance: str | None = None,
    use_reference: bool = True,
    rubric: str | None = None,
) -> dict[str, Any]:
    """A `judge` turn scorer spec with only the parameters that are set."""
    spec: dict[str, Any] = {"type": "judge", "kind": kind, "use_reference": use_reference}
    if guidance is not None:
        spec["guidance"] = guidance
    if rubric is not None:
        spec["rubric"] = rubric
    return spec


def text_field(value: Any) -> str | None:
    """A publisher's text cell: strings as they are, numbers written out (some reference files
    store numeric answers as JSON numbers), blanks as None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None
