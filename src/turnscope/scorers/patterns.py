"""Regular expressions that suite files supply and model output is matched against, with limits.

A pattern from a suite file is hostile input meeting hostile input: `(a+)+$` against forty
`a`s and a `!` backtracks for hours, and `(?:x{65535}){100}` takes gigabytes to compile. So a
pattern is checked when the suite loads (its syntax, its length, and how large its counted
repeats make it) and every match runs on the `regex` engine with a time limit; running out of
time raises PatternTimeout, which the scorer records as an error, never as a score.
"""

from __future__ import annotations

import functools
import importlib
import re
from dataclasses import dataclass
from typing import Any, Final

# `regex` ships no type information; importing it by name keeps mypy strict without a stub.
_regex: Any = importlib.import_module("regex")
# The stdlib's own pattern parser (what `re.compile` runs first): it reads a pattern's structure
# without compiling it. It has no public name; typeshed describes only its deprecated alias.
_parser: Any = importlib.import_module("re._parser")
_op: Any = importlib.import_module("re._constants")

MATCH_TIMEOUT_S: Final = 1.0
"""How long one search of one answer may take."""
MAX_PATTERN_CHARS: Final = 10_000
"""The longest pattern a suite may give."""
MAX_PATTERN_SIZE: Final = 100_000
"""The largest a pattern may grow once its counted repeats are written out: the `regex`
engine unrolls the minimum count of `x{n}` (100,000 units compile in about 40 ms)."""


class PatternTimeout(TimeoutError):
    """A match ran longer than MATCH_TIMEOUT_S (catastrophic backtracking, most likely)."""


def _size(parsed: Any) -> int:
    """How many units the pattern takes once every counted repeat is unrolled."""
    total = 0
    for op, arg in parsed:
        if op in (_op.MAX_REPEAT, _op.MIN_REPEAT) or (
            op is getattr(_op, "POSSESSIVE_REPEAT", None)
        ):
            low, _, sub = arg
            total += max(low, 1) * _size(sub)
        elif op is _op.SUBPATTERN:
            total += _size(arg[-1])
        elif op is _op.BRANCH:
            total += sum(_size(branch) for branch in arg[1])
        elif op in (_op.ASSERT, _op.ASSERT_NOT):
            total += _size(arg[1])
        elif op is getattr(_op, "ATOMIC_GROUP", None):
            total += _size(arg)
        elif op is _op.GROUPREF_EXISTS:
            total += _size(arg[1]) + (_size(arg[2]) if arg[2] is not None else 0)
        else:
            total += 1
        if total > MAX_PATTERN_SIZE:
            break  # already too large: no need to count the rest
    return total


@functools.lru_cache(maxsize=4096)
def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be used (bad syntax, too long, too large once unrolled), or None;
    cached, as instructions are validated again whenever they are rebuilt."""
    if len(pattern) > MAX_PATTERN_CHARS:
        return f"the pattern has {len(pattern)} characters (at most {MAX_PATTERN_CHARS})"
    try:
        # The stdlib parser tells the syntax (the documented one: Python's) and the structure
        # without compiling anything, so it costs the same whatever the pattern unrolls to.
        parsed = _parser.parse(pattern)
    except (re.error, OverflowError, RecursionError, ValueError) as exc:
        return f"bad syntax: {exc}"
    try:
        size = _size(parsed)
    except RecursionError:
        return "the pattern nests groups too deeply"
    if size > MAX_PATTERN_SIZE:
        return (
            f"the pattern's counted repeats make it too large to compile (more than "
            f"{MAX_PATTERN_SIZE:,} units written out)"
        )
    return None


@dataclass(frozen=True)
class BoundedPattern:
    """A checked pattern whose searches stop after MATCH_TIMEOUT_S."""

    pattern: str
    """The pattern as the suite gave it."""
    compiled: Any
    """The `regex` engine's compiled pattern."""

    def _timeout(self, text: str) -> PatternTimeout:
        return PatternTimeout(
            f"the regular expression /{self.pattern}/ ran longer than {MATCH_TIMEOUT_S:g} s "
            f"on a {len(text)}-character text (catastrophic backtracking?)"
        )

    # Each method calls the engine directly: checkers search many short answers, and a
    # generic dispatch would cost more than some of the searches.
    def search(self, text: str) -> Any:
        """The first match in `text`, or None."""
        try:
            return self.compiled.search(text, timeout=MATCH_TIMEOUT_S)
        except TimeoutError:
            raise self._timeout(text) from None

    def findall(self, text: str) -> list[Any]:
        """Every non-overlapping match in `text`."""
        try:
            return list(self.compiled.findall(text, timeout=MATCH_TIMEOUT_S))
        except TimeoutError:
            raise self._timeout(text) from None

    def split(self, text: str) -> list[str]:
        """`text` split at every match."""
        try:
            return list(self.compiled.split(text, timeout=MATCH_TIMEOUT_S))
        except TimeoutError:
            raise self._timeout(text) from None


@functools.lru_cache(maxsize=4096)
def bounded(pattern: str, flags: int = 0) -> BoundedPattern:
    """`pattern` checked and compiled (cached); ValueError says why it cannot be used.

    `flags` are the `re` module's (IGNORECASE, MULTILINE, DOTALL), which `regex` shares."""
    problem = pattern_problem(pattern)
    if problem is not None:
        raise ValueError(problem)
    try:
        return BoundedPattern(pattern, _regex.compile(pattern, flags))
    except (_regex.error, OverflowError, RecursionError) as exc:
        raise ValueError(f"bad syntax: {exc}") from None
