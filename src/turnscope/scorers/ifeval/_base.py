"""The instruction base class, the registry of instruction ids, and shared argument types."""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from turnscope.scorers.patterns import BoundedPattern, bounded, pattern_problem


class InstructionError(ValueError):
    """An instruction id or its keyword arguments are not usable."""


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What a checker may know besides the response."""

    prompt: str | None = None
    """The user turn that gave the instruction (none of the IFEval checkers needs it)."""
    dense: bool = False
    """Count each CJK/Thai-like letter as a word and also end sentences at 。！？."""


class Instruction(BaseModel, ABC):
    """One verifiable instruction; its fields are the reference's keyword arguments."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instruction_id: ClassVar[str]

    @abstractmethod
    def describe(self) -> str:
        """The instruction in plain English, as it could be given to a model."""

    @abstractmethod
    def check(self, response: str, context: CheckContext) -> bool:
        """Whether `response` follows the instruction (non-blank responses only)."""


_REGISTRY: dict[str, type[Instruction]] = {}

_I = TypeVar("_I", bound=type[Instruction])


def register(instruction_id: str) -> Callable[[_I], _I]:
    """Class decorator: make `instruction_id` resolve to the decorated class."""

    def add(cls: _I) -> _I:
        if instruction_id in _REGISTRY:
            raise ValueError(f"instruction id {instruction_id!r} registered twice")
        cls.instruction_id = instruction_id
        _REGISTRY[instruction_id] = cls
        return cls

    return add


def instruction_class(instruction_id: str) -> type[Instruction]:
    try:
        return _REGISTRY[instruction_id]
    except KeyError:
        raise InstructionError(f"unknown instruction id {instruction_id!r}") from None


def registered_ids() -> tuple[str, ...]:
    return tuple(_REGISTRY)


compiled: Callable[..., BoundedPattern] = bounded
"""A compiled pattern, cached: keywords and markers from the data are regexes, so each
search is limited in time (PatternTimeout makes the check an error, never a verdict)."""


_REGEX_SPECIALS = frozenset(".^$*+?{}[]\\|()")


@functools.lru_cache(maxsize=4096)
def ascii_literal(pattern: str) -> bool:
    """Whether `pattern` is plain ASCII text with no regex syntax.

    Such a pattern, matched case-insensitively against ASCII text, matches exactly where its
    lower-case form occurs in the lower-cased text; substring tests are far cheaper.
    """
    return pattern.isascii() and _REGEX_SPECIALS.isdisjoint(pattern)


def _integral(value: Any) -> Any:
    # Tables read through pandas or Arrow turn integer columns with gaps into floats.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def regex_of(pattern: str) -> str:
    """`pattern` if it compiles; the reference builds regexes from data, so bad ones fail here."""
    problem = pattern_problem(pattern)
    if problem is not None:
        raise ValueError(
            f"is used in the regular expression {pattern!r}, which is not valid ({problem})"
        )
    return pattern


Count = Annotated[int, BeforeValidator(_integral), Field(strict=True, ge=0)]
"""A threshold: a non-negative integer (an integral float is accepted)."""

Text = Annotated[str, Field(strict=True), AfterValidator(_non_blank)]
"""A non-blank string."""

Pattern = Annotated[str, Field(strict=True), AfterValidator(_non_blank), AfterValidator(regex_of)]
"""A non-blank string that the reference uses as a regular expression."""

Relation = Literal["less than", "at least"]
"""How a measured count compares with the threshold."""


def compare(count: int, relation: Relation, threshold: int) -> bool:
    if relation == "less than":
        return count < threshold
    return count >= threshold
