"""Read suite files (JSONL, YAML) into validated items, with errors that name file, line, field."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from turnscope.core import Item, Suite, error_text
from turnscope.protocols import get_protocol
from turnscope.scorers import ScorerConfigError, check_scorer_spec
from turnscope.suites.limits import (
    MAX_FILE_BYTES,
    LimitError,
    SuiteYamlLoader,
    check_value,
    check_yaml_nodes,
    parse_json,
)


class SuiteError(ValueError):
    """A suite file cannot be used; the message is one line naming file, line and field."""


@dataclass(frozen=True)
class RawItem:
    """An item as parsed from a file, before validation, with where it came from."""

    data: Any
    path: Path
    line: int
    """1-based line of the item in its file."""
    node: yaml.Node | None = None
    """The YAML node, to find the line of a nested field; None for JSONL."""
    parse_error: str | None = None
    """Why this line could not be parsed at all (reported when the item is validated)."""


@dataclass
class LoadedSuite:
    """A validated suite and what was skipped on the way (with --skip-invalid)."""

    suite: Suite
    skipped: list[str] = field(default_factory=list)
    """One message per item left out because it was invalid."""
    conditions: tuple[str, ...] | None = None
    """The conditions the suite is meant to be played under when the user names none."""
    max_tokens: int | None = None
    """The answer budget the suite is meant to be played with when the user gives none."""
    left_out: dict[str, int] = field(default_factory=dict)
    """Items of the source that cannot be played here, by reason (counted and shown), e.g. a
    benchmark's tasks that need an environment turnscope does not run."""


def _field_path(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def _node_line(node: yaml.Node | None, loc: Sequence[int | str], default: int) -> int:
    """The line of the deepest YAML node along `loc` (field names and list indexes)."""
    line = default
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _item_label(data: Any) -> str:
    if isinstance(data, dict) and isinstance(data.get("id"), str):
        return f"item {data['id']!r}"
    return "item"


def validate_item(raw: RawItem) -> Item:
    """Validate one raw item and its scorer specs; raise SuiteError naming file, line, field."""
    where = f"{raw.path}:{raw.line}"
    if raw.parse_error is not None:
        raise SuiteError(f"{where}: {raw.parse_error}")
    if not isinstance(raw.data, dict):
        raise SuiteError(f"{where}: expected an item object, got {type(raw.data).__name__}")
    try:
        check_value(raw.data)
    except LimitError as exc:
        line = _node_line(raw.node, exc.loc, raw.line)
        field_name = f", field {_field_path(exc.loc)!r}" if exc.loc else ""
        raise SuiteError(f"{raw.path}:{line}: {_item_label(raw.data)}{field_name}: {exc}") from None
    try:
        item = Item.model_validate(raw.data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = error["loc"]
        line = _node_line(raw.node, loc, raw.line)
        raise SuiteError(
            f"{raw.path}:{line}: {_item_label(raw.data)}, field {_field_path(loc)!r}: "
            f"{error_text(error)}"
        ) from None
    for t, turn in enumerate(item.turns):
        for s, spec in enumerate(turn.scorers):
            try:
                check_scorer_spec(spec, turn.reference)
            except ScorerConfigError as exc:
                loc = ("turns", t, "scorers", s)
                line = _node_line(raw.node, loc, raw.line)
                raise SuiteError(
                    f"{raw.path}:{line}: item {item.id!r}, field {_field_path(loc)!r}: {exc}"
                ) from None
    try:
        get_protocol(item.protocol).check_item(item)
    except ValueError as exc:
        field_name = "protocol" if str(exc).startswith("unknown protocol") else "setup"
        line = _node_line(raw.node, (field_name,), raw.line)
        raise SuiteError(f"{raw.path}:{line}: item {item.id!r}: {exc}") from None
    return item


def _read_jsonl(path: Path, text: str) -> Iterator[RawItem]:
    # Only "\n" ends a line: str.splitlines() would also split at U+2028, U+0085 ... which a
    # JSON string may hold unescaped (a "\r" before "\n" is JSON whitespace).
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield RawItem(parse_json(line), path, number)
        except LimitError as exc:
            yield RawItem(None, path, number, parse_error=str(exc))


def _read_yaml(path: Path, text: str) -> Iterator[RawItem]:
    loader = SuiteYamlLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            check_yaml_nodes(root)
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SuiteError(f"{path}{line}: invalid YAML: {problem}") from None
    finally:
        loader.dispose()
    items_node: yaml.Node | None = root
    if isinstance(data, dict):
        if "items" not in data:
            raise SuiteError(f"{path}:1: a YAML suite is a list of items or a mapping with 'items'")
        data = data["items"]
        items_node = _child(root, "items")
    if not isinstance(data, list):
        raise SuiteError(f"{path}:1: a YAML suite is a list of items or a mapping with 'items'")
    nodes = items_node.value if isinstance(items_node, yaml.SequenceNode) else []
    for index, entry in enumerate(data):
        node = nodes[index] if index < len(nodes) else None
        line_number = node.start_mark.line + 1 if node is not None else 1
        yield RawItem(entry, path, line_number, node)


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        return next((v for k, v in node.value if k.value == key), None)
    return None


def check_file_size(path: Path) -> None:
    """SuiteError if `path` is larger than MAX_FILE_BYTES."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read: {exc}") from None
    if size > MAX_FILE_BYTES:
        raise SuiteError(
            f"{path}: the file has {size:,} bytes (a suite file may have at most "
            f"{MAX_FILE_BYTES:,})"
        )


def read_raw_items(path: Path) -> list[RawItem]:
    """Parse a suite file into raw items (no validation yet)."""
    if not path.exists():
        raise SuiteError(f"{path}: no such file")
    if path.is_dir():
        raise SuiteError(f"{path}: is a directory, expected a .jsonl or .yaml suite file")
    check_file_size(path)
    try:
        # A UTF-8 byte order mark is accepted (and dropped) in every format.
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{path}: cannot read: {exc}") from None
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        return list(_read_jsonl(path, text))
    if suffix in (".yaml", ".yml"):
        return list(_read_yaml(path, text))
    raise SuiteError(f"{path}: unknown suite format {suffix!r}; use .jsonl, .yaml or .yml")


def build_suite(name: str, raws: Sequence[RawItem], *, skip_invalid: bool = False) -> LoadedSuite:
    """Validate raw items into a suite; duplicate ids are an error naming both lines."""
    items: list[Item] = []
    skipped: list[str] = []
    first_line: dict[str, RawItem] = {}
    for raw in raws:
        try:
            item = validate_item(raw)
            earlier = first_line.get(item.id)
            if earlier is not None:
                raise SuiteError(
                    f"{raw.path}:{raw.line}: duplicate item id {item.id!r} "
                    f"(first at line {earlier.line})"
                )
        except SuiteError as exc:
            if not skip_invalid:
                raise
            skipped.append(str(exc))
            continue
        first_line[item.id] = raw
        items.append(item)
    if not items:
        where = raws[0].path if raws else name
        raise SuiteError(f"{where}: the suite has no valid items")
    return LoadedSuite(Suite(name=name, items=tuple(items)), skipped)


def load_suite_file(path: Path, *, skip_invalid: bool = False) -> LoadedSuite:
    """Read and validate a JSONL or YAML suite file."""
    return build_suite(str(path), read_raw_items(path), skip_invalid=skip_invalid)
