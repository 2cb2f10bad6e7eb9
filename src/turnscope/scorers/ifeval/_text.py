"""Text measurements shared by the checkers: words, sentences, capital words, language.

Every function here reproduces what the reference computes with NLTK 3.10 and langdetect,
unless a `dense` flag asks for the documented multilingual variant (docs/ifeval.md).
"""

from __future__ import annotations

import functools
import importlib
import re
from typing import Any, Final

from turnscope.scorers.ifeval import _langdetect
from turnscope.scorers.ifeval._punkt import count_sentences, sentence_spans

# See _punkt: `regex` ships no type information.
_regex: Any = importlib.import_module("regex")

# The reference counts words with nltk's RegexpTokenizer(r"\w+"); NLTK 3.10 compiles that
# with the `regex` engine, whose \w also covers combining marks (so a Devanagari or Thai
# word with vowel signs is one word, not several).
_WORD_RE: Final = _regex.compile(r"\w+", _regex.UNICODE | _regex.MULTILINE | _regex.DOTALL)
# On ASCII text both engines agree on \w, and the stdlib's ASCII mode is the fastest.
_ASCII_WORD_RE: Final = re.compile(r"\w+", re.ASCII)

# Letters and digits of scripts written without spaces between words, by Unicode block:
# CJK ideographs (with extensions and compatibility forms), hiragana, katakana (full and
# half width, with the prolonged sound mark), Thai, Lao, Khmer and Myanmar.
_DENSE_BLOCKS: Final = (
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
    "\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
    "\u0e00-\u0e7f\u0e80-\u0eff\u1780-\u17ff\u1000-\u109f"
)
_DENSE_WORD_RE: Final = _regex.compile(
    rf"(?=[\p{{L}}\p{{N}}])[{_DENSE_BLOCKS}]|(?:(?![{_DENSE_BLOCKS}])\w)+", _regex.UNICODE
)
# Full stops and marks of Chinese and Japanese, with the closing quotes and brackets that
# may follow them inside the sentence.
_DENSE_SENTENCE_END_RE: Final = _regex.compile(
    r"[。！？｡]+[」』）〕】〉》”’\"')\]]*", _regex.UNICODE
)

# Languages whose text is counted the dense way when `language` names one of them.
_DENSE_LANGUAGES: Final = frozenset(
    {
        "zh",
        "yue",
        "ja",
        "th",
        "lo",
        "km",
        "my",
        "chinese",
        "mandarin",
        "cantonese",
        "japanese",
        "thai",
        "lao",
        "khmer",
        "burmese",
        "myanmar",
    }
)
_LANGUAGE_SUBTAG_RE: Final = re.compile(r"[-_\s(]")


@functools.lru_cache(maxsize=256)
def is_dense_language(language: str | None) -> bool:
    """Whether `language` (ISO 639 code, BCP 47 tag or English name) writes no word spaces."""
    if not language:
        return False
    primary = _LANGUAGE_SUBTAG_RE.split(language.strip().lower(), maxsplit=1)[0]
    return primary in _DENSE_LANGUAGES


def count_words(text: str, *, dense: bool = False) -> int:
    """Words as the reference counts them; `dense` counts each CJK/Thai-like letter as one."""
    if dense:
        return len(_DENSE_WORD_RE.findall(text))
    if text.isascii():
        return len(_ASCII_WORD_RE.findall(text))
    return len(_WORD_RE.findall(text))


def count_sentences_in(text: str, *, dense: bool = False) -> int:
    """Sentences by Punkt; `dense` also ends a sentence after 。！？ (and their closers)."""
    if not dense:
        return count_sentences(text)
    total = 0
    start = 0
    for mark in _DENSE_SENTENCE_END_RE.finditer(text):
        total += count_sentences(text[start : mark.end()])
        start = mark.end()
    return total + count_sentences(text[start:])


# Characters around which NLTK's word tokenizer always puts a token boundary: quotes,
# brackets, ; @ # $ % & ? ! * and the figure/en/em dashes, plus runs of periods, double
# hyphens, and a comma or colon not followed by a digit. Whitespace separates tokens too;
# \x1c-\x1f are whitespace for str.split() (which NLTK uses last) but not for \s.
_TOKEN_SPLIT_RE: Final = _regex.compile(
    r"[\s\x1c-\x1f;@#$%&?!*()\[\]{}<>\"`«“‘„»”’\u2012-\u2015]|\.{2,}|--|[:,](?!\d)",
    _regex.UNICODE,
)
# NLTK's contraction patterns split "cannot", "gonna" and the like; the stdlib engine and
# (?i) are what those patterns use, so this finds every chunk they could touch.
_CONTRACTION_RE: Final = re.compile(r"(?i)cannot|gimme|gonna|gotta|lemme|wanna")
# Letters around one apostrophe ("IT'S", "I'm", "DON'T", "WE'LL"): NLTK splits such a chunk
# only before a known clitic, and only when a space follows it, which ordinary whitespace
# does once NLTK has collapsed it. Other apostrophes depend on more context (a following
# quote, the sentence's final period), so those sentences go to NLTK whole.
_CLITIC_CHUNK_RE: Final = re.compile(r"[A-Za-z]+'[A-Za-z]+")
_CLITICS: Final = frozenset(
    ("'s", "'S", "'m", "'M", "'d", "'D", "'ll", "'LL", "'re", "'RE", "'ve", "'VE")
)
_NOT_CLITICS: Final = frozenset({"n't", "N'T"})
# Split by NLTK's contraction patterns rather than by the clitic rules.
_ODD_CONTRACTIONS: Final = frozenset({"d'ye", "more'n"})
# Whitespace to str.split() but not to NLTK's \s: a clitic before it is not split.
_NON_REGEX_SPACE_RE: Final = re.compile(r"[\x1c-\x1f]")


@functools.cache
def _nltk_word_tokenizer() -> Any:
    # Imported on first need: importing nltk takes about half a second, and most sentences
    # never reach it.
    from nltk.tokenize.destructive import NLTKWordTokenizer

    return NLTKWordTokenizer()


def _clitic_pieces(chunk: str) -> list[str]:
    head, tail = chunk.split("'")
    clitic = "'" + tail
    if clitic in _CLITICS:
        return [head, clitic]
    if len(head) > 1 and head[-1] + clitic in _NOT_CLITICS:
        return [head[:-1], head[-1] + clitic]
    return [chunk]


def _local_pieces(chunk: str, sentence: str) -> list[str] | None:
    """The chunk's tokens up to uncased characters, or None if only NLTK can tell."""
    if _CONTRACTION_RE.search(chunk):
        return None
    if "'" not in chunk:
        return _TOKEN_SPLIT_RE.split(chunk)  # type: ignore[no-any-return]
    if (
        _CLITIC_CHUNK_RE.fullmatch(chunk)
        and chunk.lower() not in _ODD_CONTRACTIONS
        and not _NON_REGEX_SPACE_RE.search(sentence)
    ):
        return _clitic_pieces(chunk)
    return None


@functools.lru_cache(maxsize=4096)
def _capitals_in_sentence(sentence: str) -> int:
    # Cached: the loose variants of a response share most of their sentences.
    pieces: list[str] = []
    for chunk in sentence.split():
        if chunk.islower():
            continue
        local = _local_pieces(chunk, sentence)
        if local is None:
            return sum(t.isupper() for t in _nltk_word_tokenizer().tokenize(sentence))
        pieces.extend(local)
    return sum(piece.isupper() for piece in pieces)


def count_capital_words(text: str) -> int:
    """Tokens in all capitals, as `sum(t.isupper() for t in nltk.word_tokenize(text))`."""
    return sum(_capitals_in_sentence(text[start:end]) for start, end in sentence_spans(text))


@functools.lru_cache(maxsize=1024)
def detect_language(text: str) -> str | None:
    """langdetect's language code for `text`, or None when it finds nothing to judge by.

    The answer is langdetect's with `DetectorFactory.seed = 0` (langdetect samples at
    random; unseeded, as the reference leaves it, a borderline text can get a different
    answer on every call), computed by `_langdetect` about 20 times faster.
    """
    return _langdetect.detect(text)
