"""check / describe / validate: the functions the rest of turnscope calls."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any, Final

from pydantic import ValidationError

from turnscope.core import error_text
from turnscope.scorers.ifeval import _case, _combination, _format, _keywords, _length
from turnscope.scorers.ifeval._base import (
    CheckContext,
    Instruction,
    InstructionError,
    instruction_class,
)
from turnscope.scorers.ifeval._text import is_dense_language

# Importing these modules registers their instructions.
_INSTRUCTION_MODULES: Final = (_keywords, _length, _format, _combination, _case)

INSTRUCTION_IDS: Final[tuple[str, ...]] = (
    "keywords:existence",
    "keywords:frequency",
    "keywords:forbidden_words",
    "keywords:letter_frequency",
    "language:response_language",
    "length_constraints:number_sentences",
    "length_constraints:number_paragraphs",
    "length_constraints:number_words",
    "length_constraints:nth_paragraph_first_word",
    "detectable_content:number_placeholders",
    "detectable_content:postscript",
    "detectable_format:number_bullet_lists",
    "detectable_format:constrained_response",
    "detectable_format:number_highlighted_sections",
    "detectable_format:multiple_sections",
    "detectable_format:json_format",
    "detectable_format:title",
    "combination:two_responses",
    "combination:repeat_prompt",
    "startend:end_checker",
    "change_case:capital_word_frequency",
    "change_case:english_capital",
    "change_case:english_lowercase",
    "punctuation:no_comma",
    "startend:quotation",
)
"""The 25 instruction ids of IFEval, in the order of the reference registry."""


def _given(instruction_id: str, kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """The keyword arguments that are set: public data pads every row with None values."""
    if kwargs is None:
        return {}
    if not isinstance(kwargs, Mapping):
        raise InstructionError(
            f"{instruction_id}: keyword arguments must be a mapping, got {type(kwargs).__name__}"
        )
    return {k: v for k, v in kwargs.items() if v is not None}


def _problem(error: Mapping[str, Any]) -> str:
    loc = error["loc"]
    if not loc:
        return error_text(error)
    name = repr(loc[0]) + "".join(f"[{part}]" for part in loc[1:])
    if error["type"] == "missing":
        return f"missing keyword argument {name}"
    if error["type"] == "extra_forbidden":
        return f"unexpected keyword argument {name}"
    message = error_text(error)
    return f"keyword argument {name}: {message} (got {error['input']!r})"


def _build(instruction_id: str, given: dict[str, Any]) -> Instruction:
    cls = instruction_class(instruction_id)
    try:
        return cls.model_validate(given)
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors())
        raise InstructionError(f"{instruction_id}: {problems}") from None


_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def _frozen(value: Any) -> Hashable:
    kind = type(value)
    if kind in _SCALARS:  # most arguments: hashable, and no isinstance against an ABC
        return (kind.__name__, value)
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(_frozen(v) for v in value))
    if isinstance(value, Mapping):
        return ("mapping", tuple(sorted((str(k), _frozen(v)) for k, v in value.items())))
    hash(value)
    # The type is part of the key so that 1, 1.0 and True do not share a cached verdict.
    return (type(value).__name__, value)


# Validated instructions by (id, frozen kwargs): the same instruction is checked against many
# responses, and validation costs more than most checks.
_BUILT: dict[tuple[str, Hashable], Instruction] = {}
_BUILT_LIMIT: Final = 4096


def build(instruction_id: str, kwargs: Mapping[str, Any] | None) -> Instruction:
    """The validated instruction object; raises InstructionError with a one-line reason."""
    given = _given(instruction_id, kwargs)
    try:
        key = (instruction_id, _frozen(given))
    except TypeError:
        return _build(instruction_id, given)
    instruction = _BUILT.get(key)
    if instruction is None:
        instruction = _build(instruction_id, given)
        if len(_BUILT) >= _BUILT_LIMIT:
            _BUILT.clear()
        _BUILT[key] = instruction
    return instruction


def validate(instruction_id: str, kwargs: Mapping[str, Any] | None) -> None:
    """Raise InstructionError unless the id is known and the keyword arguments fit it."""
    build(instruction_id, kwargs)


def describe(instruction_id: str, kwargs: Mapping[str, Any] | None) -> str:
    """The instruction in plain English."""
    return build(instruction_id, kwargs).describe()


def loose_variants(response: str) -> tuple[str, ...]:
    """The responses loose checking tries, as the reference builds them, duplicates dropped.

    The response itself; without its first line, its last line, or both (split on "\\n" and
    stripped); and each of those with every "*" removed.
    """
    lines = response.split("\n")
    trimmed = [
        response,
        "\n".join(lines[1:]).strip(),
        "\n".join(lines[:-1]).strip(),
        "\n".join(lines[1:-1]).strip(),
    ]
    variants = trimmed + [v.replace("*", "") for v in trimmed]
    return tuple(dict.fromkeys(variants))


def _prepared(
    instruction_id: str,
    kwargs: Mapping[str, Any] | None,
    response: str,
    prompt: str | None,
    language: str | None,
) -> tuple[Instruction, CheckContext]:
    if not isinstance(response, str):
        raise TypeError(f"response must be a str, got {type(response).__name__}")
    instruction = build(instruction_id, kwargs)
    return instruction, CheckContext(prompt=prompt, dense=is_dense_language(language))


def _follows(instruction: Instruction, text: str, context: CheckContext) -> bool:
    # A blank response (or loose variant) follows nothing, as in the reference harness.
    return bool(text.strip()) and instruction.check(text, context)


def _follows_other_variant(instruction: Instruction, response: str, context: CheckContext) -> bool:
    """Whether a loose variant other than the response itself follows the instruction."""
    return any(_follows(instruction, v, context) for v in loose_variants(response)[1:])


def check(
    instruction_id: str,
    kwargs: Mapping[str, Any] | None,
    response: str,
    *,
    prompt: str | None = None,
    loose: bool = False,
    language: str | None = None,
) -> bool:
    """Whether `response` follows the instruction.

    A blank response follows nothing. `loose` passes if any variant from `loose_variants`
    does. `language` (a code such as "zh" or "ja-JP", or a name such as "Japanese") switches
    word and sentence counting to the CJK/Thai rules in docs/ifeval.md; None keeps the
    reference's counting. `prompt` is the user turn that gave the instruction; the IFEval
    checkers do not use it, as in the reference.
    """
    instruction, context = _prepared(instruction_id, kwargs, response, prompt, language)
    if _follows(instruction, response, context):
        return True
    return loose and _follows_other_variant(instruction, response, context)


def check_both(
    instruction_id: str,
    kwargs: Mapping[str, Any] | None,
    response: str,
    *,
    prompt: str | None = None,
    language: str | None = None,
) -> tuple[bool, bool]:
    """(strict, loose) verdicts at once: the response itself is checked only once, and a
    strict pass settles the loose verdict without trying the other variants."""
    return check_built(build(instruction_id, kwargs), response, prompt=prompt, language=language)


def check_built(
    instruction: Instruction,
    response: str,
    *,
    prompt: str | None = None,
    language: str | None = None,
) -> tuple[bool, bool]:
    """check_both for an instruction `build` returned: what checks the same instruction
    against many answers calls, so its arguments are not looked up again for each one."""
    if not isinstance(response, str):
        raise TypeError(f"response must be a str, got {type(response).__name__}")
    context = CheckContext(prompt=prompt, dense=is_dense_language(language))
    if _follows(instruction, response, context):
        return True, True
    return False, _follows_other_variant(instruction, response, context)
