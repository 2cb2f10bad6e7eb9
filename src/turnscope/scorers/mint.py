"""The `mint` scorer: a proposed solution checked the way MINT (Wang et al., 2024) checks its
reasoning tasks, re-implemented from its published rules (docs/benchmarks.md lists where we
differ and why).

- `reasoning` (GSM8K, MATH): when both the reference and the whole solution read as numbers,
  they must agree within 5 % of the reference; otherwise the reference (lowercased) must
  appear in the solution.
- `choice` (MMLU): the option letter the solution names must be the reference letter; a
  solution that names no letter passes when it contains the right option's text and no other
  option's.
- `theoremqa`: the solution is cleaned as TheoremQA's own script does (the part after the last
  "=", units, "approximately", LaTeX dollars, "10^n" ...) and read as a number, a list of
  numbers, True/False or an option "(a)", then compared by answer type: integers after
  rounding, floats within 4 %, lists element by element after sorting.

Nothing in a solution is evaluated as code: where MINT calls `eval`, this scorer reads the
text with `ast.literal_eval` on at most MAX_SOLUTION_CHARS characters."""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from turnscope.core import Score
from turnscope.scorers.base import ScorerParams, TurnView, register_scorer

MAX_SOLUTION_CHARS = 300
"""Characters of a solution read as a value (a longer one is compared as text only)."""

Kind = Literal["reasoning", "choice", "theoremqa"]
AnswerType = Literal["integer", "float", "bool", "option", "list of integer", "list of float"]


class MintParams(ScorerParams):
    kind: Kind
    """Which of MINT's checks applies (see the module docstring)."""
    expected: str | float | bool | list[float] = Field(union_mode="left_to_right")
    """The task's reference answer as MINT stores it (text, number, truth value or list)."""
    answer_type: AnswerType | None = None
    """theoremqa: how the reference is compared."""
    options: dict[str, str] | None = None
    """choice: option letter -> option text, as parsed from the prompt."""


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def reasoning_match(reference: str, solution: str) -> bool:
    """MINT's check of a free answer: numbers within 5 % of the reference, else containment."""
    ref, answer = reference.strip().lower(), solution.strip().lower()
    a, b = _float(ref), _float(answer)
    if a is not None and b is not None:
        return abs(a - b) <= 0.05 * abs(a)
    return ref in answer


_LETTER_ALONE = re.compile(r"^\(?([a-z])\)?[.:]?$")
_LETTER_MARKED = re.compile(r"(?<![a-z])\(?([a-z])\s?\)")


def chosen_letter(solution: str) -> str | None:
    """The option letter a solution names: the whole solution ("c", "(c)", "c.") or a letter
    followed by a parenthesis ("c)", "(c)") inside it; None if it names none or several."""
    text = solution.strip().lower()
    alone = _LETTER_ALONE.match(text)
    if alone:
        return alone.group(1)
    marked = set(_LETTER_MARKED.findall(text))
    return marked.pop() if len(marked) == 1 else None


def choice_match(reference: str, solution: str, options: dict[str, str]) -> bool:
    """MMLU as MINT scores it, with the letter read properly (see chosen_letter)."""
    ref = reference.strip().lower()
    letter = chosen_letter(solution)
    if letter is not None:
        return letter == ref
    right = options.get(ref)
    if right is None:
        return False
    answer = solution.strip().lower()
    others = [text for key, text in options.items() if key != ref and text and text not in right]
    if any(reasoning_match(text, answer) for text in others):
        return False
    return reasoning_match(right, answer)


def _clean(prediction: str) -> str:
    """TheoremQA's cleaning of a prediction, stage by stage (its predict_accuracy.py)."""
    text = prediction.strip()
    for sep in ("=", "≈"):
        if sep in text:
            text = text.split(sep)[-1].strip()
    for junk in ("`", "$", "°"):
        text = text.replace(junk, "")
    lowered = text.lower().strip().rstrip(".")
    if lowered in ("true", "yes"):
        return "True"
    if lowered in ("false", "no"):
        return "False"
    if "True" in text or "False" in text:
        return "True" if "True" in text else "False"
    text = text.replace("approximately", "").strip()
    if " or " in text:
        text = text.split(" or ")[0]
    number = r"[-+]?(?:[\d,]*\.*\d+)"
    for pattern in (
        rf"^({number}) [^0-9 ]+$",
        rf"^[^0-9 ]+ ({number})$",
        rf"^({number})[^\d]{{1,2}}$",
        rf"^[^-+\d]{{1,2}}({number[5:]})$",
    ):
        match = re.match(pattern, text)
        if match:
            text = match.group(1)
    for times in (" x ", " × ", "\\times"):
        text = text.replace(times, "*")
    if re.fullmatch(r"[-+]?(\d{1,3}(,\d{3})*|\d+)(\.\d+)?", text):
        text = text.replace(",", "")
    for letter in "abcd":
        if f"{letter})" in text or f"{letter} )" in text or text.lower().strip() == letter:
            return f"({letter})"
    return text or "0"


_POWER = re.compile(r"^([-+]?[\d.]+)\s*\*\s*10\^\(?([-+]?\d+)\)?$|^10\^\(?([-+]?\d+)\)?$")


def read_value(prediction: str) -> Any:
    """A cleaned prediction as a value (number, list of numbers, bool, option text), or None
    when it cannot be read; never evaluated as code."""
    text = _clean(prediction)
    if len(text) > MAX_SOLUTION_CHARS:
        return None
    if text in ("True", "False"):
        return text == "True"
    if re.fullmatch(r"\([a-d]\)", text):
        return text
    power = _POWER.match(text)
    if power:
        mantissa, exponent = (power.group(1) or "1"), power.group(2) or power.group(3)
        base = _float(mantissa)
        return None if base is None or abs(int(exponent)) > 300 else base * 10.0 ** int(exponent)
    try:
        value: Any = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if isinstance(value, tuple | set):
        value = list(value)
    if isinstance(value, complex):
        value = value.real
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numbers_agree(prediction: Any, reference: Any) -> bool:
    if not _number(prediction) or not math.isfinite(prediction):
        return False
    if isinstance(reference, float):
        return bool(abs(prediction - reference) <= abs(reference) * 0.04)
    return bool(round(prediction) == reference)


def theoremqa_match(reference: Any, answer_type: str | None, solution: str) -> bool:
    """TheoremQA as MINT scores it, with the prediction read by read_value."""
    prediction = read_value(solution)
    if answer_type in ("bool", "option", "Option"):
        return bool(prediction == reference) or bool(prediction == f"({reference})")
    if answer_type in ("integer", "float"):
        return _numbers_agree(prediction, reference)
    if answer_type in ("list of integer", "list of float"):
        if not isinstance(prediction, list) or not isinstance(reference, list):
            return False
        if len(prediction) != len(reference) or not all(_number(p) for p in prediction):
            return False
        pairs = zip(sorted(prediction), sorted(reference), strict=True)
        return all(_numbers_agree(p, r) for p, r in pairs)
    return False


@dataclass(frozen=True)
class MintScorer:
    params: MintParams
    name: str = "mint"

    def score(self, view: TurnView) -> Score:
        p = self.params
        solution = view.response
        if p.kind == "reasoning":
            passed = reasoning_match(str(p.expected), solution)
        elif p.kind == "choice":
            passed = choice_match(str(p.expected), solution, p.options or {})
        else:
            passed = theoremqa_match(p.expected, p.answer_type, solution)
        shown = solution.strip()[:80]
        detail = f"expected {p.expected!r}, got {shown!r} ({p.kind})"
        return Score(scorer=self.name, value=1.0 if passed else 0.0, detail=detail)


@register_scorer(
    "mint",
    MintParams,
    summary="MINT's answer checks: numbers within 5 % or containment, option letters, "
    "TheoremQA's typed comparison.",
)
def make_mint(params: MintParams, reference: str | None) -> MintScorer:
    return MintScorer(params)
