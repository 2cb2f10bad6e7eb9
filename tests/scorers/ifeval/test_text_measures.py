"""The fast text measurements against NLTK itself, on generated adversarial text.

turnscope re-implements NLTK's Punkt inference and counts capital words without running
NLTK's word tokenizer on most chunks; both must give NLTK's exact answers.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from turnscope.scorers.ifeval._punkt import count_sentences, sentence_spans
from turnscope.scorers.ifeval._text import count_capital_words, count_words

_PIECE_TEXT = (
    "the a Dr. Mr. Mrs. U.S. e.g. i.e. etc. No. 5 3.14 ... ?! ! ? . , ; : \" ' “ ” « » ( ) [ ] "
    "Hello WORLD it's He She They But However Inc. Corp. Jan. vs. p.m. a.m. St. 1. 2) - -- * "
    "** *** 東京。 你好！ 什么？ Привет. मैं। x y z Apple banana Ph.D. P.S. P.P.S. :) .. "
    '"Yes." (see above.) [1]. U.S.A. A. B. C. ok. Ok. Hmm... wow!!! right?" \'no.\' 12. '
    "13.5 $4.50. version 2.0. www.example.com. email@x.org J. Smith Washington. In The on. "
    "in. ‘quoted.’ «Bon.» . . . \x1c \x85 \u00a0 é e\u0301. I. i. 1.5. -3. ,5. DON'T IT'S "
    "X'S. 'TIS 'tis CANNOT GONNA wanna NASA's O'NEIL rock'n'roll A,B A,5B ABC.:5D TL;DR "
    "HELLO-WORLD R2-D2 ÉCOLE ǅ 𝐀 A&B @X #Y $Z 50% *BOLD* `TICK` ''QUOTE'' —DASH– ½ ² "
    "MORE'N D'YE WHADDYA GIMME LEMME GOTTA I'm WE'LL They're CAN'T won't Y'ALL IT's "
    "JAMES' 'QUOTED' I'D SHE'S, WE'VE! N'T AN'T DIDN'T"
)
PIECES = (*_PIECE_TEXT.split(" "), "\n", "\n\n", "  ", ". ", " . ", "\r\n", "\t")


def generated_texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        n = rng.randint(0, 40)
        if rng.random() < 0.5:
            texts.append(" ".join(rng.choice(PIECES) for _ in range(n)))
        else:
            texts.append(
                "".join(rng.choice(PIECES) + rng.choice(("", " ", "\n")) for _ in range(n))
            )
    return texts


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return generated_texts(seed=7, count=6000)


def test_sentence_spans_equal_nltk(nltk_sentence_tokenizer: Any, texts: list[str]) -> None:
    wrong = [
        t
        for t in texts
        if list(sentence_spans(t)) != list(nltk_sentence_tokenizer.span_tokenize(t))
    ]
    assert not wrong, f"{len(wrong)} texts differ, e.g. {wrong[:3]!r}"


def test_sentence_counts_on_plain_prose(nltk_sentence_tokenizer: Any) -> None:
    text = "Dr. Smith arrived at 5 p.m. on Monday. He was tired! Was he? Yes... Then he left."
    assert count_sentences(text) == len(nltk_sentence_tokenizer.tokenize(text)) == 4


def test_capital_words_equal_nltk_word_tokenize(
    nltk_sentence_tokenizer: Any, texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import nltk
    import nltk.tokenize

    monkeypatch.setattr(
        nltk.tokenize, "_get_punkt_tokenizer", lambda language="english": nltk_sentence_tokenizer
    )
    wrong = [
        t
        for t in texts
        if count_capital_words(t) != sum(w.isupper() for w in nltk.word_tokenize(t))
    ]
    assert not wrong, f"{len(wrong)} texts differ, e.g. {wrong[:3]!r}"


def test_word_count_equals_nltk_regexp_tokenizer(texts: list[str]) -> None:
    from nltk.tokenize import RegexpTokenizer

    tokenizer = RegexpTokenizer(r"\w+")
    wrong = [t for t in texts if count_words(t) != len(tokenizer.tokenize(t))]
    assert not wrong, f"{len(wrong)} texts differ, e.g. {wrong[:3]!r}"


def test_dense_counting() -> None:
    # Each ideograph or kana is a word; Latin runs and numbers still count once each.
    assert count_words("我们在2024年去了东京。", dense=True) == 9
    assert count_words("我们在2024年去了东京。") == 1
    # Thai vowel signs are marks, not letters: seven consonants here.
    assert count_words("สวัสดีครับ", dense=True) == 7
    assert count_words("Hello 世界 ok", dense=True) == 4
