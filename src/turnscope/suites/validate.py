"""Checks of the task data itself: what a suite asks and expects, not only whether it parses.

Loading a suite proves every item is well formed. It does not prove that the item makes
sense: public benchmarks ship gold answers that fail their own checks, instruction arguments
that contradict the prompt they belong to, instructions that no answer can follow together,
and the same item twice. `validate_suite` finds those, one `Finding` per problem, each with
the file and line of its item (docs/validate.md lists the kinds with examples).
"""

from __future__ import annotations

import functools
import json
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from turnscope.core import Item, Message, content_text, gc_paused, has_images
from turnscope.protocols import ConversationProtocol, get_protocol
from turnscope.scorers import TurnView, is_deferred, score_turn, scorer_params
from turnscope.scorers.ifeval import describe
from turnscope.scorers.instructions import SCORER_TYPE as INSTRUCTIONS
from turnscope.scorers.instructions import instructions_in_force
from turnscope.suites.loader import LoadedSuite

FINDING_KINDS: Mapping[str, str] = {
    "invalid": "the item does not load (bad field, unknown scorer ...)",
    "empty": "a user turn or a reference answer with no text",
    "reference-fails": "a turn's reference answer fails the turn's own scorers",
    "kwargs-vs-prompt": "an instruction's number differs from every number the prompt gives",
    "conflict": "two instructions in force together that no answer can both follow",
    "duplicate": "an item whose text equals an earlier item's (case, spacing, punctuation aside)",
    "near-duplicate": "an item whose text mostly repeats an earlier item's",
    "no-answer": "a scorer on a turn that no condition of the item's protocol answers",
    "missing-turn": "a turn named by a scorer or the item that does not exist",
}
"""Every kind of finding, with what it means."""

NEAR_DUPLICATE_SIMILARITY = 0.9
"""Share of word trigrams two items must have in common to be near-duplicates (Jaccard)."""


class Finding(BaseModel):
    """One problem in a suite's data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    """One of FINDING_KINDS."""
    where: str
    """The item's place: "file:line", or the suite's name for a generated suite."""
    item_id: str | None
    """The item concerned (None for an item that did not load)."""
    turn: int | None = None
    """The 1-based turn concerned, when the finding is about one turn."""
    message: str
    """What is wrong, in one line."""


def validate_suite(loaded: LoadedSuite) -> list[Finding]:
    """Every finding in a loaded suite, items that failed to load included (load the suite
    with skip_invalid=True to get them), in item order."""
    # The checks build many short-lived objects beside a suite's long-lived ones: paused, the
    # cycle collector does not traverse the suite again and again.
    with gc_paused():
        return _findings(loaded)


def _findings(loaded: LoadedSuite) -> list[Finding]:
    findings = [Finding(kind="invalid", where="", item_id=None, message=m) for m in loaded.skipped]
    items = loaded.suite.items
    places = [loaded.origins.get(item.id, loaded.suite.name) for item in items]
    for item, where, duplicate in zip(items, places, _duplicates(items, places), strict=True):
        findings.extend(
            Finding(kind=kind, where=where, item_id=item.id, turn=turn, message=message)
            for kind, turn, message in _item_problems(item)
        )
        if duplicate is not None:
            kind, message = duplicate
            findings.append(Finding(kind=kind, where=where, item_id=item.id, message=message))
    return findings


Problem = tuple[str, int | None, str]
"""A finding's kind, turn and message, before the item's place is added."""


def _item_problems(item: Item) -> Iterator[Problem]:
    protocol = get_protocol(item.protocol)
    # How many turns each condition records, asked once for both checks that need it.
    lengths = {c: protocol.max_turns(item, c) for c in protocol.item_conditions(item)}
    answered = _answered_turns(item, protocol, lengths)
    yield from _empty_turns(item)
    yield from _missing_turns(item, protocol, lengths)
    for number, turn in enumerate(item.turns, start=1):
        if turn.scorers and number not in answered:
            names = ", ".join(dict.fromkeys(s.type for s in turn.scorers))
            yield (
                "no-answer",
                number,
                f"scorer {names} on a turn that protocol {item.protocol!r} never answers",
            )
    yield from _failing_references(item, protocol, answered)
    yield from _instruction_problems(item)


def _answered_turns(
    item: Item, protocol: ConversationProtocol, lengths: Mapping[str, int]
) -> set[int]:
    """The item turns whose scorers judge some recorded answer, under any playable condition
    (`lengths`: the item's conditions and how many turns each records)."""
    answered: set[int] = set()
    every = set(range(1, len(item.turns) + 1))
    # Fixed assistant turns are never asked and leave no record: the recorded turns keep the
    # numbers of the turns that are asked.
    asked = [n for n, turn in enumerate(item.turns, start=1) if not turn.fixed]
    numbering = asked if len(asked) < len(item.turns) else None
    for condition, length in lengths.items():
        if protocol.skip_reason(item, condition) is not None:
            continue
        for recorded in range(1, length + 1):
            if numbering is not None and recorded <= len(numbering):
                recorded = numbering[recorded - 1]
            answered.add(protocol.scored_turn(item, condition, recorded))
        if answered >= every:
            break  # the other conditions cannot add a turn
    return answered


def _empty_turns(item: Item) -> Iterator[Problem]:
    for number, turn in enumerate(item.turns, start=1):
        if not content_text(turn.user).strip() and not has_images(turn.user):
            yield "empty", number, "the user turn has no text"
        if turn.reference is not None and not turn.reference.strip():
            yield "empty", number, "the reference answer has no text"


def _missing_turns(
    item: Item, protocol: ConversationProtocol, lengths: Mapping[str, int]
) -> Iterator[Problem]:
    beyond: dict[int, list[str]] = {}
    for condition, length in lengths.items():
        # Recorded turns are numbered as the protocol numbers them: at most the longer of the
        # item's turns (the single-turn twin is recorded at the last) and what it records.
        last = max(len(item.turns), length)
        for key in protocol.key_turns(item, condition) or ():
            if not 1 <= key <= last:
                beyond.setdefault(key, []).append(f"{condition} (turns 1-{last})")
    for key, where in beyond.items():
        yield "missing-turn", None, f"key turn {key} does not exist under {', '.join(where)}"
    for number, turn in enumerate(item.turns, start=1):
        for spec in turn.scorers:
            # A scorer parameter named `turn` names the earlier turn it reads (own_answer).
            if "turn" not in (spec.model_extra or ()):
                continue
            named = getattr(scorer_params(spec), "turn", None)
            if isinstance(named, int) and not 1 <= named < number:
                yield (
                    "missing-turn",
                    number,
                    f"scorer {spec.type!r} reads turn {named}, which is not an earlier turn",
                )


def _gold_condition(item: Item, protocol: ConversationProtocol) -> str:
    """The condition under which the references stand in the history (else the default)."""
    conditions = protocol.item_conditions(item)
    gold = [c for c in conditions if protocol.history_answers(c) == "reference"]
    return (gold or list(conditions))[0]


def _failing_references(
    item: Item, protocol: ConversationProtocol, answered: set[int]
) -> Iterator[Problem]:
    if not any(turn.reference is not None and turn.scorers for turn in item.turns):
        return
    condition = _gold_condition(item, protocol)
    history: list[Message] = [Message(role="system", content=item.system)] if item.system else []
    for number, turn in enumerate(item.turns, start=1):
        history.append(Message(role="user", content=turn.user))
        reference = turn.reference
        scorers = tuple(s for s in turn.scorers if not is_deferred(s))
        if reference is not None and scorers and number in answered:
            view = TurnView(
                item=item,
                turn=number,
                response=reference,
                history=tuple(history),
                condition=condition,
            )
            for score in score_turn(view, scorers):
                if score.error is not None:
                    yield "reference-fails", number, f"{score.scorer}: cannot score: {score.error}"
                elif score.value is not None and score.value < 1.0:
                    detail = f" ({score.detail})" if score.detail else ""
                    yield (
                        "reference-fails",
                        number,
                        f"{score.scorer} gives the reference {score.value:.2f}{detail}",
                    )
        history.append(Message(role="assistant", content=reference or ""))


# --- instructions: arguments against the prompt, pairs that cannot both hold -------------------

_SMALL_NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
)
_NUMBER_WORDS = {word: n for n, word in enumerate(_SMALL_NUMBERS.split())} | {
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
}
WORDS_BEFORE = 4
"""A number counts for what follows it when at most three words separate them ("3
square-bracket placeholders"): it is one of the WORDS_BEFORE words before the unit."""

_COUNTED: Mapping[str, tuple[str, str]] = {
    "detectable_content:number_placeholders": ("num_placeholders", r"placeholders?"),
    "detectable_format:number_bullet_lists": ("num_bullets", r"bullets?"),
    "detectable_format:number_highlighted_sections": ("num_highlights", r"highlight\w*|sections?"),
    "detectable_format:multiple_sections": ("num_sections", r"sections?|parts?"),
    "length_constraints:number_words": ("num_words", r"words?"),
    "length_constraints:number_sentences": ("num_sentences", r"sentences?"),
    "length_constraints:number_paragraphs": ("num_paragraphs", r"paragraphs?"),
    "length_constraints:nth_paragraph_first_word": ("num_paragraphs", r"paragraphs?"),
    "keywords:frequency": ("frequency", r"times?"),
    "keywords:letter_frequency": ("let_frequency", r"times?"),
    "change_case:capital_word_frequency": ("capital_frequency", r"times?"),
}
"""Instructions with a count: the keyword argument holding it, and the words the prompt
counts it in."""
_UNIT_PATTERNS = {
    unit: re.compile(rf"\b(?:{unit})\b", re.IGNORECASE) for _, unit in _COUNTED.values()
}


# Prompts repeat their words: a word is read once (the cache is bounded).
@functools.lru_cache(maxsize=16384)
def _number(word: str) -> int | None:
    word = word.strip("([{\"'").lower().replace(",", "")
    if word.isascii() and word.isdigit():
        return int(word)
    return _NUMBER_WORDS.get(word)


def prompt_counts(prompt: str, unit: str) -> set[int]:
    """The numbers `prompt` gives for `unit` (a regex from _COUNTED), e.g. {3} for "at least 3
    placeholders", {2, 100} for "2 poems of 100 words"."""
    found: set[int] = set()
    for match in _UNIT_PATTERNS[unit].finditer(prompt):
        # Words are short: a window of 80 characters holds the words before the unit.
        before = prompt[max(0, match.start() - 80) : match.start()].split()[-WORDS_BEFORE:]
        found.update(n for n in map(_number, before) if n is not None)
    return found


def _given_instructions(item: Item) -> list[tuple[int, str, dict[str, Any]]]:
    """(turn, instruction id, kwargs) for every instruction a turn gives."""
    given: list[tuple[int, str, dict[str, Any]]] = []
    for number, turn in enumerate(item.turns, start=1):
        for spec in turn.scorers:
            # Parameters read in place (spec.params copies them): validated when the suite
            # loaded, read as given.
            added = (spec.model_extra or {}).get("add") if spec.type == INSTRUCTIONS else None
            given.extend((number, entry["id"], entry.get("kwargs") or {}) for entry in added or ())
    return given


def _instruction_problems(item: Item) -> Iterator[Problem]:
    given = _given_instructions(item)
    for number, instruction_id, kwargs in given:
        counted = _COUNTED.get(instruction_id)
        if counted is None or not isinstance(kwargs.get(counted[0]), int):
            continue
        name, unit = counted
        stated = prompt_counts(content_text(item.turns[number - 1].user), unit)
        if stated and kwargs[name] not in stated:
            said = ", ".join(str(n) for n in sorted(stated))
            yield (
                "kwargs-vs-prompt",
                number,
                f"{instruction_id}: {name}={kwargs[name]} but the prompt says {said}",
            )
    reported: set[tuple[str, str]] = set()
    giving = list(dict.fromkeys(turn for turn, _, _ in given))
    # A new conflict can only arise at a turn that gives an instruction, between an instruction
    # given there and one in force (two older ones were both in force, and checked, when the
    # later of them was given); when one turn gives them all, what is in force is what it gives.
    for number in giving:
        if len(giving) == 1:
            in_force = [(i, k, number) for _, i, k in given if i in _CAN_CONFLICT]
        else:
            in_force = [
                (e.spec.id, e.spec.kwargs, e.since_turn)
                for e in instructions_in_force(item, number)
                if e.spec.id in _CAN_CONFLICT
            ]
        for first, second in _conflicts(in_force, number):
            key = (describe(*first), describe(*second))
            if key not in reported:
                reported.add(key)
                yield (
                    "conflict",
                    number,
                    f"{first[0]} ({key[0]}) cannot hold with {second[0]} ({key[1]})",
                )


Instruction = tuple[str, dict[str, Any]]


def _lower(text: Any) -> str:
    return str(text).strip().lower()


_RANGES: Mapping[str, tuple[str, str, str | None]] = {
    "length_constraints:number_words": ("relation", "num_words", None),
    "length_constraints:number_sentences": ("relation", "num_sentences", None),
    "keywords:frequency": ("relation", "frequency", "keyword"),
    "keywords:letter_frequency": ("let_relation", "let_frequency", "letter"),
    "change_case:capital_word_frequency": ("capital_relation", "capital_frequency", None),
}
"""Instructions that bound a count: relation argument, count argument, and the argument that
says what is counted (None: one count per answer)."""
_EXACT: Mapping[str, str] = {
    "length_constraints:number_paragraphs": "num_paragraphs",
    "length_constraints:nth_paragraph_first_word": "num_paragraphs",
    "detectable_format:number_bullet_lists": "num_bullets",
}
"""Instructions that fix a count exactly (two different fixed counts of one thing conflict)."""


_CAN_CONFLICT = frozenset(
    {
        "change_case:english_lowercase",
        "change_case:english_capital",
        "keywords:forbidden_words",
        "keywords:existence",
        "language:response_language",
        *_RANGES,
        *_EXACT,
    }
)
"""Every instruction id a rule of _pair_conflicts names: the others conflict with nothing, so
pairs are formed among these only."""


def _conflicts(
    in_force: Sequence[tuple[str, dict[str, Any], int]], turn: int
) -> Iterator[tuple[Instruction, Instruction]]:
    """Pairs of instructions (id, kwargs, turn given) that no answer can follow together, of
    which at least one was given at `turn`."""
    for i, (first_id, first_kwargs, first_turn) in enumerate(in_force):
        first = first_id, first_kwargs
        for second_id, second_kwargs, second_turn in in_force[i + 1 :]:
            if turn not in (first_turn, second_turn):
                continue
            second = second_id, second_kwargs
            if _pair_conflicts(first, second) or _pair_conflicts(second, first):
                yield first, second


def _bounds(instruction: Instruction) -> tuple[tuple[str, str], int, int | None] | None:
    """(what is counted, lowest, highest) allowed by a count-bounding instruction."""
    instruction_id, kwargs = instruction
    spec = _RANGES.get(instruction_id)
    if spec is None:
        return None
    relation, count_name, subject = spec
    count = kwargs.get(count_name)
    if not isinstance(count, int):
        return None
    what = (instruction_id, _lower(kwargs.get(subject, "")) if subject else "")
    if kwargs.get(relation) == "at least":
        return what, count, None
    return what, 0, count - 1


def _pair_conflicts(first: Instruction, second: Instruction) -> bool:
    (first_id, first_kwargs), (second_id, second_kwargs) = first, second
    if (first_id, second_id) == ("change_case:english_lowercase", "change_case:english_capital"):
        return True
    if first_id == "change_case:english_lowercase" and second_id in _RANGES:
        # An all-lowercase answer has no word in capitals.
        bounds = _bounds(second)
        return (
            second_id == "change_case:capital_word_frequency"
            and bounds is not None
            and (bounds[1] > 0)
        )
    a, b = _bounds(first), _bounds(second)
    if a is not None and b is not None and a[0] == b[0]:
        low = max(a[1], b[1])
        highs = [h for h in (a[2], b[2]) if h is not None]
        return bool(highs) and low > min(highs)
    if first_id in _EXACT and second_id in _EXACT and first_id <= second_id:
        left, right = first_kwargs.get(_EXACT[first_id]), second_kwargs.get(_EXACT[second_id])
        same_thing = _EXACT[first_id] == _EXACT[second_id]
        return same_thing and left is not None and right is not None and left != right
    if first_id == "keywords:forbidden_words":
        forbidden = {_lower(w) for w in first_kwargs.get("forbidden_words", ())}
        if second_id == "keywords:existence":
            return bool(forbidden & {_lower(w) for w in second_kwargs.get("keywords", ())})
        bounds = _bounds(second)
        if second_id == "keywords:frequency" and bounds is not None:
            return bounds[0][1] in forbidden and bounds[1] > 0
    if first_id == second_id == "language:response_language":
        return _lower(first_kwargs.get("language")) != _lower(second_kwargs.get("language"))
    return False


# --- duplicates -----------------------------------------------------------------------------

_WORDS = re.compile(r"\w+")
_ASCII_NON_WORD = str.maketrans(
    {code: " " for code in range(128) if not (chr(code).isalnum() or chr(code) == "_")}
)
"""Every ASCII character that \\w does not match, made a space."""
_BANDS = 5
_ROWS = 4
Shingles = npt.NDArray[np.uint64]
_MIX = tuple(np.uint64(m) for m in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9))
_SALTS = np.random.default_rng(0).integers(1, 1 << 63, size=_BANDS * _ROWS, dtype=np.uint64)


def _text(item: Item) -> str:
    """What an item asks and expects: its system prompt, user turns, references, scorers and
    protocol setup (items that share a prompt but hide different rules are not duplicates)."""
    parts = [item.system or ""]
    for turn in item.turns:
        parts.append(content_text(turn.user))
        parts.append(turn.reference or "")
        # Parameters in key order: a duplicate written with its keys in another order is
        # still found.
        parts.extend(f"{s.type} {sorted((s.model_extra or {}).items())!r}" for s in turn.scorers)
    if item.setup:
        parts.append(json.dumps(item.setup, sort_keys=True, default=str))
    return "\n".join(parts)


def _words(text: str) -> tuple[str, ...]:
    """The words (runs of \\w) of a lower-cased text."""
    if text.isascii():
        # The same words, twice as fast: every other ASCII character is a space for split().
        return tuple(text.translate(_ASCII_NON_WORD).split())
    return tuple(_WORDS.findall(text))


def _word_hashes(texts: Sequence[Sequence[str]]) -> npt.NDArray[np.uint64]:
    """The CRC-32 of every word of every text, all texts end to end."""
    # CRC-32, not hash(): str hashes change from one process to the next, and so would the
    # near-duplicates found. Each distinct word is hashed once: suites repeat their words.
    words = [word for text in texts for word in text]
    crc = {word: zlib.crc32(word.encode()) for word in dict.fromkeys(words)}
    return np.fromiter(map(crc.__getitem__, words), dtype=np.uint64, count=len(words))


class _Shingled:
    """The word trigrams of many texts, hashed, each text's end to end (repeats kept)."""

    def __init__(self, texts: Sequence[Sequence[str]]) -> None:
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        hashes = _word_hashes(texts)
        # Unsigned overflow wraps, which is what a multiplicative hash wants.
        trigrams = hashes[:-2] * _MIX[0] ^ hashes[1:-1] * _MIX[1] ^ hashes[2:] * _MIX[2]
        # A trigram belongs to the text its first word is in, if its last word is in it too.
        owner = np.repeat(np.arange(len(texts)), lengths)
        keep = owner[:-2] == owner[2:] if owner.size >= 3 else np.zeros(0, dtype=bool)
        owners, values = owner[: trigrams.size][keep], trigrams[keep]
        # A text of fewer than three words is one shingle: the hash of the whole text.
        short = [i for i, text in enumerate(texts) if len(text) < 3]
        if short:
            whole = [zlib.crc32(" ".join(texts[i]).encode()) for i in short]
            owners = np.concatenate((owners, short))
            values = np.concatenate((values, np.array(whole, dtype=np.uint64)))
            order = np.argsort(owners, kind="stable")
            owners, values = owners[order], values[order]
        self.values = values
        """Every text's shingle hashes, text after text."""
        self.starts = np.searchsorted(owners, np.arange(len(texts) + 1))
        """Where each text's hashes start in `values` (and, last, where they all end)."""
        self._sets: dict[int, Shingles] = {}

    def shingles(self, index: int) -> Shingles:
        """The sorted distinct shingle hashes of text `index`."""
        found = self._sets.get(index)
        if found is None:
            found = np.unique(self.values[self.starts[index] : self.starts[index + 1]])
            self._sets[index] = found
        return found

    def signatures(self) -> npt.NDArray[np.uint64]:
        """The MinHash signature of each text, one row per text: per salt, the least salted
        hash of its shingles (a repeated shingle cannot change a least value)."""
        count = self.starts.size - 1
        rows = np.empty((count, _SALTS.size), dtype=np.uint64)
        if count:
            for column, salt in enumerate(_SALTS):
                rows[:, column] = np.minimum.reduceat(
                    (self.values ^ salt) * _MIX[0], self.starts[:-1]
                )
        return rows


def _jaccard(a: Shingles, b: Shingles) -> float:
    common = np.intersect1d(a, b, assume_unique=True).size
    return common / (a.size + b.size - common)


def _band_firsts(signatures: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """For each band and text, the first text whose signature has the same values in that
    band (the text itself when no earlier one has): one row per band."""
    firsts = np.empty((_BANDS, signatures.shape[0]), dtype=np.int64)
    for band in range(_BANDS):
        values = np.ascontiguousarray(signatures[:, band * _ROWS : (band + 1) * _ROWS])
        keys = values.view(np.dtype((np.void, values.itemsize * _ROWS))).ravel()
        # return_index gives each distinct key's first occurrence.
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        firsts[band] = first[inverse.ravel()]
    return firsts


def _duplicates(items: Sequence[Item], places: Sequence[str]) -> list[tuple[str, str] | None]:
    """For each item, the duplicate or near-duplicate finding (kind, message) it gets, if any.

    Exact matches by the text's normalised words; near matches by MinHash banding (a band of
    _ROWS signature values that two items share makes them candidates), confirmed by the
    Jaccard similarity of their word trigrams. Each item is compared with the first item of
    each band bucket it falls in, so the work grows linearly with the suite; the hashing,
    signatures and buckets are worked out for all items at once, and the distinct trigrams
    only of the items compared."""
    found: list[tuple[str, str] | None] = [None] * len(items)
    first_with: dict[tuple[str, ...], int] = {}
    fresh: list[int] = []
    texts: list[tuple[str, ...]] = []
    for index, item in enumerate(items):
        words = _words(_text(item).lower())
        earlier = first_with.setdefault(words, index)
        if earlier != index:
            found[index] = (
                "duplicate",
                f"same text as item {items[earlier].id!r} ({places[earlier]})",
            )
        else:
            fresh.append(index)
            texts.append(words)
    shingled = _Shingled(texts)
    firsts = _band_firsts(shingled.signatures())
    positions = np.arange(len(texts))
    for position in np.flatnonzero((firsts != positions).any(axis=0)).tolist():
        best: tuple[int, float] | None = None
        for band in range(_BANDS):
            first = int(firsts[band, position])
            if first == position:
                continue
            similarity = _jaccard(shingled.shingles(position), shingled.shingles(first))
            if similarity >= NEAR_DUPLICATE_SIMILARITY and (best is None or similarity > best[1]):
                best = first, similarity
        if best is not None:
            other = fresh[best[0]]
            found[fresh[position]] = (
                "near-duplicate",
                f"{best[1]:.0%} of its word trigrams are in item {items[other].id!r} "
                f"({places[other]})",
            )
    return found


def count_kinds(findings: Iterable[Finding]) -> dict[str, int]:
    """How many findings of each kind, in FINDING_KINDS order (kinds with none left out)."""
    counts = dict.fromkeys(FINDING_KINDS, 0)
    for finding in findings:
        counts[finding.kind] = counts.get(finding.kind, 0) + 1
    return {kind: n for kind, n in counts.items() if n}
