"""keywords:* and language:* — which words and letters appear, and in which language."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator

from turnscope.scorers.ifeval._base import (
    CheckContext,
    Count,
    Instruction,
    Pattern,
    Relation,
    Text,
    ascii_literal,
    compare,
    compiled,
    regex_of,
    register,
)
from turnscope.scorers.ifeval._text import detect_language

# English names for the language codes an instruction may name; an unlisted code is shown
# as it is.
_LANGUAGE_NAMES = {
    "af": "Afrikaans",
    "ar": "Arabic",
    "bg": "Bulgarian",
    "bn": "Bengali",
    "ca": "Catalan",
    "cs": "Czech",
    "cy": "Welsh",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "et": "Estonian",
    "fa": "Persian",
    "fi": "Finnish",
    "fr": "French",
    "gu": "Gujarati",
    "he": "Hebrew",
    "hi": "Hindi",
    "hr": "Croatian",
    "hu": "Hungarian",
    "id": "Indonesian",
    "it": "Italian",
    "ja": "Japanese",
    "kn": "Kannada",
    "ko": "Korean",
    "lt": "Lithuanian",
    "lv": "Latvian",
    "mk": "Macedonian",
    "ml": "Malayalam",
    "mr": "Marathi",
    "ne": "Nepali",
    "nl": "Dutch",
    "no": "Norwegian",
    "pa": "Punjabi",
    "pl": "Polish",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "sk": "Slovak",
    "sl": "Slovenian",
    "so": "Somali",
    "sq": "Albanian",
    "sv": "Swedish",
    "sw": "Swahili",
    "ta": "Tamil",
    "te": "Telugu",
    "th": "Thai",
    "tl": "Tagalog",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "ur": "Urdu",
    "vi": "Vietnamese",
    "zh-cn": "Simplified Chinese",
    "zh-tw": "Traditional Chinese",
}


def _quoted_list(words: tuple[str, ...]) -> str:
    quoted = [f'"{w}"' for w in words]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


@register("keywords:existence")
class KeywordExistence(Instruction):
    keywords: Annotated[tuple[Pattern, ...], Field(min_length=1)]
    """Words (regular expressions, matched case-insensitively) that must all appear."""

    def describe(self) -> str:
        return f"Mention each of {_quoted_list(tuple(sorted(self.keywords)))} in your answer."

    def check(self, response: str, context: CheckContext) -> bool:
        lowered = response.lower() if response.isascii() else None
        for keyword in self.keywords:
            if lowered is not None and ascii_literal(keyword):
                found = keyword.lower() in lowered
            else:
                found = compiled(keyword, re.IGNORECASE).search(response) is not None
            if not found:
                return False
        return True


@register("keywords:frequency")
class KeywordFrequency(Instruction):
    keyword: Text
    """A word (a regular expression, matched case-insensitively after trimming)."""
    frequency: Count
    """How many occurrences the relation compares against."""
    relation: Relation
    """Whether the count must stay below `frequency` or reach it."""

    @field_validator("keyword")
    @classmethod
    def _valid_pattern(cls, keyword: str) -> str:
        regex_of(keyword.strip())
        return keyword

    def describe(self) -> str:
        times = "time" if self.frequency == 1 else "times"
        return f'Use the word "{self.keyword.strip()}" {self.relation} {self.frequency} {times}.'

    def check(self, response: str, context: CheckContext) -> bool:
        keyword = self.keyword.strip()
        if response.isascii() and ascii_literal(keyword):
            # Non-overlapping, left to right: the same count findall gives.
            count = response.lower().count(keyword.lower())
        else:
            count = len(compiled(keyword, re.IGNORECASE).findall(response))
        return compare(count, self.relation, self.frequency)


@register("keywords:forbidden_words")
class ForbiddenWords(Instruction):
    forbidden_words: Annotated[tuple[Text, ...], Field(min_length=1)]
    """Whole words (regular expressions, case-insensitive) that must not appear."""

    @field_validator("forbidden_words")
    @classmethod
    def _valid_patterns(cls, words: tuple[str, ...]) -> tuple[str, ...]:
        for word in words:
            regex_of(rf"\b{word}\b")
        return words

    def describe(self) -> str:
        words = tuple(sorted(set(self.forbidden_words)))
        return f"Do not use the words {_quoted_list(words)} anywhere in your answer."

    def check(self, response: str, context: CheckContext) -> bool:
        lowered = response.lower() if response.isascii() else None
        for word in self.forbidden_words:
            if lowered is not None and ascii_literal(word) and word.lower() not in lowered:
                continue  # cannot occur as a whole word if it does not occur at all
            if compiled(rf"\b{word}\b", re.IGNORECASE).search(response):
                return False
        return True


@register("keywords:letter_frequency")
class LetterFrequency(Instruction):
    letter: Annotated[str, Field(strict=True, pattern=r"^\S$")]
    """One character, counted case-insensitively: an ASCII letter in the reference's data,
    but two public IFEval rows (keys 1122, 1129) ask for "#" and "!", which the prompt asks
    for literally and turnscope counts literally (the reference draws a random letter)."""
    let_frequency: Count
    """How many occurrences the relation compares against."""
    let_relation: Relation
    """Whether the count must stay below `let_frequency` or reach it."""

    def describe(self) -> str:
        what = "letter" if self.letter.isalpha() else "character"
        return (
            f'The {what} "{self.letter.lower()}" must occur {self.let_relation} '
            f"{self.let_frequency} times in your answer."
        )

    def check(self, response: str, context: CheckContext) -> bool:
        count = response.lower().count(self.letter.lower())
        return compare(count, self.let_relation, self.let_frequency)


@register("language:response_language")
class ResponseLanguage(Instruction):
    language: Text
    """The langdetect code the whole answer must be detected as (e.g. "fr", "zh-cn")."""

    def describe(self) -> str:
        name = _LANGUAGE_NAMES.get(self.language, self.language)
        return f"Write your whole answer in {name} and in no other language."

    def check(self, response: str, context: CheckContext) -> bool:
        detected = detect_language(response)
        # Like the reference, a text langdetect cannot judge (digits, symbols) passes.
        return detected is None or detected == self.language
