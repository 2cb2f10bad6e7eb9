"""combination:* and startend:* — two answers, a repeated request, how the answer ends."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import Field

from turnscope.scorers.ifeval._base import CheckContext, Instruction, Text, register

_SEPARATOR: Final = "******"


@register("combination:two_responses")
class TwoResponses(Instruction):
    def describe(self) -> str:
        return (
            "Give two different answers, separated by a line of six asterisks (******) "
            "and nothing else between them."
        )

    def check(self, response: str, context: CheckContext) -> bool:
        parts = response.split(_SEPARATOR)
        last = len(parts) - 1
        answers = []
        for index, part in enumerate(parts):
            if part.strip():
                answers.append(part.strip())
            elif 0 < index < last:
                return False
        return len(answers) == 2 and answers[0] != answers[1]


@register("combination:repeat_prompt")
class RepeatPrompt(Instruction):
    prompt_to_repeat: Annotated[str, Field(strict=True, min_length=1)]
    """The request the answer must begin with, word for word (case-insensitive)."""

    def describe(self) -> str:
        return (
            "Begin by repeating the request below word for word, with nothing before it, "
            "then answer it (do not repeat this sentence):\n" + self.prompt_to_repeat
        )

    def check(self, response: str, context: CheckContext) -> bool:
        expected = self.prompt_to_repeat.strip().lower()
        return response.strip().lower().startswith(expected)


@register("startend:end_checker")
class EndPhrase(Instruction):
    end_phrase: Text
    """The phrase the answer must end with (case-insensitive; a closing quote is ignored)."""

    def describe(self) -> str:
        return (
            f'End your answer with the exact phrase "{self.end_phrase.strip()}", with nothing '
            "after it."
        )

    def check(self, response: str, context: CheckContext) -> bool:
        ending = response.strip().strip('"').lower()
        return ending.endswith(self.end_phrase.strip().lower())


@register("startend:quotation")
class Quotation(Instruction):
    def describe(self) -> str:
        return "Put your whole answer inside double quotation marks."

    def check(self, response: str, context: CheckContext) -> bool:
        text = response.strip()
        return len(text) > 1 and text[0] == '"' and text[-1] == '"'
