"""FastChat's MT-Bench judge prompts, as MT-Bench's published scores were made with them.

The prompts are never part of turnscope: they are read at run time from the user's copy of
FastChat's `judge_prompts.jsonl` (fastchat/llm_judge/data/) by the MT-Bench adapter, which
puts the system prompt and template a turn is judged with into its `fastchat` scorer spec
(and, when the file has them, the pairwise prompt two runs' answers at that turn are compared
with), so a run keeps exactly what its judge was asked. The templates are filled as FastChat's
gen_judgment.py fills them: `{question}`/`{answer}` for turn 1, `{question_1}`, `{answer_1}`,
`{question_2}`, `{answer_2}` for turn 2, `{ref_answer_1}` (and `{ref_answer_2}` at turn 2)
where the question has reference answers; the pairwise prompts `{answer_a}`/`{answer_b}` for
turn 1 and `{answer_a_1}` ... `{answer_b_2}` for turn 2, where each run's conversation shows
its own first answer. Texts are put in as FastChat puts them, with one exception: a template's
delimiter lines ("[The End of Assistant's Answer]", "<|The Start of ...|>", "### User:") written
on a line of a filled text are defused, so an answer cannot close its own block and speak as the
prompt."""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from turnscope.core import Message, OutputConstraint, Verdict, Winner, content_text
from turnscope.scorers.judges._base import JudgeInput, JudgeParams, register_judge_kind
from turnscope.scorers.judges._kinds import GradeKind
from turnscope.scorers.judges._text import bracket_verdict, verdict_lines

FASTCHAT_KIND = "fastchat"
JUDGE_PROMPTS_FILE = "judge_prompts.jsonl"
SINGLE_PROMPTS = (
    "single-v1",
    "single-math-v1",
    "single-v1-multi-turn",
    "single-math-v1-multi-turn",
)
"""The prompts FastChat grades MT-Bench answers with: general and reference-guided ("math",
for math, reasoning and coding questions), for turn 1 and for turn 2 (multi-turn)."""
PAIR_PROMPTS = (
    "pair-v2",
    "pair-math-v1",
    "pair-v2-multi-turn",
    "pair-math-v1-multi-turn",
)
"""The prompts FastChat compares two models' MT-Bench answers with, picked as the single ones."""
FASTCHAT_PAIR_KIND = "fastchat-pair"
MAX_PROMPTS_BYTES = 1 << 20
"""judge_prompts.jsonl is a few kilobytes; a larger file is not FastChat's."""
_REFERENCES = {False: {"ref_answer_1"}, True: {"ref_answer_1", "ref_answer_2"}}
_FIELDS = {
    (False, False): {"question", "answer"} | _REFERENCES[False],
    (False, True): {"question_1", "question_2", "answer_1", "answer_2"} | _REFERENCES[True],
    (True, False): {"question", "answer_a", "answer_b"} | _REFERENCES[False],
    (True, True): {"question_1", "question_2", "answer_a_1", "answer_a_2", "answer_b_1"}
    | {"answer_b_2"}
    | _REFERENCES[True],
}
"""The fields FastChat fills, by (pairwise, multi-turn)."""


class FastChatPrompt(BaseModel):
    """One prompt of judge_prompts.jsonl, as the file gives it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    """The prompt's name, e.g. "pair-v2-multi-turn"."""
    system_prompt: str
    """The prompt's system message."""
    prompt_template: str = Field(min_length=1)
    """The prompt's template."""

    @model_validator(mode="after")
    def _known_fields(self) -> FastChatPrompt:
        check_template(self.prompt_template, pairwise=self.name.startswith("pair-"))
        return self


class FastChatParams(JudgeParams):
    """Parameters of the `fastchat` turn scorer spec (written by the MT-Bench adapter)."""

    kind: str = FASTCHAT_KIND
    """Always "fastchat"."""
    template: str = Field(min_length=1)
    """The FastChat prompt's name, e.g. "single-math-v1-multi-turn"."""
    system_prompt: str
    """The prompt's system message, as in the file."""
    prompt_template: str = Field(min_length=1)
    """The prompt's template, as in the file."""
    references: tuple[str, ...] = ()
    """ref_answer_1, ref_answer_2 ...: the question's reference answers the template shows."""
    use_reference: bool = False
    """The template itself decides which references it shows (`references`)."""
    pairwise: FastChatPrompt | None = None
    """FastChat's pairwise prompt for this turn (pair-v2, pair-math-v1 or their multi-turn
    forms), when the file has them: two runs' answers are compared with it; None: with
    turnscope's own pairwise prompt."""

    @field_validator("kind")
    @classmethod
    def _fastchat_kind(cls, kind: str) -> str:
        if kind != FASTCHAT_KIND:
            raise ValueError(f"a fastchat spec is judged by kind 'fastchat', not {kind!r}")
        return kind

    @field_validator("prompt_template")
    @classmethod
    def _known_fields(cls, template: str) -> str:
        check_template(template)
        return template

    def pairwise_kind(self) -> str:
        return FASTCHAT_PAIR_KIND if self.pairwise is not None else super().pairwise_kind()


# What a delimiter line of a template starts with; its defused form inside a filled text.
_DEFUSED = {"[": "(", "<": "&lt;", "#": "\\#"}


def fill(template: str, values: Mapping[str, str]) -> str:
    """`template` filled with `values`, where a line of a value that is one of the template's
    delimiter lines (a line with no field that starts with `[`, `<` or `#`) is defused by a
    changed first character: "[The End of Assistant's Answer]" on a line of an answer is
    written "(The End of Assistant's Answer]", so where the answer ends is never in doubt."""
    fences = {
        line.strip()
        for line in template.splitlines()
        if "{" not in line and line.strip()[:1] in _DEFUSED
    }

    def defuse(line: str) -> str:
        bare = line.strip()
        if bare not in fences:
            return line
        return line.replace(bare, _DEFUSED[bare[0]] + bare[1:], 1)

    defused = {
        name: "".join(defuse(line) for line in value.splitlines(keepends=True))
        for name, value in values.items()
    }
    return template.format(**defused)


def check_template(template: str, *, pairwise: bool = False) -> set[str]:
    """The fields a FastChat template fills; ValueError for a field FastChat never fills or a
    broken brace."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(f"the template is not a format string: {exc}") from None
    multi = any(f.endswith("_2") for f in fields)
    unknown = sorted(fields - _FIELDS[pairwise, multi])
    if unknown:
        raise ValueError(f"the template fills fields FastChat does not give: {', '.join(unknown)}")
    return fields


class FastChatKind:
    """A 1-10 grade asked with one of FastChat's single-answer prompts."""

    name = FASTCHAT_KIND

    def __init__(self, params: JudgeParams) -> None:
        if not isinstance(params, FastChatParams):
            raise ValueError("judge kind 'fastchat' needs a fastchat spec (template and prompts)")
        self.params = params

    def fields(self, inp: JudgeInput) -> dict[str, str]:
        """What the template is filled with, from the judged history and answer."""
        questions = [content_text(m.content) for m in inp.history if m.role == "user"]
        answers = [content_text(m.content) for m in inp.history if m.role == "assistant"]
        answers = [*answers[: len(questions) - 1], inp.answer]
        values = {f"ref_answer_{k}": ref for k, ref in enumerate(self.params.references, 1)}
        values.update({f"question_{k}": q for k, q in enumerate(questions, 1)})
        values.update({f"answer_{k}": a for k, a in enumerate(answers, 1)})
        values.update(question=questions[-1], answer=inp.answer)
        return values

    def messages(self, inp: JudgeInput) -> list[Message]:
        values = self.fields(inp)
        needed = check_template(self.params.prompt_template)
        missing = sorted(needed - set(values))
        if missing:
            raise ValueError(
                f"FastChat prompt {self.params.template!r} needs {', '.join(missing)}, which "
                "this turn does not have"
            )
        prompt = fill(self.params.prompt_template, {k: values[k] for k in needed})
        return [
            Message(role="system", content=self.params.system_prompt),
            Message(role="user", content=prompt),
        ]

    def parse(self, text: str) -> Verdict:
        # FastChat's format is "Rating: [[5]]", which the grade parser reads.
        return GradeKind(self.params).parse(text).model_copy(update={"kind": self.name})

    def constraint(self) -> OutputConstraint:
        return verdict_lines("Rating", tuple(str(n) for n in range(1, 11)))


register_judge_kind(FASTCHAT_KIND, params=FastChatParams)(FastChatKind)

_PAIR_WINNERS: dict[str, Winner] = {"A": "a", "B": "b", "C": "tie"}


class FastChatPairKind:
    """Two answers compared with one of FastChat's pairwise prompts; verdict [[A]], [[B]] or
    [[C]] (a tie). Each run's conversation shows its own earlier answers, as in FastChat."""

    name = FASTCHAT_PAIR_KIND

    def __init__(self, params: JudgeParams) -> None:
        if not isinstance(params, FastChatParams) or params.pairwise is None:
            raise ValueError(
                f"judge kind {FASTCHAT_PAIR_KIND!r} needs a fastchat spec with a pairwise prompt"
            )
        self.params = params
        self.prompt = params.pairwise

    def fields(self, inp: JudgeInput) -> dict[str, str]:
        """What the template is filled with: the questions, each run's answers (its own
        earlier ones, then the compared one) and the references."""
        if inp.answer_b is None:
            raise ValueError("a pairwise judgment needs two answers (answer_b is missing)")
        history_a, history_b = inp.own_histories or (inp.history, inp.history)
        questions = [content_text(m.content) for m in history_a if m.role == "user"]
        values = {f"ref_answer_{k}": ref for k, ref in enumerate(self.params.references, 1)}
        values.update({f"question_{k}": q for k, q in enumerate(questions, 1)})
        for side, history, answer in (("a", history_a, inp.answer), ("b", history_b, inp.answer_b)):
            earlier = [content_text(m.content) for m in history if m.role == "assistant"]
            answers = [*earlier[: len(questions) - 1], answer]
            values.update({f"answer_{side}_{k}": a for k, a in enumerate(answers, 1)})
            values[f"answer_{side}"] = answer
        values["question"] = questions[-1]
        return values

    def messages(self, inp: JudgeInput) -> list[Message]:
        values = self.fields(inp)
        needed = check_template(self.prompt.prompt_template, pairwise=True)
        missing = sorted(needed - set(values))
        if missing:
            raise ValueError(
                f"FastChat prompt {self.prompt.name!r} needs {', '.join(missing)}, which this "
                "turn does not have"
            )
        prompt = fill(self.prompt.prompt_template, {k: values[k] for k in needed})
        return [
            Message(role="system", content=self.prompt.system_prompt),
            Message(role="user", content=prompt),
        ]

    def parse(self, text: str) -> Verdict:
        token = bracket_verdict(
            text,
            label="verdict",
            what="verdict",
            form="[[A]], [[B]] or [[C]] (a tie)",
            key=lambda t: t.upper() if t.upper() in _PAIR_WINNERS else None,
        )
        return Verdict(kind=self.name, winner=_PAIR_WINNERS[token.upper()])

    def constraint(self) -> OutputConstraint:
        return OutputConstraint(choices=tuple(f"[[{t}]]" for t in _PAIR_WINNERS), preamble=True)


register_judge_kind(FASTCHAT_PAIR_KIND, pairwise=True, params=FastChatParams)(FastChatPairKind)


def read_judge_prompts(path: Path) -> dict[str, tuple[str, str]]:
    """FastChat's single-answer and pairwise prompts from judge_prompts.jsonl: name -> (system
    prompt, template). ValueError naming the file and line when a single-answer prompt is
    missing or a prompt is broken; the pairwise prompts are all there or none is."""
    if path.stat().st_size > MAX_PROMPTS_BYTES:
        raise ValueError(f"{path}: larger than {MAX_PROMPTS_BYTES} bytes: not FastChat's file")
    prompts: dict[str, tuple[str, str]] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: not JSON: {exc}") from None
        if not isinstance(row, Mapping) or row.get("name") not in (*SINGLE_PROMPTS, *PAIR_PROMPTS):
            continue
        system, template = row.get("system_prompt"), row.get("prompt_template")
        if not isinstance(system, str) or not isinstance(template, str):
            raise ValueError(f"{path}:{number}: no system_prompt or prompt_template text")
        try:
            check_template(template, pairwise=row["name"] in PAIR_PROMPTS)
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: {row['name']}: {exc}") from None
        prompts[row["name"]] = (system, template)
    missing = [name for name in SINGLE_PROMPTS if name not in prompts]
    pairs_missing = [name for name in PAIR_PROMPTS if name not in prompts]
    if len(pairs_missing) < len(PAIR_PROMPTS):
        missing += pairs_missing
    if missing:
        raise ValueError(f"{path}: no {', '.join(missing)} prompt: not FastChat's judge prompts")
    return prompts
