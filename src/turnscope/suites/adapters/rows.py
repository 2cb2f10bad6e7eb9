"""What every benchmark adapter shares: reading publisher rows, judge scorer specs."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from turnscope.core import error_text
from turnscope.suites.limits import MAX_LINE_CHARS, LimitError, parse_json
from turnscope.suites.loader import RawItem, SuiteError, check_file_size

RowConverter = Callable[[Mapping[str, Any], str], dict[str, Any]]
"""Turns one publisher row (and "file:line" for messages) into an item dict."""


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line, row, parse error) for every row of a .jsonl or .csv file, within the suite
    limits (a UTF-8 byte order mark is dropped); a file that cannot be read is a SuiteError."""
    check_file_size(path)
    try:
        yield from (_csv_rows(path) if path.suffix.lower() == ".csv" else _jsonl_rows(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{path}: cannot read: {exc}") from None


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        try:
            for row in reader:
                yield reader.line_num, dict(row), None
        except csv.Error as exc:
            raise SuiteError(f"{path}:{reader.line_num}: invalid CSV: {exc}") from None


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(_bounded_lines(handle), start=1):
            if not line.strip():
                continue
            try:
                data = parse_json(line)
            except LimitError as exc:
                yield number, None, str(exc)
                continue
            if isinstance(data, dict):
                yield number, data, None
            else:
                yield number, None, f"expected a JSON object, got {type(data).__name__}"


def _bounded_lines(handle: Any) -> Iterator[str]:
    """The file's lines, each read at most MAX_LINE_CHARS + 1 characters at a time, so a
    file that is one enormous line is never held whole (its first piece fails parse_json)."""
    while line := handle.readline(MAX_LINE_CHARS + 1):
        if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
            while (rest := handle.readline(MAX_LINE_CHARS + 1)) and not rest.endswith("\n"):
                pass  # skip the remainder of the overlong line
        yield line


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
            except ValidationError as exc:
                # A part the adapter validates itself (a tools setup ...) refused a value
                # the row's checks let through, such as a lone surrogate.
                first = exc.errors()[0]
                field = ".".join(map(str, first["loc"]))
                message = f"{exc.title}, field {field!r}: {error_text(first)}"
                raws.append(RawItem(None, path, line, parse_error=message))
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
