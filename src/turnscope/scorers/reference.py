"""Reference scorers: compare an answer with a known target by code, no judge needed."""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator

from turnscope.core import Score
from turnscope.scorers.base import (
    ScorerConfigError,
    ScorerParams,
    TurnView,
    register_scorer,
)
from turnscope.scorers.patterns import BoundedPattern, bounded, pattern_problem

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)
# Numbers as people write them: -1,234.5, 3.0e8, .5 ; thousands separators are dropped. Every
# match holds a digit, so the search skips plain text instead of matching an empty string at
# each character; a bare exponent ("e5") is matched so that it is skipped whole, as no number.
_NUMBER = re.compile(
    r"(?<![\w.])[-+]?"
    r"(?:(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?|[eE][-+]?\d+)"
)


def normalise(text: str) -> str:
    """Lowercase, drop punctuation and English articles, collapse whitespace."""
    lowered = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", lowered).split())


def extract_numbers(text: str) -> list[float]:
    """Every number written in `text`, in order."""
    numbers = []
    for match in _NUMBER.finditer(text):
        token = match.group(0)
        try:
            numbers.append(float(token.replace(",", "")))
        except ValueError:
            continue
    return numbers


def _target(explicit: str | None, reference: str | None, scorer: str) -> str:
    target = explicit if explicit is not None else reference
    if target is None:
        raise ScorerConfigError(
            f"scorer {scorer!r} needs `expected` or a turn reference to compare with"
        )
    return target


def _verdict(name: str, passed: bool, detail: str) -> Score:
    return Score(scorer=name, value=1.0 if passed else 0.0, detail=detail)


class ExactParams(ScorerParams):
    expected: str | None = None
    """Target text; defaults to the turn's reference."""
    strip: bool = True
    """Ignore surrounding whitespace."""
    case_sensitive: bool = True
    """Whether case must match."""


@dataclass(frozen=True)
class ExactScorer:
    target: str
    strip: bool
    case_sensitive: bool
    name: str = "exact"

    def _prep(self, text: str) -> str:
        text = text.strip() if self.strip else text
        return text if self.case_sensitive else text.casefold()

    def score(self, view: TurnView) -> Score:
        passed = self._prep(view.response) == self._prep(self.target)
        return _verdict(self.name, passed, f"expected exactly {self.target!r}")


@register_scorer("exact", ExactParams, summary="The whole answer equals the target.")
def make_exact(params: ExactParams, reference: str | None) -> ExactScorer:
    return ExactScorer(
        _target(params.expected, reference, "exact"), params.strip, params.case_sensitive
    )


class NormalisedParams(ScorerParams):
    expected: str | None = None
    """Target text; defaults to the turn's reference."""


@dataclass(frozen=True)
class NormalisedScorer:
    target: str
    name: str = "normalised"

    def score(self, view: TurnView) -> Score:
        passed = normalise(view.response) == normalise(self.target)
        return _verdict(self.name, passed, f"expected {self.target!r} after normalisation")


@register_scorer(
    "normalised",
    NormalisedParams,
    summary="Equal after lowercasing and removing punctuation, articles and extra spaces.",
)
def make_normalised(params: NormalisedParams, reference: str | None) -> NormalisedScorer:
    return NormalisedScorer(_target(params.expected, reference, "normalised"))


class ContainsParams(ScorerParams):
    value: str | list[str] | None = None
    """Text (or texts) that must appear; defaults to the turn's reference."""
    mode: Literal["all", "any"] = "all"
    """"all": score is the share of values found; "any": 1 if at least one is found."""
    case_sensitive: bool = False
    """Whether case must match."""
    normalise: bool = False
    """Compare after normalisation (punctuation, articles, spaces)."""


@dataclass(frozen=True)
class ContainsScorer:
    values: tuple[str, ...]
    mode: str
    case_sensitive: bool
    normalised: bool
    name: str = "contains"

    def _prep(self, text: str) -> str:
        if self.normalised:
            return normalise(text)
        return text if self.case_sensitive else text.casefold()

    def score(self, view: TurnView) -> Score:
        haystack = self._prep(view.response)
        found = [v for v in self.values if self._prep(v) in haystack]
        missing = [v for v in self.values if v not in found]
        share = len(found) / len(self.values)
        value = (1.0 if found else 0.0) if self.mode == "any" else share
        detail = "all found" if not missing else f"missing: {', '.join(map(repr, missing))}"
        return Score(scorer=self.name, value=value, detail=detail)


@register_scorer(
    "contains",
    ContainsParams,
    summary="The answer contains the value(s); mode all (share found) or any.",
)
def make_contains(params: ContainsParams, reference: str | None) -> ContainsScorer:
    raw = params.value if params.value is not None else _target(None, reference, "contains")
    values = (raw,) if isinstance(raw, str) else tuple(raw)
    if not values or any(not v for v in values):
        raise ScorerConfigError("scorer 'contains', field 'value': empty value")
    return ContainsScorer(values, params.mode, params.case_sensitive, params.normalise)


class RegexParams(ScorerParams):
    pattern: str
    """A Python regular expression searched anywhere in the answer (checked at load time, and
    each search limited to MATCH_TIMEOUT_S: a search that runs out is an error)."""
    ignore_case: bool = False
    """Match case-insensitively."""
    must_match: bool = True
    """False turns the check around: the pattern must NOT occur."""

    @field_validator("pattern")
    @classmethod
    def _usable(cls, value: str) -> str:
        problem = pattern_problem(value)
        if problem is not None:
            raise ValueError(f"invalid regular expression: {problem}")
        return value


@dataclass(frozen=True)
class RegexScorer:
    regex: BoundedPattern
    must_match: bool
    name: str = "regex"

    def score(self, view: TurnView) -> Score:
        matched = self.regex.search(view.response) is not None  # PatternTimeout: an error
        verb = "must match" if self.must_match else "must not match"
        return _verdict(self.name, matched == self.must_match, f"{verb} /{self.regex.pattern}/")


@register_scorer("regex", RegexParams, summary="A regular expression matches (or must not).")
def make_regex(params: RegexParams, reference: str | None) -> RegexScorer:
    flags = re.IGNORECASE if params.ignore_case else 0
    return RegexScorer(bounded(params.pattern, flags), params.must_match)


class CaseParams(ScorerParams):
    letters: Literal["lower", "upper"]
    """Every cased letter of the answer must be lowercase ("lower") or capital ("upper"), with
    at least one cased letter (Python's str.islower / str.isupper); in any language."""


@dataclass(frozen=True)
class CaseScorer:
    letters: str
    name: str = "case"

    def score(self, view: TurnView) -> Score:
        text = view.response
        passed = text.islower() if self.letters == "lower" else text.isupper()
        return _verdict(self.name, passed, f"every letter must be {self.letters}case")


@register_scorer(
    "case",
    CaseParams,
    summary="Every letter lowercase (letters: lower) or capital (letters: upper), any language.",
)
def make_case(params: CaseParams, reference: str | None) -> CaseScorer:
    return CaseScorer(params.letters)


class NumericParams(ScorerParams):
    expected: float | None = None
    """Target number; defaults to the number in the turn's reference."""
    abs_tol: float = Field(default=1e-6, ge=0)
    """Absolute tolerance."""
    rel_tol: float = Field(default=0.0, ge=0)
    """Relative tolerance."""
    pick: Literal["last", "first", "any"] = "last"
    """Which number of the answer counts: the last (final answer), the first, or any."""


@dataclass(frozen=True)
class NumericScorer:
    expected: float
    abs_tol: float
    rel_tol: float
    pick: str
    name: str = "numeric"

    def _close(self, x: float) -> bool:
        return math.isclose(x, self.expected, abs_tol=self.abs_tol, rel_tol=self.rel_tol)

    def score(self, view: TurnView) -> Score:
        numbers = extract_numbers(view.response)
        if not numbers:
            return _verdict(self.name, False, f"no number found; expected {self.expected:g}")
        if self.pick == "any":
            passed = any(self._close(x) for x in numbers)
            return _verdict(self.name, passed, f"expected {self.expected:g} among {numbers[:5]}")
        chosen = numbers[-1] if self.pick == "last" else numbers[0]
        return _verdict(
            self.name, self._close(chosen), f"expected {self.expected:g}, found {chosen:g}"
        )


@register_scorer(
    "numeric",
    NumericParams,
    summary="The answer's number (last by default) equals the target within tolerance.",
)
def make_numeric(params: NumericParams, reference: str | None) -> NumericScorer:
    expected = params.expected
    if expected is None:
        numbers = extract_numbers(_target(None, reference, "numeric"))
        if len(numbers) != 1:
            raise ScorerConfigError(
                f"scorer 'numeric' needs `expected`: the reference {reference!r} does not hold "
                "exactly one number"
            )
        expected = numbers[0]
    return NumericScorer(expected, params.abs_tol, params.rel_tol, params.pick)
