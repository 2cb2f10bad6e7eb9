"""The built-in judge kinds: grade, pairwise, checklist and rubric."""

from __future__ import annotations

import re
from typing import Literal

from turnscope.core import Message, OutputConstraint, Verdict
from turnscope.scorers.judges._base import (
    JudgeInput,
    JudgeParams,
    VerdictParseError,
    register_judge_kind,
)
from turnscope.scorers.judges._text import (
    JUDGE_SYSTEM,
    block,
    bracket_verdict,
    context_sections,
    judged_turn,
    render_history,
    verdict_lines,
    verdict_text,
)


def _prompt(inp: JudgeInput, params: JudgeParams, answers: list[str], task: str) -> list[Message]:
    turn = judged_turn(inp.history)
    sections = [
        "Here is the conversation up to the user message being answered (user turn "
        f"{turn}).\n" + render_history(inp.history),
        *answers,
        *context_sections(inp, use_reference=params.use_reference, guidance=params.guidance),
        task,
    ]
    return [
        Message(role="system", content=JUDGE_SYSTEM),
        Message(role="user", content="\n\n".join(sections)),
    ]


_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:\s*/\s*10)?")
GRADE_FORM = "'Rating: [[N]]' (N a whole number from 1 to 10)"


def _grade_key(token: str) -> str | None:
    if _NUMBER.fullmatch(token) is None:
        return None
    return str(float(token.split("/")[0]))


class GradeKind:
    """One answer graded from 1 to 10, optionally against a reference answer."""

    name = "grade"

    def __init__(self, params: JudgeParams) -> None:
        self.params = params

    def messages(self, inp: JudgeInput) -> list[Message]:
        turn = judged_turn(inp.history)
        answer = f"The assistant's reply to user turn {turn}, which you judge:\n" + block(
            "judged_answer", inp.answer
        )
        task = (
            "Judge how well the reply answers user turn "
            f"{turn}: is it correct, helpful, relevant and complete, and does it follow every "
            "instruction still in force from the conversation? Explain your judgement briefly, "
            "then end with a line in exactly this form, where N is a whole number from 1 "
            "(useless or wrong) to 10 (excellent):\nRating: [[N]]"
        )
        return _prompt(inp, self.params, [answer], task)

    def parse(self, text: str) -> Verdict:
        token = bracket_verdict(
            text, label="rating", what="rating", form=GRADE_FORM, key=_grade_key
        )
        number = float(token.split("/")[0])
        if not number.is_integer():
            raise VerdictParseError(f"rating [[{token}]] is not a whole number", raw=text)
        if not 1 <= number <= 10:
            raise VerdictParseError(f"rating [[{token}]] is outside 1 to 10", raw=text)
        grade = int(number)
        return Verdict(kind=self.name, grade=grade, value=grade / 10)

    def constraint(self) -> OutputConstraint:
        return verdict_lines("Rating", tuple(str(n) for n in range(1, 11)))


_WINNERS: dict[str, Literal["a", "b", "tie"]] = {"A": "a", "B": "b", "TIE": "tie"}


def _winner_key(token: str) -> str | None:
    return _WINNERS.get(token.upper())


class PairwiseKind:
    """Two answers to the same turn compared: A better, B better, or a tie. The caller asks
    in both orders and resolves the swap with `resolve_swap`."""

    name = "pairwise"

    def __init__(self, params: JudgeParams) -> None:
        self.params = params

    def messages(self, inp: JudgeInput) -> list[Message]:
        if inp.answer_b is None:
            raise ValueError("a pairwise judgment needs two answers (answer_b is missing)")
        turn = judged_turn(inp.history)
        answers = (
            f"Two candidate replies to user turn {turn} follow, answer A and answer B.\n"
            + block("answer_a", inp.answer)
            + "\n"
            + block("answer_b", inp.answer_b)
        )
        task = (
            f"Decide which reply better answers user turn {turn}, taking into account "
            "correctness, helpfulness, relevance, completeness and every instruction still in "
            "force from the conversation. The order in which the replies are shown must not "
            "influence you. Explain your judgement briefly, then end with a line in exactly "
            "this form, where X is A if answer A is better, B if answer B is better, or TIE if "
            "they are equally good:\nVerdict: [[X]]"
        )
        return _prompt(inp, self.params, [answers], task)

    def parse(self, text: str) -> Verdict:
        token = bracket_verdict(
            text,
            label="verdict",
            what="verdict",
            form="'Verdict: [[A]]', 'Verdict: [[B]]' or 'Verdict: [[TIE]]'",
            key=_winner_key,
        )
        return Verdict(kind=self.name, winner=_WINNERS[token.upper()])

    def constraint(self) -> OutputConstraint:
        return verdict_lines("Verdict", tuple(_WINNERS))


# One checklist answer per line: "3. yes", "3) No", "- 3: YES." (after markdown is removed).
_ANSWER_LINE = re.compile(r"(?:[-+•]\s*)?(\d{1,3})\s*[.):]\s*(yes|no)\s*[.!]?", re.IGNORECASE)


def _answer_lists(text: str) -> list[list[tuple[int, bool]]]:
    """The numbered yes/no lines of the text, split into lists where the numbering restarts."""
    lists: list[list[tuple[int, bool]]] = []
    for line in verdict_text(text).splitlines():
        match = _ANSWER_LINE.fullmatch(line.strip())
        if match is None:
            continue
        number, answer = int(match.group(1)), match.group(2).lower() == "yes"
        if number == 1 or not lists:
            lists.append([])
        lists[-1].append((number, answer))
    return lists


class ChecklistKind:
    """Each checklist item answered yes or no; the value is the share of yes."""

    name = "checklist"

    def __init__(self, params: JudgeParams) -> None:
        if not params.items:
            raise ValueError("judge kind 'checklist' needs `items`: yes/no questions to check")
        self.params = params
        self.items = params.items

    def messages(self, inp: JudgeInput) -> list[Message]:
        turn = judged_turn(inp.history)
        answer = f"The assistant's reply to user turn {turn}, which you check:\n" + block(
            "judged_answer", inp.answer
        )
        questions = "\n".join(f"{n}. {item.strip()}" for n, item in enumerate(self.items, 1))
        count = len(self.items)
        task = (
            f"Answer each of these {count} questions about the reply with yes or no:\n"
            f"{questions}\n\nYou may first explain briefly. Then end with exactly {count} "
            f"lines, numbered 1 to {count} in order, each of the form '<number>. yes' or "
            "'<number>. no', with nothing else on those lines."
        )
        return _prompt(inp, self.params, [answer], task)

    def parse(self, text: str) -> Verdict:
        if not text.strip():
            raise VerdictParseError(
                "the judge's text is empty (expected numbered yes/no lines)", raw=text
            )
        lists = _answer_lists(text)
        if not lists:
            raise VerdictParseError(
                "no checklist answers of the form '1. yes' / '1. no' found", raw=text
            )
        # The format puts the answers last: an earlier list (a quoted answer that lists its
        # own "1. yes", a draft the judge revised) is not the verdict.
        answers = lists[-1]
        numbers = [n for n, _ in answers]
        if numbers != list(range(1, len(numbers) + 1)):
            shown = ", ".join(map(str, numbers))
            raise VerdictParseError(
                f"checklist answers are numbered {shown}, not 1 to {len(numbers)} in order",
                raw=text,
            )
        values = tuple(a for _, a in answers)
        if len(values) != len(self.items):
            raise VerdictParseError(
                f"{len(values)} checklist answers for {len(self.items)} items", raw=text
            )
        return Verdict(kind=self.name, items=values, value=sum(values) / len(values))

    def constraint(self) -> OutputConstraint:
        # `[.]`, not `\.`: llama-cpp-python's regex-to-grammar converter keeps the backslash.
        lines = "\n".join(f"{n}[.] (yes|no)" for n in range(1, len(self.items) + 1))
        return OutputConstraint(regex=lines, preamble=True)


def _yes_no_key(token: str) -> str | None:
    upper = token.upper()
    return upper if upper in ("YES", "NO") else None


class RubricKind:
    """A boolean rubric: does the answer satisfy one yes/no question? Value 1 or 0."""

    name = "rubric"

    def __init__(self, params: JudgeParams) -> None:
        if params.rubric is None or not params.rubric.strip():
            raise ValueError("judge kind 'rubric' needs `rubric`: the yes/no question to answer")
        self.params = params
        self.rubric = params.rubric.strip()

    def messages(self, inp: JudgeInput) -> list[Message]:
        turn = judged_turn(inp.history)
        answer = f"The assistant's reply to user turn {turn}, which you check:\n" + block(
            "judged_answer", inp.answer
        )
        task = (
            "Answer this question about the reply:\n"
            + block("rubric", self.rubric)
            + "\nExplain your judgement briefly, then end with a line in exactly this form, "
            "where X is YES or NO:\nVerdict: [[X]]"
        )
        return _prompt(inp, self.params, [answer], task)

    def parse(self, text: str) -> Verdict:
        token = bracket_verdict(
            text,
            label="verdict",
            what="verdict",
            form="'Verdict: [[YES]]' or 'Verdict: [[NO]]'",
            key=_yes_no_key,
        )
        passed = token.upper() == "YES"
        return Verdict(kind=self.name, value=1.0 if passed else 0.0)

    def constraint(self) -> OutputConstraint:
        return verdict_lines("Verdict", ("YES", "NO"))


register_judge_kind("grade")(GradeKind)
register_judge_kind("pairwise", pairwise=True)(PairwiseKind)
register_judge_kind("checklist")(ChecklistKind)
register_judge_kind("rubric")(RubricKind)
