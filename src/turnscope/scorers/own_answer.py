"""The own-answer scorer: a follow-up question about the model's OWN earlier answer is checked
against that answer as it stands in the history, not against a fixed key.

    {type: own_answer, turn: 1, extract: list_item, index: 3}   # "which was your 3rd item?"
    {type: own_answer, turn: 2, extract: number, add: 7}        # "add 7 to the number you chose"

The earlier answer is the `turn`-th assistant message of the history the judged answer was
given to: the model's own answer in the own variant, the reference in the gold variant.
- The single-turn twin and the user-only condition show no earlier answers: the score is
  empty (no value, no error) with a detail saying so, like an instructions turn with nothing
  in force.
- An earlier answer that cannot be used (no list, too few items, no number) gives an error
  Score naming what is missing: the follow-up cannot be judged, and inventing a 0 would charge
  the earlier turn's failure (already scored there) to this one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from turnscope.core import Score, content_text
from turnscope.scorers.base import ScorerParams, TurnView, register_scorer
from turnscope.scorers.reference import extract_numbers, normalise

SCORER_TYPE = "own_answer"

_MARKED_LINE = re.compile(r"^\s*(?:\d+\s*[.):]|[-*\u2022])\s+(.+?)\s*$")
# Where a list entry's name ends and an explanation begins: "otter - a river animal".
_ENTRY_END = re.compile(r"\s[-\u2013\u2014]\s|[:(,;]")


class UnusableAnswer(ValueError):
    """The earlier answer does not hold what the follow-up question is about."""


def list_entries(answer: str) -> list[str]:
    """The entries of a list written in `answer`: numbered or bulleted lines, else one entry per
    non-empty line, else comma-separated parts of a one-line answer. Each entry is cut at its
    first explanation mark (":", " - ", "(" ...) and stripped of markdown emphasis."""
    lines = [line for line in answer.splitlines() if line.strip()]
    marked = [m.group(1) for line in lines if (m := _MARKED_LINE.match(line))]
    if marked:
        raw = marked
    elif len(lines) > 1:
        raw = lines
    else:
        raw = answer.split(",")
    entries = []
    for entry in raw:
        name = _ENTRY_END.split(entry.replace("*", "").replace("_", " "), maxsplit=1)[0]
        name = name.strip(" \t.!?\"'`")
        if name:
            entries.append(name)
    return entries


class OwnAnswerParams(ScorerParams):
    turn: int = Field(ge=1)
    """The earlier turn whose answer the question is about (1-based)."""
    extract: Literal["list_item", "list_length", "number"]
    """What to read from it: one entry of its list, how many entries the list has, or its
    number (the last one written)."""
    index: int | None = Field(default=None, ge=1)
    """list_item: the 1-based position of the entry asked about."""
    times: float = 1.0
    """list_length and number: the expected answer is the value read times `times` plus `add`."""
    add: float = 0.0
    """See `times`."""

    @model_validator(mode="after")
    def _index_only_for_items(self) -> OwnAnswerParams:
        if (self.extract == "list_item") != (self.index is not None):
            raise ValueError("'index' is required for extract list_item and only there")
        return self


def _earlier_answer(view: TurnView, turn: int) -> str | None:
    answers = [m for m in view.history if m.role == "assistant"]
    return content_text(answers[turn - 1].content) if turn <= len(answers) else None


def _contains_words(haystack: str, needle: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack) is not None


@dataclass(frozen=True)
class OwnAnswerScorer:
    params: OwnAnswerParams
    name: str = SCORER_TYPE

    def score(self, view: TurnView) -> Score:
        p = self.params
        if p.turn >= view.turn:
            raise ValueError(f"turn {view.turn} cannot ask about later turn {p.turn}")
        earlier = _earlier_answer(view, p.turn)
        if earlier is None:
            if not view.shows_answers:
                return Score(
                    scorer=self.name,
                    detail=f"not scored: the {view.condition} history holds no earlier answer "
                    "to ask about",
                )
            raise UnusableAnswer(f"the history holds no answer to turn {p.turn}")
        if p.extract == "list_item":
            return self._list_item(view.response, earlier)
        if p.extract == "list_length":
            entries = list_entries(earlier)
            if not entries:
                raise UnusableAnswer(f"the answer to turn {p.turn} holds no list")
            found = float(len(entries))
        else:
            numbers = extract_numbers(earlier)
            if not numbers:
                raise UnusableAnswer(f"the answer to turn {p.turn} holds no number")
            found = numbers[-1]
        expected = found * p.times + p.add
        answered = extract_numbers(view.response)
        passed = bool(answered) and math.isclose(answered[-1], expected, abs_tol=1e-6)
        got = f"{answered[-1]:g}" if answered else "no number"
        return Score(
            scorer=self.name,
            value=1.0 if passed else 0.0,
            detail=f"expected {expected:g} from the answer to turn {p.turn}, found {got}",
        )

    def _list_item(self, response: str, earlier: str) -> Score:
        p = self.params
        assert p.index is not None  # the params validator makes list_item carry an index
        entries = list_entries(earlier)
        if len(entries) < p.index:
            raise UnusableAnswer(
                f"the answer to turn {p.turn} lists {len(entries)} entries, "
                f"so it has no entry {p.index}"
            )
        target = entries[p.index - 1]
        wanted = normalise(target)
        if not wanted:
            raise UnusableAnswer(f"entry {p.index} of the answer to turn {p.turn} has no words")
        passed = _contains_words(normalise(response), wanted)
        return Score(
            scorer=self.name,
            value=1.0 if passed else 0.0,
            detail=f"expected {target!r}, entry {p.index} of the answer to turn {p.turn}",
        )


@register_scorer(
    SCORER_TYPE,
    OwnAnswerParams,
    summary="A follow-up about the model's own earlier answer (an entry of its list, the "
    "list's length, its number), checked against the history; unusable earlier answer: error.",
)
def make_own_answer(params: OwnAnswerParams, reference: str | None) -> OwnAnswerScorer:
    return OwnAnswerScorer(params)
