"""langdetect's verdict with seed 0, about 20 times faster than langdetect itself.

langdetect (the detector the reference checkers call) reduces a text to character 1-, 2-
and 3-grams and then runs 7 trials of a random walk: each step multiplies 55 language
probabilities by `alpha / 10000 + p(n-gram | language)` for a randomly drawn n-gram,
normalising and testing for convergence every 5 steps. With `DetectorFactory.seed = 0` every
call replays the same random stream, so the verdict is a pure function of the text.

This module gives the same verdict without running langdetect's pure-Python loops:

- n-grams are taken per word, from a cache: the rule that drops n-grams inside capitalised
  words restarts at every space, so a word's n-grams depend only on the word;
- the random stream is precomputed once as the 32-bit words of `random.Random(0)`, from which
  `choice` and `gauss` are reproduced exactly as CPython computes them;
- a trial is computed a window of steps at a time with numpy: the five factors between two
  convergence checks are multiplied together, and a matrix product sums their logarithms up
  to every check of the window;
- a language holding more than half of the seven trials' total probability has won whatever
  the remaining trials do, so a clear text needs four trials, not seven.

The logarithmic computation is not langdetect's floating-point arithmetic, so every decision
it takes (whether a check converges, which language wins, whether it passes 0.1) is accepted
only if it is farther from the threshold than a proven bound on the difference between the
two computations. A decision that is closer sends the text to `_replay`, which repeats
langdetect's arithmetic operation for operation and is bit-identical to it. docs/ifeval.md
("Language detection") gives the bound and the measured agreement.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import operator
import os
import random
import re
import threading
from array import array
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from langdetect.detector_factory import PROFILES_DIRECTORY
from langdetect.utils.ngram import NGram

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# langdetect's detector settings (Detector's class constants and defaults).
_TRIALS: Final = 7
_ITERATION_LIMIT: Final = 1000
_CHECK_EVERY: Final = 5
_CONVERGED: Final = 0.99999
_MIN_PROBABILITY: Final = 0.1
_BASE_FREQUENCY: Final = 10000
_ALPHA: Final = 0.5
_ALPHA_WIDTH: Final = 0.05
_MAX_TEXT_LENGTH: Final = 10000
_SEED: Final = 0
UNKNOWN: Final = "unknown"

# --- Text to n-grams -----------------------------------------------------------------------

# langdetect blanks URLs and e-mail addresses before anything else; the patterns must be
# the same to match the same spans.
_URL_RE: Final = re.compile(r"https?://[-_.?&~;+=/#0-9A-Za-z]{1,2076}")
_MAIL_RE: Final = re.compile(r"[-_.0-9A-Za-z]{1,64}@[-_0-9A-Za-z]{1,255}[-_.0-9A-Za-z]{1,255}")

# Vietnamese: a vowel followed by a combining tone mark becomes the precomposed letter, using
# langdetect's own tables.
_VI_LETTERS: Final[str] = NGram.TO_NORMALIZE_VI_CHARS
_VI_MARKS: Final[str] = NGram.DMARK_CLASS
_VI_COMPOSED: Final[dict[str, str]] = {
    letter + mark: NGram.NORMALIZED_VI_CHARS[m][i]
    for m, mark in enumerate(_VI_MARKS)
    for i, letter in enumerate(_VI_LETTERS)
}
_VI_RE: Final = re.compile(f"[{re.escape(_VI_LETTERS)}][{re.escape(_VI_MARKS)}]")
_VI_MARK_RE: Final = re.compile(f"[{re.escape(_VI_MARKS)}]")

# A text mostly in another script loses its characters from "A" to "z" (a range that also
# holds [ \ ] ^ _ `). "Mostly": more than twice as many characters from U+0300 up.
# langdetect means to leave out the Latin Extended Additional block (Vietnamese letters),
# but compares the block's number with its name, so those characters count as well.
_LATIN_RE: Final = re.compile("[A-z]")
_NON_LATIN_RE: Final = re.compile("[\u0300-\U0010ffff]")

_LATIN1_BLANKED: Final[str] = NGram.LATIN1_EXCLUDED
_CJK_REPRESENTATIVE: Final[dict[str, str]] = NGram.CJK_MAP
_ROMANIAN: Final = {"\u0219": "\u015f", "\u021b": "\u0163"}  # comma below -> cedilla


def normalize_char(ch: str) -> str:
    """The character langdetect's n-gram model sees in place of `ch` (a space: none)."""
    code = ord(ch)
    if code < 0x80:
        return ch if "A" <= ch <= "Z" or "a" <= ch <= "z" else " "
    if code <= 0xFF:  # Latin-1 Supplement
        return " " if ch in _LATIN1_BLANKED else ch
    if 0x180 <= code <= 0x24F:  # Latin Extended-B
        return _ROMANIAN.get(ch, ch)
    if 0x2000 <= code <= 0x206F:  # General Punctuation
        return " "
    if 0x600 <= code <= 0x6FF:  # Arabic: Farsi yeh is Arabic yeh
        return "\u064a" if ch == "\u06cc" else ch
    if 0x1E00 <= code <= 0x1EFF:  # Latin Extended Additional
        return "\u1ec3" if code >= 0x1EA0 else ch
    if 0x3040 <= code <= 0x309F:  # Hiragana
        return "\u3042"
    if 0x30A0 <= code <= 0x30FF:  # Katakana
        return "\u30a2"
    if 0x3100 <= code <= 0x312F or 0x31A0 <= code <= 0x31BF:  # Bopomofo (and Extended)
        return "\u3105"
    if 0x4E00 <= code <= 0x9FFF:  # CJK Unified Ideographs, by class
        return _CJK_REPRESENTATIVE.get(ch, ch)
    if 0xAC00 <= code <= 0xD7AF:  # Hangul Syllables
        return "\uac00"
    return ch


_ASCII_TRANSLATE: Final = {code: normalize_char(chr(code)) for code in range(0x80)}
_TABLE_LIMIT: Final = 100_000


class _NormalizeTable(dict[int, str]):
    """str.translate table for normalize_char, filled in as characters are met."""

    def __missing__(self, code: int) -> str:
        if len(self) >= _TABLE_LIMIT:
            self.clear()
        value = self[code] = normalize_char(chr(code))
        return value


_TRANSLATE: Final = _NormalizeTable()


@dataclass(frozen=True)
class _Profiles:
    """langdetect's language profiles as one matrix of n-gram probabilities."""

    languages: tuple[str, ...]
    """Language codes, in the order langdetect loads them (the directory listing's)."""
    rows: dict[str, int]
    """Matrix row of every 1- to 3-gram that some profile knows."""
    matrix: FloatArray
    """p(n-gram | language), one row per n-gram, one column per language."""
    ones: FloatArray
    """A vector of ones, one per language (for sums by matrix product)."""


@functools.cache
def profiles() -> _Profiles:
    """Load the profile files shipped with langdetect, as its DetectorFactory does."""
    languages: list[str] = []
    grams: list[list[str]] = []
    probabilities: list[FloatArray] = []
    # langdetect numbers the languages in os.listdir order, and that order decides ties.
    for filename in os.listdir(PROFILES_DIRECTORY):
        path = os.path.join(PROFILES_DIRECTORY, filename)
        if filename.startswith(".") or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as handle:
            profile = json.load(handle)
        languages.append(profile["name"])
        kept = [gram for gram in profile["freq"] if 1 <= len(gram) <= 3]
        counts = np.fromiter(map(profile["freq"].__getitem__, kept), dtype=np.float64)
        # Each count is divided by the language's total of n-grams of the same length.
        totals = np.array([0, *profile["n_words"][:3]], dtype=np.float64)
        sizes = np.fromiter(map(len, kept), dtype=np.int64, count=len(kept))
        grams.append(kept)
        probabilities.append(counts / totals[sizes])
    # Rows are numbered in the order the n-grams are first met, language after language.
    numbered = {gram: row for row, gram in enumerate(dict.fromkeys(itertools.chain(*grams)))}
    table = np.zeros((len(numbered), len(languages)))
    for column, (kept, values) in enumerate(zip(grams, probabilities, strict=True)):
        rows_of = np.fromiter(map(numbered.__getitem__, kept), dtype=np.int64, count=len(kept))
        table[rows_of, column] = values
    # Common n-grams first, so that those most texts use share memory pages and cache lines.
    order = np.argsort(-table.sum(axis=1), kind="stable")
    matrix = table[order]
    matrix.setflags(write=False)
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    rows = dict(zip(numbered, position.tolist(), strict=True))
    return _Profiles(tuple(languages), rows, matrix, np.ones(len(languages)))


_WORD_CACHE_LIMIT: Final = 200_000


def _word_rows(word: str, spaced: bool) -> bytes:
    """Profile rows (int32 bytes) of the n-grams langdetect takes from `word` (normalised,
    without spaces) and, if `spaced`, from the space that follows it.

    langdetect keeps the last three characters seen, restarting after a space, and emits the
    1-, 2- and 3-gram ending at each character, except while inside a capitalised word: two
    upper-case characters in a row start one, a character that is not upper case ends it,
    and an upper-case character after a lower-case one leaves the state as it was.
    """
    if not word:
        return b""
    padded = " " + word
    if not word.islower() and any(a.isupper() and b.isupper() for a, b in itertools.pairwise(word)):
        grams = _capitalised_grams(padded)
    else:
        grams = [padded[1], padded[:2]]
        grams += [
            g
            for i in range(2, len(padded))
            for g in (padded[i], padded[i - 1 : i + 1], padded[i - 2 : i + 1])
        ]
    if spaced:
        grams += [padded[-1] + " ", padded[-2:] + " "]
    known = profiles().rows.get
    return array("i", [row for row in map(known, grams) if row is not None]).tobytes()


def _capitalised_grams(padded: str) -> list[str]:
    """The 1- to 3-grams of `padded` (" " + word) that langdetect keeps, character by
    character with its rule for capitalised words."""
    grams: list[str] = []
    capital = False
    for i in range(1, len(padded)):
        ch = padded[i]
        if not ch.isupper():
            capital = False
        elif padded[i - 1].isupper():
            capital = True
        if not capital:
            grams += (padded[i - size + 1 : i + 1] for size in range(1, min(i + 1, 3) + 1))
    return grams


class _WordCache(dict[str, bytes]):
    """Profile rows per normalised word, computed on first use (and forgotten in bulk)."""

    def __init__(self, spaced: bool) -> None:
        super().__init__()
        self.spaced = spaced

    def __missing__(self, word: str) -> bytes:
        if len(self) >= _WORD_CACHE_LIMIT:
            self.clear()
        rows = self[word] = _word_rows(word, self.spaced)
        return rows


_SPACED: Final = _WordCache(spaced=True)
_UNSPACED: Final = _WordCache(spaced=False)


def prepared_text(text: str) -> str:
    """The text langdetect draws n-grams from (before per-character normalisation)."""
    if "http" in text:
        text = _URL_RE.sub(" ", text)
    if "@" in text:
        text = _MAIL_RE.sub(" ", text)
    if text.isascii():
        # Collapsing runs of spaces, which langdetect also does, never changes its n-grams.
        return text[:_MAX_TEXT_LENGTH]
    if _VI_MARK_RE.search(text):
        text = _VI_RE.sub(_compose_vietnamese, text)
    text = text[:_MAX_TEXT_LENGTH]
    latin = len(_LATIN_RE.findall(text))
    if latin and latin * 2 < len(_NON_LATIN_RE.findall(text)):
        text = _LATIN_RE.sub("", text)
    return text


def _compose_vietnamese(match: re.Match[str]) -> str:
    return _VI_COMPOSED[match.group()]


def feature_bytes(text: str) -> bytes:
    """Profile rows of the n-grams langdetect extracts from `text`, in its order (int32)."""
    text = prepared_text(text)
    if text.isascii():
        # Only letters and spaces are left, so split() may drop the empty words.
        normalized = text.translate(_ASCII_TRANSLATE)
        words = normalized.split()
        last = b"" if not words or normalized.endswith(" ") else _UNSPACED[words.pop()]
    else:
        # Only " " separates words: U+3000 or U+0085, say, are characters to langdetect.
        words = text.translate(_TRANSLATE).split(" ")
        last = _UNSPACED[words.pop()]
    # Every word but the last is followed by a space, whose n-grams belong to the word.
    return b"".join(map(_SPACED.__getitem__, words)) + last


def feature_rows(text: str) -> npt.NDArray[np.int32]:
    """feature_bytes as an array."""
    return np.frombuffer(feature_bytes(text), dtype=np.int32)


# --- The random stream ----------------------------------------------------------------------


class _Stream:
    """The 32-bit outputs of `random.Random(0)`, from its start, extended on demand.

    `Random.choice(seq)` takes `k = len(seq).bit_length()` bits as `word >> (32 - k)` and
    draws again while the value is out of range; `Random.random()` takes two words, and
    `gauss` two `random()` values for a pair of normal deviates, returning the second on the
    next call. langdetect re-seeds before every text, so every text reads this same stream.
    """

    def __init__(self) -> None:
        self._generator = random.Random(_SEED)
        self._lock = threading.Lock()
        self.words: list[int] = []
        self._array: npt.NDArray[np.uint32] = np.empty(0, dtype=np.uint32)
        self._shifted: dict[int, IntArray] = {}
        self.extend(1 << 14)

    def extend(self, count: int) -> None:
        """Make at least `count` words available."""
        with self._lock:  # two threads drawing at once would interleave the words
            bits = self._generator.getrandbits
            self.words.extend(bits(32) for _ in range(count - len(self.words)))
            self._array = np.array(self.words, dtype=np.uint32)
            self._shifted = {}

    def shifted(self, bits: int) -> IntArray:
        """Every word reduced to its top `bits` bits, the candidate values of a choice."""
        values = self._shifted.get(bits)
        if values is None:
            values = (self._array >> np.uint32(32 - bits)).astype(np.int64)
            self._shifted[bits] = values
        return values

    def uniform(self, index: int) -> float:
        """`Random.random()` made of the words at `index` and `index + 1`."""
        high = self.words[index] >> 5
        low = self.words[index + 1] >> 6
        return (high * 67108864.0 + low) * (1.0 / 9007199254740992.0)

    def gauss_pair(self, index: int) -> tuple[float, float]:
        """The two deviates `Random.gauss(0.0, 1.0)` makes of the four words at `index`."""
        angle = self.uniform(index) * (2.0 * math.pi)
        radius = math.sqrt(-2.0 * math.log(1.0 - self.uniform(index + 2)))
        return math.cos(angle) * radius, math.sin(angle) * radius


@functools.cache
def _stream() -> _Stream:
    return _Stream()


class Draws:
    """The successive `Random.choice(ngrams)` results for one text, in stream order.

    `value[j]` is the j-th accepted draw, `position[j]` the index of the word it came from,
    and `rows[j]` the profile row of the n-gram it picks.
    """

    position: IntArray
    value: IntArray
    rows: npt.NDArray[np.int32]

    def __init__(self, features: npt.NDArray[np.int32]) -> None:
        self.features = features
        self.size = len(features)
        self.bits = self.size.bit_length()
        self.stream = _stream()
        self._scanned = 0
        # About 400 words serve a typical text, and 1024 nineteen texts in twenty.
        self._scan(1024)

    def _scan(self, words: int) -> None:
        stream = self.stream
        if words > len(stream.words):
            stream.extend(max(words, 2 * len(stream.words)))
        candidates = stream.shifted(self.bits)[:words]
        self.position = np.flatnonzero(candidates < self.size)
        self.value = candidates[self.position]
        self.rows = self.features[self.value]
        self._scanned = words

    def ensure(self, count: int) -> None:
        """Make the first `count` draws available."""
        while count > len(self.value):
            self._scan(2 * self._scanned)

    def first_at(self, word: int, start: int = 0) -> int:
        """Number of the first draw (from draw `start` on) that uses word `word` or later."""
        index = start
        while True:
            self.ensure(index + 1)
            if self.position[index] >= word:
                return index
            index += 1


def _next_alpha(
    stream: _Stream, pending: float | None, word: int
) -> tuple[float, float | None, int]:
    """A trial's smoothing alpha, the deviate kept for the next trial, and the next word."""
    if pending is None:
        deviate, pending = stream.gauss_pair(word)
        word += 4
    else:
        deviate, pending = pending, None
    # langdetect: alpha + gauss(0.0, 1.0) * ALPHA_WIDTH, where gauss returns 0.0 + z * 1.0.
    return _ALPHA + (0.0 + deviate * 1.0) * _ALPHA_WIDTH, pending, word


# --- Exact replay ---------------------------------------------------------------------------


def replay_probabilities(draws: Draws) -> FloatArray:
    """langdetect's averaged probabilities (its `langprob`), computed its way.

    Operation for operation in langdetect's floating-point order: numpy's element-wise
    multiply, add and divide round exactly like Python's float operators, and the
    normalising sum is Python's own `sum`, so every value is bit-identical to langdetect's.
    """
    table = profiles()
    matrix = table.matrix
    count = len(table.languages)
    stream = draws.stream
    total = np.zeros(count)
    pending: float | None = None
    word = 0
    index = 0
    for _ in range(_TRIALS):
        alpha, pending, word = _next_alpha(stream, pending, word)
        weight = alpha / _BASE_FREQUENCY
        index = draws.first_at(word, index)
        probability = np.full(count, 1.0 / count)
        step = 0
        while True:
            draws.ensure(index + 1)
            probability *= matrix[draws.rows[index]] + weight
            index += 1
            if step % _CHECK_EVERY == 0:
                probability /= sum(probability.tolist())
                if probability.max() > _CONVERGED or step >= _ITERATION_LIMIT:
                    break
            step += 1
        word = int(draws.position[index - 1]) + 1
        total += probability / _TRIALS
    return total


def _replay(draws: Draws) -> str:
    """langdetect's verdict, computed its way (see replay_probabilities)."""
    total = replay_probabilities(draws)
    best = int(np.argmax(total))  # the first of equal maxima, as langdetect's stable sort
    return profiles().languages[best] if total[best] > _MIN_PROBABILITY else UNKNOWN


# --- Fast estimation ------------------------------------------------------------------------

# A trial is computed a window of convergence checks at a time: the first window covers steps
# 0..80 (checks 1 to 16, after steps 5, 10, ... 80), later ones continue from where the
# previous one stopped. Nine trials in ten end in the first window; as the trials of one
# text tend to take about as long, a trial's first window also covers the longest earlier
# trial of the text, and a few checks more. (Up to 40 checks: OpenBLAS would use a second
# thread for much larger matrix products.)
_WINDOW_CHECKS: Final = (16, 24, 40)
_WINDOW_SLACK: Final = 4
_LAST_CHECK: Final = _ITERATION_LIMIT // _CHECK_EVERY

# Bounds on the difference between this computation and langdetect's (docs/ifeval.md).
# A check is decided only if |maxp - 0.99999| > CHECK_ABS + CHECK_REL * (1 - maxp).
_CHECK_ABS: Final = 2e-12
_CHECK_REL: Final = 1e-8
# Checks whose maximum is this close to 0.99999 get the precise test above.
_BAND: Final = 1e-6
# While the leading language keeps this share, no other one can pass 0.99999.
_RIVAL: Final = 1.0001e-5
# The winner must beat the runner-up and 0.1 by more than this.
_VOTE_MARGIN: Final = 1e-8
# A language whose probabilities, summed over the trials done, exceed half of the seven
# trials' total wins whatever the remaining trials give (with room for rounding).
_SETTLED: Final = _TRIALS / 2 + 1e-6
# Log of a leading value safely clear of underflow in exp() (1e-288) in every row of a
# window that ends at it (a value grows by at most 1.0005 times a check).
_LOG_UNDERFLOW: Final = -663.0
# Natural log of the smallest value langdetect holds that is safely above the subnormal
# range (2.2e-308 is exp(-708.4)), with room for the partial products within a group.
_SUBNORMAL_LOG: Final = -700.0
# Largest tolerated share langdetect may have misplaced by rounding subnormal numbers, and
# log(201 groups * 6.01 * 2**-1075) rounded up, plus log 2: see docs/ifeval.md.
_GARBAGE_LIMIT: Final = 1e-13
_LOG_INJECTED: Final = -736.0


@dataclass(frozen=True)
class _Layout:
    """How a window's steps are gathered, grouped and summed.

    A window is a run of `checks` groups of five steps, each ending with a convergence
    check; a trial's first window also has step 0 in front, folded into its first group
    (check 0, right after step 0, can never converge: see _estimate). Rows are gathered
    so that the groups can be multiplied with one contiguous reduction: after the extra
    step, `order[j * checks + g]` is the offset of step j of group g.
    """

    steps: int
    """Steps in the window."""
    order: IntArray
    """Offsets of the window's steps, in gathering order."""
    prefix: FloatArray
    """Lower-triangular ones: sums group logs up to each check."""


@functools.cache
def _layout(checks: int, first: bool) -> _Layout:
    """The layout of a window of `checks` groups (with step 0 in front if `first`)."""
    lead = 1 if first else 0
    order = [0] * lead + [lead + _CHECK_EVERY * g + j for j in range(5) for g in range(checks)]
    offsets = np.array(order, dtype=np.int64)
    offsets.setflags(write=False)
    prefix = np.tril(np.ones((checks, checks)))
    prefix.setflags(write=False)
    return _Layout(checks * _CHECK_EVERY + lead, offsets, prefix)


class _Undecided(Exception):
    """A decision is too close to call without langdetect's own arithmetic."""


def _stop(values: FloatArray, sums: list[float], lead: list[float]) -> tuple[int, int] | None:
    """The check at which the trial stops and its leading language, or None to go on.

    `lead` is a guessed leader's value at each check. Its share decides as long as it is
    near 0.99999 or more (then it is the maximum) or at least `_RIVAL` (then nobody
    reaches 0.99999); otherwise the row's maximum does.
    """
    low = _CONVERGED - _BAND
    for check, total in enumerate(sums):
        share = lead[check] / total
        leader = -1
        if share < low:
            if share >= _RIVAL:
                continue
            row = values[check]
            leader = int(row.argmax())
            share = float(row[leader]) / total
            if share < low:
                continue
        if share <= _CONVERGED + _BAND:
            margin = _CHECK_ABS + _CHECK_REL * (1.0 - share)
            if abs(share - _CONVERGED) <= margin:
                raise _Undecided
            if share <= _CONVERGED:
                continue
        return check, leader
    return None


def _check_subnormals(logs: FloatArray, totals: FloatArray, lows: FloatArray | None) -> FloatArray:
    """Per-language lower bounds on the log of the values langdetect held, updated with this
    window; raise _Undecided if its rounding of subnormal values may matter.

    `logs` are the window's log values and `totals` the logs of the sums the window started
    from and of its rows. A language whose value was once tiny and grew back could carry
    langdetect's rounding of a subnormal value into a decision: at a check its share is
    exp(logs - totals), and the rounding can have added at most 201 * 6.01 * 2**-1075
    relative to the smallest value it held up to then.
    """
    held = np.minimum.accumulate(logs - totals[:-1, None], axis=0)
    if lows is not None:
        np.minimum(held, lows, out=held)
    worst = float((logs - totals[1:, None] - held).max())
    if worst + _LOG_INJECTED + math.log(logs.shape[1]) > math.log(_GARBAGE_LIMIT):
        raise _Undecided
    lowest: FloatArray = held[-1]
    return lowest


def _estimate(draws: Draws) -> str:
    """langdetect's verdict from the log-domain computation; raises _Undecided if unsure.

    A window's values are langdetect's probabilities at the previous check (1 in every
    language at the start of a trial: a common factor does not matter) times the factors
    since. All factors are at most 1.0001, so they never overflow; the leading language's
    could underflow, which is checked.

    Check 0 comes after a single step, where the other 54 languages keep at least
    `alpha / 10000 >= 7.14e-6` each (alpha is at least 0.0714: the largest deviate gauss()
    can return is 8.58) against at most 1.0001 for the largest, so no share exceeds 0.9997
    there: it never stops a trial, and step 0 joins the first group.
    """
    table = profiles()
    matrix = table.matrix
    ones = table.ones
    count = len(table.languages)
    stream = draws.stream
    finals: list[tuple[FloatArray, float]] = []  # each trial's last row and its sum
    leader = -1
    longest = 0  # checks of the longest trial so far
    pending: float | None = None
    word = 0
    index = 0
    for trial_number in range(_TRIALS):
        alpha, pending, word = _next_alpha(stream, pending, word)
        weight = alpha / _BASE_FREQUENCY
        index = draws.first_at(word, index)
        carry: FloatArray | None = None  # log of langdetect's probabilities at the last check
        done = 1  # number of the next convergence check
        lows: FloatArray | None = None  # per language, lowest log value langdetect held
        windows = 0
        while True:
            first = carry is None
            checks = _WINDOW_CHECKS[min(windows, 2)]
            if first:
                checks = max(checks, min(longest + _WINDOW_SLACK, _WINDOW_CHECKS[-1]))
            checks = min(checks, _LAST_CHECK + 1 - done)
            windows += 1
            layout = _layout(checks, first)
            steps = layout.steps
            draws.ensure(index + steps)
            factors = matrix.take(draws.rows[index : index + steps][layout.order], axis=0)
            factors += weight
            # Multiply each group's five factors (at least 1.8e-26 together, 1.3e-31 with
            # step 0: no underflow) and sum the groups' logs up to every check.
            groups = np.multiply.reduce(
                factors[steps - checks * _CHECK_EVERY :].reshape(_CHECK_EVERY, checks, count),
                axis=0,
            )
            if carry is None:
                groups[0] *= factors[0]
            np.log(groups, out=groups)
            if carry is not None:
                groups[0] += carry
            logs = layout.prefix @ groups
            if leader < 0:
                leader = int(logs[-1].argmax())
            # Values only shrink along a window (but for factors of at most 1.0001), so the
            # leader's last one shows whether it stays clear of underflow in exp().
            peaks: FloatArray | None = None  # the scale of each row, if not 1
            if logs[-1, leader] >= _LOG_UNDERFLOW:
                values = np.exp(logs)
                sums = (values @ ones).tolist()
                stop = _stop(values, sums, values[:, leader].tolist())
            else:  # scale every row by the leader's value instead
                peaks = logs[:, leader]
                with np.errstate(over="ignore"):
                    values = np.exp(logs - peaks[:, None])
                sums = (values @ ones).tolist()
                if math.isinf(max(sums)):  # another language leads by far: take each row's
                    peaks = logs.max(axis=1)
                    values = np.exp(logs - peaks[:, None])
                    sums = (values @ ones).tolist()
                stop = _stop(values, sums, values[:, leader].tolist())
            if stop is None and done + checks > _LAST_CHECK:
                stop = checks - 1, -1
            end = checks - 1 if stop is None else stop[0]
            # Before the normalisation at a check langdetect holds, for each language, exactly
            # this row's value divided by the previous row's sum (at the start: 55 values of
            # 1, or probabilities that sum to 1). In a first window every value is at least
            # weight ** steps and sums shrink from row to row (by factors at most 1.0001 a
            # step, which the margin to 1e-308 absorbs), which often shows without looking
            # that nothing came near the subnormal range.
            start = math.log(count) if first else 0.0
            totals: list[float] | None = None
            if (
                peaks is not None
                or not first
                or (
                    ((end + 1) * _CHECK_EVERY + 1) * math.log(weight)
                    - max(start, math.log(sums[0]))
                    < _SUBNORMAL_LOG
                )
            ):
                if peaks is None:
                    totals = [start, *map(math.log, sums[: end + 1])]
                else:
                    totals = [start, *(peaks[: end + 1] + np.log(sums[: end + 1])).tolist()]
                row_lows = logs[: end + 1].min(axis=1).tolist()
                if lows is not None or min(map(operator.sub, row_lows, totals)) < _SUBNORMAL_LOG:
                    lows = _check_subnormals(logs[: end + 1], np.array(totals), lows)
            if stop is None:
                carry = logs[-1] - (math.log(sums[-1]) if totals is None else totals[-1])
                done += checks
                index += steps
                continue
            finals.append((values[end], sums[end]))
            if stop[1] >= 0:
                leader = stop[1]
            index += steps - (checks - 1 - end) * _CHECK_EVERY
            longest = max(longest, done + end)
            break
        word = int(draws.position[index - 1]) + 1
        # Every trial adds probabilities that sum to 1, so a language holding more than
        # half of the seven trials' total already is the winner whatever the rest do.
        if trial_number >= 3 and sum(float(r[leader]) / t for r, t in finals) > _SETTLED:
            return table.languages[leader]
    rows = np.array([row for row, _ in finals])
    totals_ = np.array([total for _, total in finals])
    return _vote((rows / totals_[:, None]).sum(axis=0) / _TRIALS, table.languages)


def _vote(total: FloatArray, languages: tuple[str, ...]) -> str:
    """langdetect's answer from the averaged probabilities, if the margins allow it."""
    best = int(np.argmax(total))
    winner = float(total[best])
    runner_up = float(np.partition(total, -2)[-2])
    if winner - runner_up <= _VOTE_MARGIN or abs(winner - _MIN_PROBABILITY) <= _VOTE_MARGIN:
        raise _Undecided
    return languages[best] if winner > _MIN_PROBABILITY else UNKNOWN


def detect(text: str) -> str | None:
    """What `langdetect.detect(text)` returns with `DetectorFactory.seed = 0`.

    None where langdetect raises "No features in text" (nothing but digits, symbols or
    unknown characters); "unknown" where no language reaches probability 0.1.
    """
    features = feature_bytes(text)
    return verdict(features) if features else None


@functools.lru_cache(maxsize=1024)
def verdict(features: bytes) -> str:
    """langdetect's answer for a sequence of n-grams (profile rows as int32 bytes).

    The answer depends on nothing else, so texts that differ only in what langdetect
    ignores (such as the `*` of markdown emphasis next to a space) share it.
    """
    draws = Draws(np.frombuffer(features, dtype=np.int32))
    try:
        return _estimate(draws)
    except _Undecided:
        return _replay(draws)
