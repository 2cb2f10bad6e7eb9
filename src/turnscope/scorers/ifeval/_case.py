"""change_case:* and punctuation:* — capital letters and commas."""

from __future__ import annotations

from turnscope.scorers.ifeval._base import (
    CheckContext,
    Count,
    Instruction,
    Relation,
    compare,
    register,
)
from turnscope.scorers.ifeval._text import count_capital_words, detect_language


def _english_or_unknown(response: str) -> bool:
    # Like the reference, a text langdetect cannot judge passes.
    detected = detect_language(response)
    return detected is None or detected == "en"


@register("change_case:capital_word_frequency")
class CapitalWordFrequency(Instruction):
    capital_frequency: Count
    """How many all-capital words the relation compares against."""
    capital_relation: Relation
    """Whether the count must stay below `capital_frequency` or reach it."""

    def describe(self) -> str:
        return (
            f"Use {self.capital_relation} {self.capital_frequency} words written entirely in "
            "capital letters."
        )

    def check(self, response: str, context: CheckContext) -> bool:
        count = count_capital_words(response)
        return compare(count, self.capital_relation, self.capital_frequency)


@register("change_case:english_capital")
class EnglishCapital(Instruction):
    def describe(self) -> str:
        return "Write your whole answer in English, using capital letters only."

    def check(self, response: str, context: CheckContext) -> bool:
        return response.isupper() and _english_or_unknown(response)


@register("change_case:english_lowercase")
class EnglishLowercase(Instruction):
    def describe(self) -> str:
        return "Write your whole answer in English, using lowercase letters only, no capitals."

    def check(self, response: str, context: CheckContext) -> bool:
        return response.islower() and _english_or_unknown(response)


@register("punctuation:no_comma")
class NoComma(Instruction):
    def describe(self) -> str:
        return "Do not use any commas in your answer."

    def check(self, response: str, context: CheckContext) -> bool:
        return "," not in response
