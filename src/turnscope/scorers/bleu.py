"""BLEU of one answer against one or more references, as sacrebleu's `corpus_bleu` computes it
with its defaults on a corpus of one segment, each reference its own stream.

Those defaults (Post 2018, "A Call for Clarity in Reporting BLEU Scores"): mteval-v13a
tokenisation, case kept, n-grams of order 1 to 4, NIST's exponential smoothing of a zero
n-gram precision, and the brevity penalty against the reference length closest to the
answer's (the shorter on a tie). turnscope does not depend on sacrebleu; the test suite checks
this module against it (tests/scorers/test_bleu.py).
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import Field

from turnscope.core import Score
from turnscope.scorers.base import ScorerConfigError, ScorerParams, TurnView, register_scorer

MAX_ORDER = 4
MAX_REFERENCES = 64

# mteval-v13a's rules, applied in this order, each over the whole line:
# 1. every ASCII punctuation mark except the apostrophe, comma, hyphen and full stop is a
#    token of its own;
_SYMBOL = re.compile(
    "([" + re.escape("".join(sorted(set(string.punctuation) - set("',-.")))) + "])"
)
# 2. and 3. a full stop or comma is split off unless it sits between ASCII digits (3.5, 1,000):
#    first from a preceding non-digit, then from a following non-digit;
_STOP_AFTER_TEXT = re.compile(r"([^0-9])([.,])")
_STOP_BEFORE_TEXT = re.compile(r"([.,])([^0-9])")
# 4. a hyphen after a digit is split off (2-3 -> 2 - 3).
_DASH_AFTER_DIGIT = re.compile(r"([0-9])(-)")
_ENTITIES = (("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"))


def tokenise_13a(line: str) -> list[str]:
    """The words of `line` as mteval-v13a (WMT's reference tokeniser) splits it."""
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        for entity, char in _ENTITIES:
            line = line.replace(entity, char)
    line = _SYMBOL.sub(r" \1 ", f" {line} ")
    line = _STOP_AFTER_TEXT.sub(r"\1 \2 ", line)
    line = _STOP_BEFORE_TEXT.sub(r" \1 \2", line)
    line = _DASH_AFTER_DIGIT.sub(r"\1 \2 ", line)
    return line.split()


def _ngrams(tokens: list[str]) -> Counter[tuple[str, ...]]:
    return Counter(
        tuple(tokens[start : start + n])
        for n in range(1, MAX_ORDER + 1)
        for start in range(len(tokens) - n + 1)
    )


@dataclass(frozen=True)
class Bleu:
    """A BLEU score and the statistics behind it."""

    score: float
    """BLEU in [0, 1] (sacrebleu's score divided by 100, at most 1)."""
    precisions: tuple[float, ...]
    """The (smoothed) n-gram precisions in [0, 1], orders 1 to 4."""
    brevity_penalty: float
    """exp(1 - r/c) when the answer (c tokens) is shorter than the reference (r), else 1."""
    answer_length: int
    """Tokens in the answer."""
    reference_length: int
    """Tokens in the reference closest in length to the answer."""


def bleu(answer: str, references: Sequence[str]) -> Bleu:
    """BLEU of `answer` against `references` (at least one), equal to sacrebleu's
    `corpus_bleu([answer], [[r] for r in references]).score / 100` with its defaults."""
    if not references:
        raise ValueError("BLEU needs at least one reference")
    # sacrebleu strips trailing whitespace before tokenising, answer and references alike.
    words = tokenise_13a(answer.rstrip())
    counts = _ngrams(words)
    clip: Counter[tuple[str, ...]] = Counter()
    lengths = []
    for reference in references:
        reference_words = tokenise_13a(reference.rstrip())
        lengths.append(len(reference_words))
        # A repeated n-gram is credited up to the most times any one reference has it.
        clip |= _ngrams(reference_words)
    # The closest reference length; the shorter of two equally close ones.
    closest = min(lengths, key=lambda length: (abs(length - len(words)), length))
    matched = [0] * MAX_ORDER
    total = [0] * MAX_ORDER
    for gram, count in counts.items():
        total[len(gram) - 1] += count
        matched[len(gram) - 1] += min(count, clip[gram])
    penalty = 1.0
    if len(words) < closest:
        penalty = math.exp(1 - closest / len(words)) if words else 0.0
    if not any(matched) or not all(total):
        # No n-gram matched, or the answer is too short to have 4-grams: BLEU is 0 (its
        # geometric mean takes a zero precision of an order with no n-grams at all).
        return Bleu(0.0, (0.0,) * MAX_ORDER, penalty, len(words), closest)
    # Precisions in percent, as sacrebleu computes them, so that the figures agree to the last
    # digits; a zero count is smoothed to 1/2, 1/4 ... of one n-gram (the k-th zero: 1/2^k).
    precisions = []
    halvings = 1.0
    for hits, count in zip(matched, total, strict=True):
        if hits:
            precisions.append(100.0 * hits / count)
        else:
            halvings *= 2
            precisions.append(100.0 / (halvings * count))
    score = penalty * math.exp(sum(math.log(p) for p in precisions) / MAX_ORDER) / 100.0
    # A perfect answer comes out as exp(log(100)) / 100 = 1.0000000000000004; scores are held
    # to [0, 1], so that a perfect answer is a perfect score.
    return Bleu(min(score, 1.0), tuple(p / 100.0 for p in precisions), penalty, len(words), closest)


class BleuParams(ScorerParams):
    references: list[str] | None = Field(default=None, min_length=1, max_length=MAX_REFERENCES)
    """The reference texts (each its own reference stream); defaults to the turn's reference."""


@dataclass(frozen=True)
class BleuScorer:
    references: tuple[str, ...]
    name: str = "bleu"

    def score(self, view: TurnView) -> Score:
        # The whole answer is the hypothesis; answer and references are stripped first, as
        # Lost in Conversation's evaluation does.
        result = bleu(view.response.strip(), [r.strip() for r in self.references])
        grams = "/".join(f"{100 * p:.1f}" for p in result.precisions)
        detail = (
            f"BLEU {100 * result.score:.2f} (n-gram precisions {grams}, brevity penalty "
            f"{result.brevity_penalty:.3f}, {result.answer_length} answer words against "
            f"{result.reference_length})"
        )
        return Score(scorer=self.name, value=result.score, detail=detail)


@register_scorer(
    "bleu",
    BleuParams,
    summary="BLEU against the reference(s), sacrebleu's defaults, as a value in [0, 1].",
)
def make_bleu(params: BleuParams, reference: str | None) -> BleuScorer:
    references = params.references if params.references is not None else [reference or ""]
    # An empty reference stream is allowed (sacrebleu scores against it), but not only those.
    if not any(r.strip() for r in references):
        raise ScorerConfigError(
            "scorer 'bleu' needs `references` or a turn reference to compare with"
        )
    return BleuScorer(tuple(references))
