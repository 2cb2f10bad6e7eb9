"""The `bleu` scorer against its peer: sacrebleu's corpus_bleu with its defaults, one segment,
each reference its own stream (how Lost in Conversation scores data2text and translation)."""

from __future__ import annotations

import math

import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st

from turnscope.core import Item, ScorerSpec, Turn
from turnscope.scorers import TurnView, bleu, build_scorer, score_turn
from turnscope.scorers.base import ScorerConfigError
from turnscope.scorers.bleu import tokenise_13a

AGREE = settings(max_examples=200, deadline=None, derandomize=True)


def peer(answer: str, references: list[str]) -> float:
    return float(sacrebleu.corpus_bleu([answer], [[r] for r in references]).score) / 100


# Few distinct words, so that answers and references share n-grams of every order; with
# what the tokeniser treats specially: full stops and commas beside digits or letters,
# hyphens after digits, entities, "<skipped>", hyphenated line breaks, non-ASCII letters and
# digits, and whitespace other than spaces.
piece = st.sampled_from(
    [
        "the", "cat", "sat", "on", "mat", "The", "Katze", "straße", "naïve", "東京", "٣",
        "2", "3.5", "1,000", "2-3", "a.", "b,", ",", ".", "..", "-", "'s", "!", "?", "(", ")",
        "&amp;", "&quot;", "&lt;b&gt;", "<skipped>", "$", "%", "\u00a0", "\t", "-\n", "\n",
        "e.g.", "U.S.", "x,y", "5.", ".5", "«", "»", "—", "😀",
    ]
)  # fmt: skip
separator = st.sampled_from([" ", " ", " ", "", "  ", "\n"])
text = st.lists(st.tuples(piece, separator), max_size=30).map(
    lambda parts: "".join(p + s for p, s in parts)
)


@AGREE
@given(answer=text, references=st.lists(text, min_size=1, max_size=4))
def test_agrees_with_sacrebleu_on_generated_texts(answer: str, references: list[str]) -> None:
    assert math.isclose(bleu(answer, references).score, peer(answer, references), abs_tol=1e-9)


@AGREE
@given(reference=text, cut=st.integers(0, 30), extra=text, data=st.data())
def test_agrees_on_answers_close_to_a_reference(
    reference: str, cut: int, extra: str, data: st.DataObject
) -> None:
    # Truncated, extended and repeated references: long shared n-grams, brevity penalties.
    words = reference.split(" ")
    answer = data.draw(
        st.sampled_from(
            [" ".join(words[:cut]), reference + " " + extra, reference * 2, extra + reference]
        )
    )
    others = data.draw(st.lists(text, max_size=2))
    references = [reference, *others]
    assert math.isclose(bleu(answer, references).score, peer(answer, references), abs_tol=1e-9)


@pytest.mark.parametrize(
    ("answer", "references"),
    [
        ("", ["A cat sat on the mat."]),
        ("cat", ["cat"]),
        ("the cat sat", ["the cat sat"]),
        ("A cat sat on the mat.", ["A cat sat on the mat."]),
        ("A cat sat on the mat.", ["", "A cat sat on the mat."]),
        ("A cat sat on the mat.", [""]),
        ("A cat sat on the mat today.", ["A cat sat on a mat.", "The cat was on the mat today."]),
        ("It cost $3.50 (about 3,20 €) on 2-3 May.", ["It cost $3.50 on 2-3 May, roughly."]),
        ("Grüße aus München – naïve café!", ["Grüße aus München, naïve café."]),
        ("x " * 300, ["x " * 200, "x " * 400]),
    ],
)
def test_agrees_on_edge_cases(answer: str, references: list[str]) -> None:
    assert math.isclose(bleu(answer, references).score, peer(answer, references), abs_tol=1e-9)


def test_tokenisation_follows_13a() -> None:
    tokens = tokenise_13a("It cost $3.50, (about) 1,000 on 2-3 May.")
    assert " ".join(tokens) == "It cost $ 3.50 , ( about ) 1,000 on 2 - 3 May ."
    # Full stops between letters are split off too ("e.g." is four tokens).
    tokens = tokenise_13a("don't &amp; e.g. <skipped>hy-\nphen")
    assert " ".join(tokens) == "don't & e . g . hyphen"


def _view(answer: str, reference: str | None = None) -> TurnView:
    item = Item(id="i", turns=(Turn(user="q", reference=reference),))
    return TurnView(item=item, turn=1, response=answer, history=(), condition="full")


def test_the_scorer_strips_and_reports_a_continuous_value_with_its_statistics() -> None:
    references = ["The cat sat on the mat.", "A cat was sitting on the mat."]
    spec = ScorerSpec.model_validate({"type": "bleu", "references": references})
    answer = "  The cat sat on a mat.\n"
    (score,) = score_turn(_view(answer), (spec,))
    assert score.error is None and score.scorer == "bleu"
    assert score.value == pytest.approx(peer(answer.strip(), references), abs=1e-12)
    assert 0.0 < (score.value or 0.0) < 1.0
    assert score.detail is not None and score.detail.startswith("BLEU ")
    assert "brevity penalty 1.000" in score.detail
    # Without `references`, the turn's reference is the one reference.
    scorer = build_scorer(ScorerSpec.model_validate({"type": "bleu"}), "The cat sat on the mat.")
    # sacrebleu's perfect score is exp(log(100)) = 100.00000000000004: held to 1.0, so that a
    # perfect answer is a perfect score (the simulated protocol ends a conversation on it).
    assert peer("The cat sat on the mat.", ["The cat sat on the mat."]) > 1.0
    assert scorer.score(_view("The cat sat on the mat.")).value == 1.0


@pytest.mark.parametrize(
    ("params", "reference", "fragment"),
    [
        ({}, None, "needs `references` or a turn reference"),
        ({"references": ["", " "]}, None, "needs `references` or a turn reference"),
        ({"references": []}, None, "references"),
        ({"references": ["x"] * 65}, None, "references"),
        ({"reference": ["x"]}, None, "reference"),
    ],
)
def test_bad_specs_are_config_errors(
    params: dict[str, object], reference: str | None, fragment: str
) -> None:
    with pytest.raises(ScorerConfigError, match=fragment):
        build_scorer(ScorerSpec.model_validate({"type": "bleu", **params}), reference)
