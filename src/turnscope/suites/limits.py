"""Limits on what a suite file may hold, and parsers of JSON and YAML that keep to them.

Suite files and benchmark rows are hostile input: nesting 2,000 levels deep overflows the
parsers' recursion, a YAML alias inside its own anchor never ends, nine aliases of nine
aliases ("billion laughs") load as a few shared objects and then expand without bound when the
run store writes them, a 5,000-digit integer is beyond what Python converts, and a lone
surrogate cannot be written as UTF-8. Each of these is refused here with a message that the
loader turns into one line naming file, line and field (docs/suite-format.md, "Limits").
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any, Final

import yaml

MAX_FILE_BYTES: Final = 256 * 1024 * 1024
"""The largest suite or benchmark file read."""
MAX_LINE_CHARS: Final = 16 * 1024 * 1024
"""The longest line of a JSON Lines file (one item or row)."""
MAX_STRING_CHARS: Final = 1_000_000
"""The longest text (or key) anywhere in an item."""
MAX_DEPTH: Final = 64
"""How many levels of values may nest, the item (a JSON line, or the YAML document) being the
first and a leaf value counting as one."""
MAX_YAML_NODES: Final = 1_000_000
"""How many values a YAML document may hold once every alias is written out in full."""
MAX_INT_DIGITS: Final = 100
"""The most digits an integer may have."""

_SURROGATE = re.compile("[\ud800-\udfff]")


class LimitError(ValueError):
    """A value breaks a limit; `loc` is the path to it (keys and list indexes) when known."""

    def __init__(self, message: str, loc: tuple[int | str, ...] = ()) -> None:
        super().__init__(message)
        self.loc = loc


def _text_problem(text: str) -> str | None:
    if len(text) > MAX_STRING_CHARS:
        return f"a text of {len(text):,} characters (at most {MAX_STRING_CHARS:,})"
    found = _SURROGATE.search(text)
    if found is not None:
        return (
            f"a lone surrogate U+{ord(found.group()):04X} at character {found.start() + 1}, "
            "which is not Unicode text"
        )
    return None


def _text_fits(text: str) -> bool:
    # ASCII text cannot hold a surrogate: most texts skip the regular expression.
    return len(text) <= MAX_STRING_CHARS and (text.isascii() or _SURROGATE.search(text) is None)


def _within_limits(data: Any) -> bool:
    """Whether every value is within limits; the quick pass most items take, which keeps no
    path (check_value walks again, keeping paths, only when this says no)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            if depth >= MAX_DEPTH:
                return False
            for key, child in value.items():
                if isinstance(key, str) and not _text_fits(key):
                    return False
                # Exact types first: parsed JSON holds only these, and isinstance costs more.
                # Texts, whole numbers and None are checked here, not put on the stack.
                kind = type(child)
                if kind is str:
                    if not _text_fits(child):
                        return False
                elif not (kind is int or kind is bool or child is None):
                    stack.append((child, depth + 1))
        elif isinstance(value, list | tuple):
            if depth >= MAX_DEPTH:
                return False
            for child in value:
                kind = type(child)
                if kind is str:
                    if not _text_fits(child):
                        return False
                elif not (kind is int or kind is bool or child is None):
                    stack.append((child, depth + 1))
        elif isinstance(value, str):
            if not _text_fits(value):
                return False
        elif isinstance(value, float) and not math.isfinite(value):
            return False
    return True


def check_value(data: Any) -> None:
    """Raise LimitError (with the path to it) for the first value out of limits: too deep,
    a text too long or holding a lone surrogate, a number that is not finite."""
    if _within_limits(data):
        return
    stack: list[tuple[Any, tuple[int | str, ...]]] = [(data, ())]
    while stack:
        value, loc = stack.pop()
        if len(loc) >= MAX_DEPTH:  # the item itself is the first level
            raise LimitError(f"nested more than {MAX_DEPTH} levels deep", loc[: MAX_DEPTH - 1])
        children: Iterable[tuple[int | str, Any]]
        if isinstance(value, str):
            problem = _text_problem(value)
            if problem is not None:
                raise LimitError(problem, loc)
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise LimitError(f"the number {value} is not finite", loc)
        if isinstance(value, dict):
            for key in value:
                problem = _text_problem(key) if isinstance(key, str) else None
                if problem is not None:
                    raise LimitError(f"key: {problem}", loc)
            children = ((k if isinstance(k, str | int) else str(k), v) for k, v in value.items())
        elif isinstance(value, list | tuple):
            children = enumerate(value)
        else:
            continue
        stack.extend((child, (*loc, key)) for key, child in reversed(list(children)))


# --- JSON -----------------------------------------------------------------------------------


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose keys are all different: a repeated key would otherwise keep only its
    last value, silently."""
    result = dict(pairs)
    if len(result) < len(pairs):  # rare: find which key came twice
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise LimitError(f"duplicate key {key[:80]!r} in one object")
            seen.add(key)
    return result


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise LimitError(
            f"an integer of {len(digits.lstrip('-')):,} digits (at most {MAX_INT_DIGITS})"
        )
    return int(digits)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise LimitError(f"the number {text[:40]} is too large to be finite")
    return value


def _no_constant(name: str) -> Any:
    raise LimitError(f"{name} is not a JSON number")


def parse_json(text: str) -> Any:
    """One JSON value (a JSON Lines line, or a JSON string inside a benchmark row), within the
    limits; LimitError (a ValueError) says what is wrong."""
    if len(text) > MAX_LINE_CHARS:
        raise LimitError(f"a line of {len(text):,} characters (at most {MAX_LINE_CHARS:,})")
    try:
        return json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_int=_bounded_int,
            parse_float=_finite_float,
            parse_constant=_no_constant,
        )
    except json.JSONDecodeError as exc:
        raise LimitError(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise LimitError(f"invalid JSON: nested more than {MAX_DEPTH} levels deep") from None


# --- YAML -----------------------------------------------------------------------------------


class YamlLimitError(yaml.MarkedYAMLError):
    """A YAML document breaks a limit, or holds a value its tag cannot make (`!!int ''`);
    `problem_mark` is where."""


class SuiteYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses nesting deeper than MAX_DEPTH while composing (its
    composer recurses once per level) and integers longer than MAX_INT_DIGITS."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlLimitError(
                    problem=f"nested more than {MAX_DEPTH} levels deep",
                    problem_mark=self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # PyYAML's constructors raise what int(), float() ... raise
            raise YamlLimitError(
                problem=f"cannot read this value ({type(exc).__name__}: {exc})"[:200],
                problem_mark=node.start_mark,
            ) from None

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        digits = sum(ch.isdigit() for ch in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise YamlLimitError(
                problem=f"an integer of {digits:,} digits (at most {MAX_INT_DIGITS})",
                problem_mark=node.start_mark,
            )
        value: int = super().construct_yaml_int(node)
        return value


SuiteYamlLoader.add_constructor("tag:yaml.org,2002:int", SuiteYamlLoader.construct_yaml_int)

_MERGE_TAG = "tag:yaml.org,2002:merge"


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def check_yaml_nodes(root: yaml.Node) -> None:
    """Raise YamlLimitError for a composed document that aliases would make recursive, deeper
    than MAX_DEPTH or larger than MAX_YAML_NODES once written out, or that repeats a key in
    one mapping. Shared (aliased) nodes are measured once, so a "billion laughs" document is
    refused after a few thousand steps, not after expanding it."""
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (written-out size, height)
    open_nodes: set[int] = set()

    def fail(node: yaml.Node, problem: str) -> YamlLimitError:
        return YamlLimitError(problem=problem, problem_mark=node.start_mark)

    def visit(node: yaml.Node, depth: int) -> tuple[int, int]:
        if depth > MAX_DEPTH:
            raise fail(node, f"nested more than {MAX_DEPTH} levels deep (through aliases)")
        key = id(node)
        if key in open_nodes:
            raise fail(node, "a recursive alias: an anchor used inside its own value")
        known = measured.get(key)
        if known is None:
            open_nodes.add(key)
            children: list[yaml.Node] = []
            if isinstance(node, yaml.MappingNode):
                seen: dict[tuple[str, str], yaml.Node] = {}
                for key_node, value_node in node.value:
                    if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                        name = (key_node.tag, key_node.value)
                        if name in seen:
                            raise fail(
                                key_node,
                                f"duplicate key {str(key_node.value)[:80]!r} (first at line "
                                f"{_line(seen[name])})",
                            )
                        seen[name] = key_node
                    children.extend((key_node, value_node))
            elif isinstance(node, yaml.SequenceNode):
                children = node.value
            size, height = 1, 1
            for child in children:
                child_size, child_height = visit(child, depth + 1)
                size += child_size
                height = max(height, child_height + 1)
                if size > MAX_YAML_NODES:
                    raise fail(
                        node,
                        f"aliases expand the document beyond {MAX_YAML_NODES:,} values",
                    )
            open_nodes.discard(key)
            known = measured[key] = (size, height)
        if depth + known[1] - 1 > MAX_DEPTH:
            raise fail(node, f"nested more than {MAX_DEPTH} levels deep (through aliases)")
        return known

    visit(root, 1)
