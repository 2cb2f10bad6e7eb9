"""length_constraints:* — sentences, words and paragraphs."""

from __future__ import annotations

import re
from typing import Final, Self

from pydantic import model_validator

from turnscope.scorers.ifeval._base import (
    CheckContext,
    Count,
    Instruction,
    Relation,
    Text,
    compare,
    register,
)
from turnscope.scorers.ifeval._text import count_sentences_in, count_words

_DIVIDER_RE: Final = re.compile(r"\s?\*\*\*\s?")
_BLANK_LINE_RE: Final = re.compile(r"\n\n")
# Characters that end the first word of a paragraph (they are not part of the word).
_WORD_END: Final = frozenset(".,?!'\"")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


@register("length_constraints:number_sentences")
class NumberOfSentences(Instruction):
    num_sentences: Count
    """How many sentences the relation compares against."""
    relation: Relation
    """Whether the count must stay below `num_sentences` or reach it."""

    def describe(self) -> str:
        return f"Your answer must have {self.relation} {_plural(self.num_sentences, 'sentence')}."

    def check(self, response: str, context: CheckContext) -> bool:
        count = count_sentences_in(response, dense=context.dense)
        return compare(count, self.relation, self.num_sentences)


@register("length_constraints:number_words")
class NumberOfWords(Instruction):
    num_words: Count
    """How many words the relation compares against."""
    relation: Relation
    """Whether the count must stay below `num_words` or reach it."""

    def describe(self) -> str:
        return f"Your answer must be {self.relation} {_plural(self.num_words, 'word')} long."

    def check(self, response: str, context: CheckContext) -> bool:
        count = count_words(response, dense=context.dense)
        return compare(count, self.relation, self.num_words)


@register("length_constraints:number_paragraphs")
class NumberOfParagraphs(Instruction):
    num_paragraphs: Count
    """The exact number of paragraphs, separated by the markdown divider ***."""

    def describe(self) -> str:
        return (
            f"Write exactly {_plural(self.num_paragraphs, 'paragraph')}, with the markdown "
            "divider *** between consecutive paragraphs."
        )

    def check(self, response: str, context: CheckContext) -> bool:
        # Skipping the split when no divider can match is much faster and changes nothing.
        parts = _DIVIDER_RE.split(response) if "***" in response else [response]
        last = len(parts) - 1
        count = 0
        for index, part in enumerate(parts):
            if part.strip():
                count += 1
            elif 0 < index < last:
                # Two dividers with nothing between them: an empty paragraph.
                return False
        return count == self.num_paragraphs


@register("length_constraints:nth_paragraph_first_word")
class NthParagraphFirstWord(Instruction):
    num_paragraphs: Count
    """The exact number of paragraphs, separated by blank lines."""
    nth_paragraph: Count
    """Which paragraph (1-based) must start with `first_word`."""
    first_word: Text
    """The word that paragraph must start with (case-insensitive)."""

    @model_validator(mode="after")
    def _nth_within_count(self) -> Self:
        if not 1 <= self.nth_paragraph <= self.num_paragraphs:
            raise ValueError(
                f"nth_paragraph must be between 1 and num_paragraphs ({self.num_paragraphs}),"
                f" got {self.nth_paragraph}"
            )
        return self

    def describe(self) -> str:
        return (
            f"Write exactly {_plural(self.num_paragraphs, 'paragraph')}, separated from each "
            f"other by one blank line; paragraph number {self.nth_paragraph} must begin with "
            f'the word "{self.first_word.lower()}".'
        )

    def check(self, response: str, context: CheckContext) -> bool:
        paragraphs = _BLANK_LINE_RE.split(response)
        count = sum(1 for p in paragraphs if p.strip())
        # The reference counts only non-empty paragraphs but indexes the raw split, blanks
        # included; kept as is so results match.
        if self.nth_paragraph > count:
            return False
        paragraph = paragraphs[self.nth_paragraph - 1].strip()
        if not paragraph:
            return False
        return count == self.num_paragraphs and _first_word(paragraph) == self.first_word.lower()


def _first_word(paragraph: str) -> str:
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    letters = []
    for char in word:
        if char in _WORD_END:
            break
        # Per character, as the reference does: str.lower() on the whole word would give
        # a Greek final sigma a different form.
        letters.append(char.lower())
    return "".join(letters)
